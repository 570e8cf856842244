//! The login sent to a package's server: a bearer token read from a file or
//! a variable the user names, else the `~/.netrc` entry of its host (as
//! curl and wget read it). The secret lives only in the request header,
//! marked sensitive; it is never shown, logged or put in a message.

use std::path::{Path, PathBuf};

use reqwest::header::HeaderValue;

use super::HttpError;

/// Where a bearer token comes from: never the command line itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The first line of this file.
    File(PathBuf),
    /// This environment variable.
    Env(String),
}

/// The `Authorization` value for `host`, if there is a login for it.
pub(super) fn authorization(
    token: Option<&TokenSource>,
    host: &str,
) -> Result<Option<HeaderValue>, HttpError> {
    let value = match token {
        Some(source) => format!("Bearer {}", read_token(source)?),
        None => match netrc_login(host)? {
            Some((login, password)) => {
                use base64::Engine as _;
                let pair =
                    base64::engine::general_purpose::STANDARD.encode(format!("{login}:{password}"));
                format!("Basic {pair}")
            }
            None => return Ok(None),
        },
    };
    let mut header = HeaderValue::from_str(&value).map_err(|_| HttpError::Token {
        from: "the login".into(),
        detail: "it holds characters a header cannot carry".into(),
    })?;
    header.set_sensitive(true);
    Ok(Some(header))
}

/// The token of `source`, trimmed; an empty one is an error.
fn read_token(source: &TokenSource) -> Result<String, HttpError> {
    let (from, text) = match source {
        TokenSource::File(path) => (
            format!("the file `{}`", budgetguard_base::quote::quote_path(path)),
            budgetguard_base::files::read_small(path, 64 << 10)
                .map(|b| String::from_utf8_lossy(&b).into_owned()),
        ),
        TokenSource::Env(name) => (
            format!("the variable `{}`", budgetguard_base::quote::quote(name)),
            std::env::var(name).map_err(|_| std::io::Error::other("it is not set")),
        ),
    };
    let text = text.map_err(|e| HttpError::Token {
        from: from.clone(),
        detail: e.to_string(),
    })?;
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if token.is_empty() {
        return Err(HttpError::Token {
            from,
            detail: "it is empty".into(),
        });
    }
    Ok(token)
}

/// The login and password `~/.netrc` (or `$NETRC`) gives `host`, or its
/// `default` entry; none when the file is absent.
fn netrc_login(host: &str) -> Result<Option<(String, String)>, HttpError> {
    let path = match std::env::var_os("NETRC") {
        Some(path) => PathBuf::from(path),
        None => match std::env::var_os("HOME") {
            Some(home) => Path::new(&home).join(".netrc"),
            None => return Ok(None),
        },
    };
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(HttpError::Netrc {
                path,
                detail: e.to_string(),
            })
        }
    };
    Ok(netrc_entry(&text, host))
}

/// The entry of `host` in netrc `text` (the first `machine` of that name,
/// else `default`).
fn netrc_entry(text: &str, host: &str) -> Option<(String, String)> {
    let mut words = text.split_whitespace();
    let mut found: Option<(String, String)> = None;
    let mut default: Option<(String, String)> = None;
    // The entry being read: whether it is the host's, or the default.
    let mut current: Option<(bool, String, String)> = None;
    let mut close = |entry: Option<(bool, String, String)>| {
        if let Some((is_host, login, password)) = entry {
            if is_host && found.is_none() {
                found = Some((login, password));
            } else if !is_host && default.is_none() {
                default = Some((login, password));
            }
        }
    };
    while let Some(word) = words.next() {
        match word {
            "machine" => {
                close(current.take());
                let name = words.next().unwrap_or_default();
                current = (name == host).then(|| (true, String::new(), String::new()));
            }
            "default" => {
                close(current.take());
                current = Some((false, String::new(), String::new()));
            }
            "login" => {
                let value = words.next().unwrap_or_default().to_owned();
                if let Some(entry) = current.as_mut() {
                    entry.1 = value;
                }
            }
            "password" => {
                let value = words.next().unwrap_or_default().to_owned();
                if let Some(entry) = current.as_mut() {
                    entry.2 = value;
                }
            }
            "account" => {
                words.next();
            }
            // A macro runs to the next empty line: its words are no
            // tokens, so nothing after it in this simple reading counts.
            "macdef" => break,
            _ => {}
        }
    }
    close(current.take());
    found.or(default)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn netrc_entries_are_found_by_host_else_default() {
        let text = "machine other.lan login a password b\n\
                    machine techops.lan\n  login fleet\n  password s3cret\n\
                    default login anon password none\n";
        assert_eq!(
            netrc_entry(text, "techops.lan"),
            Some(("fleet".into(), "s3cret".into()))
        );
        assert_eq!(
            netrc_entry(text, "elsewhere"),
            Some(("anon".into(), "none".into()))
        );
        assert_eq!(netrc_entry("machine x login a password b", "y"), None);
    }

    #[test]
    fn tokens_come_from_a_file_or_a_variable_and_never_show() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("token");
        std::fs::write(&file, "tok-123\n").unwrap();
        let header = authorization(Some(&TokenSource::File(file.clone())), "h")
            .unwrap()
            .unwrap();
        assert_eq!(header.to_str().unwrap(), "Bearer tok-123");
        assert!(header.is_sensitive());
        assert!(!format!("{header:?}").contains("tok-123"));
        std::fs::write(&file, "\n").unwrap();
        let empty = authorization(Some(&TokenSource::File(file)), "h").unwrap_err();
        assert!(empty.to_string().contains("it is empty"), "{empty}");
        let unset = TokenSource::Env("BUDGETGUARD_TEST_UNSET_TOKEN_VARIABLE".into());
        let error = authorization(Some(&unset), "h").unwrap_err();
        assert!(error.to_string().contains("is not set"), "{error}");
    }
}
