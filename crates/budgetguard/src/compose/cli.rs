//! Running Docker Compose: the v2 plugin when it is there, else
//! `docker-compose` (v1 or a standalone v2).
//!
//! The plugin is run as the standalone program it also is, from the folder
//! the Docker CLI would take it from: `docker compose` would first start
//! the CLI and ask the plugin for its metadata in a process of its own,
//! three processes for one command (about 40 ms of an upgrade's
//! Compose call here).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
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

/// The system's folders the Docker CLI takes plugins from, in its order,
/// after the configuration folder's `cli-plugins` and the configuration's
/// `cliPluginsExtraDirs`.
const SYSTEM_PLUGIN_DIRS: [&str; 4] = [
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
];

/// The Compose plugin the Docker CLI would run for `docker compose`: the
/// first executable `docker-compose` in its plugin folders.
fn compose_plugin() -> Option<PathBuf> {
    compose_plugin_in(budgetguard_registry::docker_config_dir())
}

/// [`compose_plugin`] for the CLI configuration folder `config`.
fn compose_plugin_in(config: Option<PathBuf>) -> Option<PathBuf> {
    let extra: Vec<PathBuf> = config
        .as_ref()
        .and_then(|dir| std::fs::read(dir.join("config.json")).ok())
        .and_then(|text| serde_json::from_slice::<PluginConfig>(&text).ok())
        .map(|c| c.cli_plugins_extra_dirs)
        .unwrap_or_default();
    config
        .map(|dir| dir.join("cli-plugins"))
        .into_iter()
        .chain(extra)
        .chain(SYSTEM_PLUGIN_DIRS.iter().map(PathBuf::from))
        .map(|dir| dir.join("docker-compose"))
        .find(|path| {
            std::fs::metadata(path)
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// What the Docker CLI's `config.json` says about plugin folders.
#[derive(serde::Deserialize)]
struct PluginConfig {
    #[serde(rename = "cliPluginsExtraDirs", default)]
    cli_plugins_extra_dirs: Vec<PathBuf>,
}

/// The file in the user's cache folder that records the Compose plugin
/// that last answered `compose version`.
const ANSWERED_RECORD: &str = "compose-plugin.json";

/// A Compose plugin file as it was when it answered `compose version`: a
/// later run that finds the same file (same device, inode, size and change
/// time, which a rewrite, copy or replacement changes) takes it without
/// asking again. Asking starts a process, about 15 ms before a run's
/// first change.
#[derive(Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
struct Answered {
    path: PathBuf,
    device: u64,
    inode: u64,
    size: u64,
    changed_s: i64,
    changed_ns: i64,
}

impl Answered {
    /// The plugin file at `path` as it is now.
    fn of(path: &Path) -> Option<Self> {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(path).ok()?;
        Some(Self {
            path: path.to_owned(),
            device: m.dev(),
            inode: m.ino(),
            size: m.size(),
            changed_s: m.ctime(),
            changed_ns: m.ctime_nsec(),
        })
    }

    /// The record at `record`, if there is a readable one.
    fn read(record: &Path) -> Option<Self> {
        let text = crate::files::read_small(record, 4096).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Keeps this as the record at `record` (whole or not at all: written
    /// beside it, then renamed). A record that cannot be written only
    /// means Compose is asked again next time.
    fn write(&self, record: &Path) {
        let Some(dir) = record.parent() else { return };
        let partial = record.with_extension(format!("{}.partial", std::process::id()));
        let written = std::fs::create_dir_all(dir)
            .and_then(|()| std::fs::write(&partial, serde_json::to_vec(self).unwrap_or_default()))
            .and_then(|()| std::fs::rename(&partial, record));
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
    }
}

/// A Compose command line aimed at one engine.
#[derive(Debug, Clone)]
pub struct Compose {
    program: Vec<String>,
    /// How the program is named in messages (`docker compose` for the
    /// plugin run directly).
    shown: String,
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
        let plugin = chosen.is_none().then(compose_plugin).flatten();
        let record = crate::paths::cache_dir().map(|dir| dir.join(ANSWERED_RECORD));
        Self::detect_from(docker_host, chosen, plugin, record.as_deref()).await
    }

    /// [`Compose::detect`] of the command `chosen`, else the plugin file
    /// `plugin`, else `docker compose` and `docker-compose` on the `PATH`.
    /// A plugin file that answered before, as `record` says, is taken
    /// without asking it again.
    async fn detect_from(
        docker_host: &str,
        chosen: Option<String>,
        plugin: Option<PathBuf>,
        record: Option<&Path>,
    ) -> Result<Self, ComposeError> {
        let aimed = |program: Vec<String>, shown: &str| Self {
            program,
            shown: shown.to_owned(),
            docker_host: docker_host.to_owned(),
            limit: command_limit(),
        };
        if let Some(plugin) = &plugin {
            let answered = Answered::of(plugin);
            let compose = aimed(vec![plugin.display().to_string()], "docker compose");
            if answered.is_some() && record.and_then(Answered::read) == answered {
                return Ok(compose);
            }
            if compose.answers().await {
                if let (Some(record), Some(answered)) = (record, answered) {
                    answered.write(record);
                }
                return Ok(compose);
            }
        }
        let candidates: Vec<(Vec<String>, String)> = match &chosen {
            Some(command) => vec![(
                command.split_whitespace().map(str::to_owned).collect(),
                command.trim().to_owned(),
            )],
            None => vec![
                (
                    vec!["docker".into(), "compose".into()],
                    "docker compose".into(),
                ),
                (vec!["docker-compose".into()], "docker-compose".into()),
            ],
        };
        for (program, shown) in candidates {
            let compose = aimed(program, &shown);
            if compose.answers().await {
                return Ok(compose);
            }
        }
        Err(ComposeError::Missing)
    }

    /// Whether `compose version` runs and succeeds.
    async fn answers(&self) -> bool {
        let output = self.command().args(["version", "--short"]).output();
        matches!(
            tokio::time::timeout(VERSION_LIMIT, output).await,
            Ok(Ok(output)) if output.status.success()
        )
    }

    /// The program aimed at the engine, without arguments yet. (A plugin
    /// run directly is standalone only when the CLI's re-exec variable is
    /// unset.)
    fn command(&self) -> Command {
        let mut command = Command::new(&self.program[0]);
        command
            .args(&self.program[1..])
            .env("DOCKER_HOST", &self.docker_host)
            .env_remove("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        command
    }

    /// Runs `compose -p project -f file args…` and returns its standard output.
    pub async fn run(
        &self,
        project: &str,
        file: &Path,
        args: &[&str],
    ) -> Result<String, ComposeError> {
        let mut command = self.command();
        command.args(["-p", project, "-f"]).arg(file).args(args);
        let line = format!(
            "{} -p {project} -f {} {}",
            self.shown,
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

    /// Writes a file `docker-compose` into `dir` with `mode`.
    fn plugin(dir: &Path, mode: u32) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let path = dir.join("docker-compose");
        std::fs::write(&path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
        path
    }

    #[test]
    fn the_plugin_is_taken_from_the_folders_the_docker_cli_searches_in_its_order() {
        let home = tempfile::tempdir().unwrap();
        let config = home.path().join("docker");
        let extra = home.path().join("extra");
        std::fs::create_dir_all(&config).unwrap();
        std::fs::write(
            config.join("config.json"),
            format!(r#"{{"cliPluginsExtraDirs": ["{}"]}}"#, extra.display()),
        )
        .unwrap();
        let in_extra = plugin(&extra, 0o755);
        // Not executable: the CLI would not run it either.
        plugin(&config.join("cli-plugins"), 0o644);
        assert_eq!(compose_plugin_in(Some(config.clone())), Some(in_extra));
        let in_config = plugin(&config.join("cli-plugins"), 0o755);
        assert_eq!(compose_plugin_in(Some(config)), Some(in_config));
    }

    #[tokio::test]
    async fn a_plugin_that_answered_is_not_asked_again_while_its_file_is_unchanged() {
        let dir = tempfile::tempdir().unwrap();
        let asked = dir.path().join("asked");
        let plugin = dir.path().join("docker-compose");
        let script = format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\necho 2.29.0\n",
            asked.display()
        );
        std::fs::write(&plugin, &script).unwrap();
        std::fs::set_permissions(&plugin, std::fs::Permissions::from_mode(0o755)).unwrap();
        let record = dir.path().join("cache").join(ANSWERED_RECORD);
        let times = || {
            std::fs::read_to_string(&asked)
                .unwrap_or_default()
                .lines()
                .count()
        };
        let detect =
            || Compose::detect_from("unix:///x.sock", None, Some(plugin.clone()), Some(&record));
        let found = detect().await.unwrap();
        assert_eq!(found.program, [plugin.display().to_string()]);
        assert_eq!(found.shown, "docker compose");
        assert_eq!(times(), 1, "asked once");
        detect().await.unwrap();
        assert_eq!(times(), 1, "the unchanged plugin is not asked again");
        // Rewritten in place (same size, same inode): asked again. (Change
        // times tick with the kernel's clock, a few milliseconds.)
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&plugin, script.replace("2.29.0", "2.30.0")).unwrap();
        detect().await.unwrap();
        assert_eq!(times(), 2, "a changed plugin is asked again");
        detect().await.unwrap();
        assert_eq!(times(), 2);
        // A plugin that fails is not taken, whatever the record says.
        std::thread::sleep(Duration::from_millis(50));
        std::fs::write(&plugin, "#!/bin/sh\nexit 1\n").unwrap();
        let fallback = detect().await;
        assert!(
            fallback
                .as_ref()
                .map_or(true, |c| c.program[0] != plugin.display().to_string()),
            "{fallback:?}"
        );
        assert!(!record
            .with_extension(format!("{}.partial", std::process::id()))
            .exists());
    }

    #[tokio::test]
    async fn a_compose_command_that_hangs_is_stopped_at_its_limit() {
        let compose = Compose {
            program: vec!["sh".into(), "-c".into(), "sleep 30".into(), "sh".into()],
            shown: "sh".into(),
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
