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

use tokio::io::AsyncWriteExt;
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
        let aimed = |mut program: Vec<String>, shown: &str| Self {
            program: {
                // Compose runs in a node's folder (see `prepare_up`): a
                // program named by a relative path is the one from here.
                if let Some(first) = program.first_mut() {
                    *first = absolute(first);
                }
                program
            },
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
        outcome(line, self.limit, command.output()).await
    }

    /// Starts `compose up` for the project whose Compose file is `file`,
    /// reading the file's content from its standard input: the process
    /// starts now and waits for [`PreparedUp::run`] to hand it the file.
    /// `file`'s folder must exist.
    pub fn prepare_up(
        &self,
        project: &str,
        file: &Path,
        up: Up,
    ) -> Result<PreparedUp, ComposeError> {
        let folder = file.parent().unwrap_or(Path::new("."));
        let mut command = self.command();
        // Compose v1 names the project's folder by its working directory
        // when the file comes on standard input.
        command
            .current_dir(folder)
            .args(["-p", project, "--project-directory"])
            .arg(folder)
            .args(["-f", "-"])
            .args(up.args())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // The command as a user would run it: the file holds what is handed over.
        let line = format!(
            "{} -p {project} -f {} {}",
            self.shown,
            file.display(),
            up.args().join(" ")
        );
        match command.spawn() {
            Ok(child) => Ok(PreparedUp {
                child,
                project: project.to_owned(),
                up,
                line,
                limit: self.limit,
            }),
            Err(e) => Err(ComposeError::Failed {
                command: line,
                detail: e.to_string(),
            }),
        }
    }

    /// Creates the project's containers, or creates and starts them, as
    /// `up` says, with the Compose file `yaml` (the content of `file`).
    pub async fn up(
        &self,
        project: &str,
        file: &Path,
        yaml: &[u8],
        up: Up,
    ) -> Result<(), ComposeError> {
        self.prepare_up(project, file, up)?.run(yaml).await
    }

    /// Starts the containers of the project configured by `file` (`up -d`),
    /// creating them if they are not there.
    pub async fn start(&self, project: &str, file: &Path) -> Result<(), ComposeError> {
        self.run(project, file, &["up", "-d"]).await.map(drop)
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

/// How `compose up` brings a project's containers up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Up {
    /// Made anew even if their configuration is the same (an image or
    /// model cache changed below them).
    pub recreate: bool,
    /// Started, not only created.
    pub start: bool,
}

impl Up {
    fn args(self) -> &'static [&'static str] {
        match (self.start, self.recreate) {
            (true, true) => &["up", "-d", "--force-recreate"],
            (true, false) => &["up", "-d"],
            (false, true) => &["up", "--no-start", "--force-recreate"],
            (false, false) => &["up", "--no-start"],
        }
    }
}

/// A `compose up` started ahead of its Compose file (see
/// [`Compose::prepare_up`]): Compose's own start-up, about 40 ms of an
/// upgrade here, passes while the run still loads. Until it is handed the
/// file it has done nothing; dropped unused, it is killed.
#[derive(Debug)]
pub struct PreparedUp {
    child: tokio::process::Child,
    project: String,
    up: Up,
    line: String,
    limit: Duration,
}

impl PreparedUp {
    /// Whether this is the `up` of `project` as `up` says.
    pub fn is_for(&self, project: &str, up: Up) -> bool {
        self.project == project && self.up == up
    }

    /// Hands Compose the file `yaml` and waits for it to finish, both
    /// within the command's limit.
    pub async fn run(self, yaml: &[u8]) -> Result<(), ComposeError> {
        let mut child = self.child;
        let stdin = child.stdin.take();
        let finished = async move {
            if let Some(mut stdin) = stdin {
                // A Compose that ended already says why in its output.
                let _ = stdin.write_all(yaml).await;
            }
            child.wait_with_output().await
        };
        outcome(self.line, self.limit, finished).await.map(drop)
    }
}

/// `program` as a path from the root when it is a relative path (a bare
/// name is looked for on the `PATH`).
fn absolute(program: &str) -> String {
    match program.contains('/') {
        true => std::path::absolute(program)
            .map_or_else(|_| program.to_owned(), |p| p.display().to_string()),
        false => program.to_owned(),
    }
}

/// A Compose command's standard output, or its failure (the last lines
/// it printed) or its stop at `limit`, for the command line `line`.
async fn outcome(
    line: String,
    limit: Duration,
    output: impl std::future::Future<Output = std::io::Result<std::process::Output>>,
) -> Result<String, ComposeError> {
    let output = tokio::time::timeout(limit, output)
        .await
        .map_err(|_| ComposeError::TimedOut {
            command: line.clone(),
            limit,
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

    /// Writes the executable `text` at `path` (in place if it exists) from
    /// a process of its own: a file this process held open for writing
    /// could be busy for `exec` when another test forks meanwhile.
    fn write_script(path: &Path, text: &str) {
        use std::io::Write;
        let mut writer = std::process::Command::new("sh")
            .args(["-c", "cat > \"$1\" && chmod 755 \"$1\"", "sh"])
            .arg(path)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        writer
            .stdin
            .take()
            .unwrap()
            .write_all(text.as_bytes())
            .unwrap();
        assert!(writer.wait().unwrap().success());
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
        write_script(&plugin, &script);
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
        write_script(&plugin, &script.replace("2.29.0", "2.30.0"));
        detect().await.unwrap();
        assert_eq!(times(), 2, "a changed plugin is asked again");
        detect().await.unwrap();
        assert_eq!(times(), 2);
        // A plugin that fails is not taken, whatever the record says.
        std::thread::sleep(Duration::from_millis(50));
        write_script(&plugin, "#!/bin/sh\nexit 1\n");
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
    async fn a_prepared_up_reads_its_file_from_its_input_in_the_node_folder_and_dropped_does_nothing(
    ) {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("node");
        std::fs::create_dir(&folder).unwrap();
        let (seen, args) = (dir.path().join("seen"), dir.path().join("args"));
        // Records where it runs and how, then what comes on its input.
        let script = format!(
            "echo \"$(pwd) $*\" > '{}'; cat > '{}.part' && mv '{}.part' '{}'",
            args.display(),
            seen.display(),
            seen.display(),
            seen.display()
        );
        let compose = Compose {
            program: vec!["sh".into(), "-c".into(), script, "sh".into()],
            shown: "docker compose".into(),
            docker_host: "unix:///nonexistent.sock".into(),
            limit: Duration::from_secs(30),
        };
        let file = folder.join("docker-compose.yml");
        let up = Up {
            recreate: true,
            start: false,
        };
        let unused = compose.prepare_up("p", &file, up).unwrap();
        assert!(unused.is_for("p", up));
        assert!(!unused.is_for("p", Up { start: true, ..up }));
        tokio::time::sleep(Duration::from_millis(200)).await;
        drop(unused);
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            !seen.exists(),
            "nothing is done before the file is handed over"
        );

        let yaml = b"services:\n  node:\n    image: x\n";
        compose
            .prepare_up("p", &file, up)
            .unwrap()
            .run(yaml)
            .await
            .unwrap();
        assert_eq!(std::fs::read(&seen).unwrap(), yaml);
        let real = std::fs::canonicalize(&folder).unwrap();
        assert_eq!(
            std::fs::read_to_string(&args).unwrap().trim(),
            format!(
                "{} -p p --project-directory {} -f - up --no-start --force-recreate",
                real.display(),
                folder.display()
            )
        );
        // Compose failing says so, with the command a user would run.
        let failing = Compose {
            program: vec![
                "sh".into(),
                "-c".into(),
                "cat >/dev/null; echo no such image >&2; exit 1".into(),
                "sh".into(),
            ],
            ..compose
        };
        let error = failing.up("p", &file, yaml, up).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            format!(
                "`docker compose -p p -f {} up --no-start --force-recreate` failed: no such image",
                file.display()
            )
        );
    }

    #[tokio::test]
    async fn a_compose_named_by_a_relative_path_runs_in_a_node_folder_too() {
        let tools = tempfile::tempdir_in(".").unwrap();
        let name = tools.path().file_name().unwrap().to_str().unwrap();
        // A link to a program that succeeds whatever it is asked (a script
        // written here could be busy: another test's fork may hold it open).
        let succeeds = ["/bin/true", "/usr/bin/true"]
            .into_iter()
            .find(|p| Path::new(p).exists())
            .unwrap();
        std::os::unix::fs::symlink(succeeds, tools.path().join("compose")).unwrap();
        let chosen = format!("./{name}/compose");
        let compose = Compose::detect_from("unix:///x.sock", Some(chosen), None, None)
            .await
            .unwrap();
        let node = tempfile::tempdir().unwrap();
        let up = Up {
            recreate: false,
            start: true,
        };
        compose
            .up(
                "p",
                &node.path().join("docker-compose.yml"),
                b"services: {}\n",
                up,
            )
            .await
            .unwrap();
    }

    #[test]
    fn a_program_named_by_a_relative_path_is_taken_from_here() {
        let here = std::env::current_dir().unwrap();
        assert_eq!(
            absolute("./tools/docker-compose"),
            here.join("tools/docker-compose").display().to_string()
        );
        assert_eq!(
            absolute("/usr/bin/docker-compose"),
            "/usr/bin/docker-compose"
        );
        assert_eq!(absolute("docker-compose"), "docker-compose");
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
