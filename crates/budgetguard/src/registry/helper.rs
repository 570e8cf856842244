//! Docker credential helpers: `docker-credential-<name> get` reads a server
//! address on stdin and prints `{"ServerURL","Username","Secret"}`; a user
//! name of `<token>` means the secret is an identity token.

use std::ffi::OsStr;
use std::io::Write;
use std::process::{Command, Stdio};

use serde::Deserialize;

use super::Credential;

/// What helpers print when they hold nothing for the server.
const NOT_FOUND: &str = "credentials not found";

/// The user name helpers give for identity tokens.
const TOKEN_USER: &str = "<token>";

/// The longest helper message quoted in an error.
const MAX_DETAIL: usize = 200;

/// Why a helper gave no answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// The program is not installed.
    Missing(String),
    /// It ran and failed.
    Failed {
        /// The program name.
        helper: String,
        /// What it said or why it could not run.
        detail: String,
    },
}

#[derive(Deserialize)]
struct Answer {
    #[serde(rename = "Username", default)]
    username: String,
    #[serde(rename = "Secret", default)]
    secret: String,
}

/// Asks helper `name` for the login of `server_key`; `None` when it holds
/// none. `registry` is only for messages; `search_path` replaces `PATH`.
pub(super) fn get(
    name: &str,
    server_key: &str,
    registry: &str,
    search_path: Option<&OsStr>,
) -> Result<Option<Credential>, Failure> {
    let program = format!("docker-credential-{name}");
    let failed = |detail: String| Failure::Failed {
        helper: program.clone(),
        detail,
    };
    let mut command = Command::new(&program);
    if let Some(path) = search_path {
        command.env("PATH", path);
    }
    let child = command
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Failure::Missing(program.clone()))
        }
        Err(e) => return Err(failed(format!("cannot run it: {e}"))),
    };
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is judged by its exit status.
        let _ = stdin.write_all(server_key.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| failed(format!("cannot run it: {e}")))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() {
        let said = [
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr).trim(),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .unwrap_or("no message")
        .to_owned();
        if said.to_lowercase().contains(NOT_FOUND) {
            return Ok(None);
        }
        return Err(failed(format!("{}, {}", output.status, first_line(&said))));
    }
    let answer: Answer = serde_json::from_str(stdout.trim()).map_err(|e| {
        failed(format!(
            "its answer for {registry} is not the JSON Docker expects: {e}"
        ))
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

/// The first line of a helper's message, cut short.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    line.chars().take(MAX_DETAIL).collect()
}
