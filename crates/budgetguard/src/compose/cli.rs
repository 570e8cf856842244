//! Running Docker Compose: `docker compose` (v2) when the plugin is there,
//! else `docker-compose` (v1 or a standalone v2).

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

/// Why Compose could not be found or did not do its job.
#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    /// Neither `docker compose` nor `docker-compose` runs.
    #[error("Docker Compose is not installed: install the Compose plugin (`docker compose`, package docker-compose-plugin) or `docker-compose`")]
    Missing,
    /// A Compose command did not end in time (the engine hangs); it was
    /// stopped.
    #[error("`{command}` did not end within {} s, so it was stopped: the Docker engine is not answering; restart it and run this again", .limit.as_secs())]
    TimedOut {
        /// The command line.
        command: String,
        /// How long it was given.
        limit: Duration,
    },
    /// A Compose command failed.
    #[error("`{command}` failed: {detail}")]
    Failed {
        /// The command line.
        command: String,
        /// The last lines Compose printed.
        detail: String,
    },
}

/// How long one Compose command may take unless `BUDGETGUARD_COMPOSE_TIMEOUT`
/// says: creating, starting or stopping containers of images already loaded
/// takes seconds; a stop waits for each container at most 10 s.
const COMMAND_LIMIT: Duration = Duration::from_secs(600);

/// The limit of one Compose command: `BUDGETGUARD_COMPOSE_TIMEOUT` seconds,
/// else [`COMMAND_LIMIT`].
fn command_limit() -> Duration {
    crate::seconds_from_env("BUDGETGUARD_COMPOSE_TIMEOUT", COMMAND_LIMIT)
}

/// How long `compose version` may take while Compose is looked for.
const VERSION_LIMIT: Duration = Duration::from_secs(30);

/// A Compose command line aimed at one engine.
#[derive(Debug, Clone)]
pub struct Compose {
    program: Vec<String>,
    docker_host: String,
    /// How long one command may take.
    limit: Duration,
}

/// Compose being looked for in the background while a run does other
/// work (`compose version` takes a tenth of a second, `docker-compose` v1
/// far longer); stopped when dropped unused.
#[derive(Debug)]
pub struct Detecting(tokio::task::JoinHandle<Result<Compose, ComposeError>>);

impl Detecting {
    /// Starts looking for Compose for the engine at `docker_host`, as
    /// [`Compose::detect`] does.
    pub fn start(docker_host: &str) -> Self {
        let docker_host = docker_host.to_owned();
        Self(tokio::spawn(
            async move { Compose::detect(&docker_host).await },
        ))
    }

    /// What the search found.
    pub async fn wait(mut self) -> Result<Compose, ComposeError> {
        (&mut self.0).await.unwrap_or(Err(ComposeError::Missing))
    }
}

impl Drop for Detecting {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Compose {
    /// Finds Compose for the engine at `docker_host`: the command in
    /// `BUDGETGUARD_COMPOSE` when set (e.g. `docker-compose`), else the v2
    /// plugin, else `docker-compose`.
    pub async fn detect(docker_host: &str) -> Result<Self, ComposeError> {
        let chosen = std::env::var("BUDGETGUARD_COMPOSE")
            .ok()
            .filter(|c| !c.trim().is_empty());
        let candidates: Vec<Vec<String>> = match &chosen {
            Some(command) => vec![command.split_whitespace().map(str::to_owned).collect()],
            None => vec![
                vec!["docker".into(), "compose".into()],
                vec!["docker-compose".into()],
            ],
        };
        for program in candidates {
            let output = Command::new(&program[0])
                .args(&program[1..])
                .args(["version", "--short"])
                .env("DOCKER_HOST", docker_host)
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .output();
            if let Ok(Ok(output)) = tokio::time::timeout(VERSION_LIMIT, output).await {
                if output.status.success() {
                    return Ok(Self {
                        program,
                        docker_host: docker_host.to_owned(),
                        limit: command_limit(),
                    });
                }
            }
        }
        Err(ComposeError::Missing)
    }

    /// Runs `compose -p project -f file args…` and returns its standard output.
    pub async fn run(
        &self,
        project: &str,
        file: &Path,
        args: &[&str],
    ) -> Result<String, ComposeError> {
        let mut command = Command::new(&self.program[0]);
        command
            .args(&self.program[1..])
            .args(["-p", project, "-f"])
            .arg(file)
            .args(args)
            .env("DOCKER_HOST", &self.docker_host)
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let line = format!(
            "{} -p {project} -f {} {}",
            self.program.join(" "),
            file.display(),
            args.join(" ")
        );
        let output = tokio::time::timeout(self.limit, command.output())
            .await
            .map_err(|_| ComposeError::TimedOut {
                command: line.clone(),
                limit: self.limit,
            })?
            .map_err(|e| ComposeError::Failed {
                command: line.clone(),
                detail: e.to_string(),
            })?;
        if output.status.success() {
            return Ok(String::from_utf8_lossy(&output.stdout).into_owned());
        }
        let stderr = String::from_utf8_lossy(&output.stderr);
        let detail: Vec<&str> = stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        Err(ComposeError::Failed {
            command: line,
            detail: detail[detail.len().saturating_sub(2)..].join(" / "),
        })
    }

    /// Creates the containers (`up --no-start`), or creates and starts them
    /// (`up -d`).
    pub async fn up(&self, project: &str, file: &Path, start: bool) -> Result<(), ComposeError> {
        let args: &[&str] = if start {
            &["up", "-d"]
        } else {
            &["up", "--no-start"]
        };
        self.run(project, file, args).await.map(drop)
    }

    /// Makes the containers anew even if their configuration is the same
    /// (a model cache switched below them), created or also started.
    pub async fn recreate(
        &self,
        project: &str,
        file: &Path,
        start: bool,
    ) -> Result<(), ComposeError> {
        let args: &[&str] = if start {
            &["up", "-d", "--force-recreate"]
        } else {
            &["up", "--no-start", "--force-recreate"]
        };
        self.run(project, file, args).await.map(drop)
    }

    /// Stops the containers, keeping them.
    pub async fn stop(&self, project: &str, file: &Path) -> Result<(), ComposeError> {
        self.run(project, file, &["stop"]).await.map(drop)
    }

    /// Removes the containers and network (volumes stay).
    pub async fn down(&self, project: &str, file: &Path) -> Result<(), ComposeError> {
        self.run(project, file, &["down", "--remove-orphans"])
            .await
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_compose_command_that_hangs_is_stopped_at_its_limit() {
        let compose = Compose {
            program: vec!["sh".into(), "-c".into(), "sleep 30".into(), "sh".into()],
            docker_host: "unix:///nonexistent.sock".into(),
            limit: Duration::from_millis(300),
        };
        let started = std::time::Instant::now();
        let error = compose
            .run("p", Path::new("compose.yml"), &["up", "-d"])
            .await
            .unwrap_err();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert!(matches!(error, ComposeError::TimedOut { .. }), "{error}");
        assert!(error.to_string().contains("did not end within"), "{error}");
    }
}
