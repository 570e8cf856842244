//! Docker credential helpers: `docker-credential-<name> get` reads a server
//! address on stdin and prints `{"ServerURL","Username","Secret"}`; a user
//! name of `<token>` means the secret is an identity token.
//!
//! A helper's output may hold secrets, so it is never quoted: a failure is
//! told by its kind. A helper runs in a process group of its own, with a
//! time limit and an output limit; past either, or when its lookup is
//! cancelled, the whole group is killed and the helper reaped.

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde::Deserialize;

use super::Credential;
use budgetguard_base::Cancel;

/// What helpers print when they hold nothing for the server.
const NOT_FOUND: &str = "credentials not found";

/// The user name helpers give for identity tokens.
const TOKEN_USER: &str = "<token>";

/// The most a helper may print: an answer is a few hundred bytes.
const MAX_OUTPUT: u64 = 1 << 20;

/// How often a running helper is checked on (exit, time limit, cancel).
const TICK: Duration = Duration::from_millis(20);

/// Why a helper gave no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The program is not installed.
    Missing(String),
    /// It ran and failed.
    Failed {
        /// The program name.
        helper: String,
        /// How it failed.
        fault: HelperFault,
    },
}

/// How a credential helper failed. Never holds what it printed: that may be
/// a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HelperFault {
    /// It could not be started.
    #[error("it cannot be run: {0}")]
    CannotRun(String),
    /// It exited with a failure status, or was killed by a signal (`None`).
    #[error("it exited with {}", match .0 {
        Some(code) => format!("status {code}"),
        None => "a signal".to_owned(),
    })]
    Exited(Option<i32>),
    /// It did not finish within its time limit, and was stopped.
    #[error("it did not answer within {} s and was stopped", .0.as_secs_f32())]
    TimedOut(Duration),
    /// It printed more than an answer can be, and was stopped.
    #[error("it printed more than {} MiB and was stopped", MAX_OUTPUT >> 20)]
    TooLong,
    /// Its answer is not JSON.
    #[error("its answer is not JSON")]
    NotJson,
    /// Its answer is JSON but not the object Docker expects.
    #[error(
        "its answer is not the JSON object Docker expects, with `Username` and `Secret` strings"
    )]
    WrongShape,
    /// The lookup it ran for was cancelled, and it was stopped.
    #[error("it was stopped: the lookup was cancelled")]
    Cancelled,
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Asks helper `name` for the login of `server_key`; `None` when it holds
/// none. `search_path` replaces `PATH`; the helper is stopped after
/// `time_limit`, or as soon as `cancel` fires.
pub(super) fn get(
    name: &str,
    server_key: &str,
    search_path: Option<&OsStr>,
    time_limit: Duration,
    cancel: &Cancel,
) -> Result<Option<Credential>, Failure> {
    let program = format!("docker-credential-{name}");
    let failed = |fault: HelperFault| Failure::Failed {
        helper: program.clone(),
        fault,
    };
    let mut command = Command::new(&program);
    if let Some(path) = search_path {
        command.env("PATH", path);
    }
    // Its stderr is neither shown nor read: it may echo a secret.
    let child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn();
    let child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Missing(program.clone()))
        }
        Err(e) => return Err(failed(HelperFault::CannotRun(e.to_string()))),
    };
    let (stdout, status) = Running::new(child, time_limit, cancel)
        .finish(server_key)
        .map_err(failed)?;
    let stdout = String::from_utf8_lossy(&stdout);
    if !status.success() {
        // As Docker's own client does, "not found" is read from stdout only.
        if stdout.to_lowercase().contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(failed(HelperFault::Exited(status.code())));
    }
    let answer: Answer = serde_json::from_str(stdout.trim()).map_err(|e| {
        failed(match e.classify() {
            serde_json::error::Category::Data => HelperFault::WrongShape,
            _ => HelperFault::NotJson,
        })
    })?;
    if answer.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some(if answer.username == TOKEN_USER {
        Credential::IdentityToken(answer.secret)
    } else {
        Credential::Password {
            username: answer.username,
            password: answer.secret,
        }
    }))
}

/// A helper process under watch: killed with its whole process group and
/// reaped unless it finished on its own.
struct Running<'a> {
    child: Child,
    deadline: Instant,
    time_limit: Duration,
    cancel: &'a Cancel,
    /// Whether it exited and was reaped.
    reaped: bool,
}

impl<'a> Running<'a> {
    fn new(child: Child, time_limit: Duration, cancel: &'a Cancel) -> Self {
        Self {
            child,
            deadline: Instant::now() + time_limit,
            time_limit,
            cancel,
            reaped: false,
        }
    }

    /// Hands it `input`, and returns its stdout and exit status once it
    /// exited, within the limits.
    fn finish(mut self, input: &str) -> Result<(Vec<u8>, ExitStatus), HelperFault> {
        if let Some(mut stdin) = self.child.stdin.take() {
            // A helper that exits without reading is judged by its exit
            // status; the address is far shorter than a pipe's buffer.
            let _ = stdin.write_all(input.as_bytes());
        }
        let stdout = self.child.stdout.take().expect("stdout is piped");
        // Read on a thread of its own, up to one byte past the limit: a
        // helper's descendant may hold the pipe open after it was killed,
        // and the thread then just ends later.
        let (sender, receiver) = mpsc::channel();
        std::thread::spawn(move || {
            let mut output = Vec::new();
            let read = stdout.take(MAX_OUTPUT + 1).read_to_end(&mut output);
            let _ = sender.send(read.map(|_| output));
        });
        let output = loop {
            self.check()?;
            match receiver.recv_timeout(TICK) {
                Ok(Ok(output)) if output.len() as u64 > MAX_OUTPUT => {
                    return Err(HelperFault::TooLong)
                }
                Ok(Ok(output)) => break output,
                Ok(Err(e)) => return Err(HelperFault::CannotRun(e.to_string())),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(HelperFault::CannotRun("its output was lost".into()))
                }
            }
        };
        loop {
            self.check()?;
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Ok((output, status));
                }
                Ok(None) => std::thread::sleep(TICK),
                Err(e) => return Err(HelperFault::CannotRun(e.to_string())),
            }
        }
    }

    /// Fails once the lookup is cancelled or the time limit passed.
    fn check(&self) -> Result<(), HelperFault> {
        if self.cancel.is_cancelled() {
            Err(HelperFault::Cancelled)
        } else if Instant::now() >= self.deadline {
            Err(HelperFault::TimedOut(self.time_limit))
        } else {
            Ok(())
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        if self.reaped {
            return;
        }
        // The group is the helper's own (`process_group(0)`): a script's
        // children go with it.
        let group = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(group, rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
