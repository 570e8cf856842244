//! The model server client (the NGC stand-in's protocol): the manifest and
//! blob requests, with the bearer token, and errors that name the fix.

use std::process::ExitCode;
use std::time::Duration;

use crate::profiles::Manifest;

/// Why a download failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No connection could be made (or it failed before an answer).
    #[error("cannot reach the model server at {url}: {reason}")]
    Unreachable {
        /// The URL asked for.
        url: String,
        /// The error chain.
        reason: String,
    },
    /// 401 or 403.
    #[error(
        "the model server at {url} refused the request ({status}): NGC_API_KEY is missing or wrong"
    )]
    Unauthorized {
        /// The URL asked for.
        url: String,
        /// The status code.
        status: u16,
    },
    /// Any other unexpected status.
    #[error("the model server answered {status} for {url}")]
    Status {
        /// The URL asked for.
        url: String,
        /// The status code.
        status: u16,
    },
    /// The manifest is not what the protocol says.
    #[error("the manifest at {url} is invalid: {reason}")]
    BadManifest {
        /// The manifest's URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Profiles were not named, or not known.
    #[error("{0}")]
    Selection(String),
    /// A file kept failing mid-transfer.
    #[error("the download of {path} stopped after {have} of {size} bytes ({reason}); run download-to-cache again to resume")]
    Interrupted {
        /// The file's path in the snapshot.
        path: String,
        /// Bytes kept in its `.incomplete` file.
        have: u64,
        /// Its size.
        size: u64,
        /// The last error.
        reason: String,
    },
    /// The downloaded bytes do not hash to the manifest's SHA-256.
    #[error("{path}: downloaded content has sha256 {actual}, the manifest says {expected}; the partial file was removed")]
    Checksum {
        /// The file's path in the snapshot.
        path: String,
        /// The manifest's SHA-256.
        expected: String,
        /// What the bytes hash to.
        actual: String,
    },
    /// Reading or writing the cache failed.
    #[error("cache: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// 2 for a usage problem (which profiles), 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Selection(_) => ExitCode::from(2),
            _ => ExitCode::FAILURE,
        }
    }
}

/// An error and its sources, joined with `: ` (sources already in the
/// message are not repeated).
pub fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

/// A client of the model server for one model.
#[derive(Debug, Clone)]
pub struct Client {
    base: String,
    model: String,
    key: Option<String>,
    http: reqwest::Client,
}

impl Client {
    /// A client of the server at `base` (no trailing `/`), sending `key` as a
    /// bearer token when given. Proxies in the environment are not used.
    pub fn new(base: &str, model: &str, key: Option<String>) -> Self {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .read_timeout(Duration::from_secs(60))
            .no_proxy()
            .build()
            .expect("an HTTP client without TLS builds");
        Client {
            base: base.to_owned(),
            model: model.to_owned(),
            key,
            http,
        }
    }

    /// The model server's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The URL of `tail` under the model, e.g. `manifest` or `files/<sha256>`.
    pub fn url(&self, tail: &str) -> String {
        format!("{}/v1/models/{}/{tail}", self.base, self.model)
    }

    /// Sends a GET (with the bearer token and an optional `Range` start) and
    /// maps connection failures, 401/403 and other error statuses.
    pub async fn get(&self, url: &str, from: u64) -> Result<reqwest::Response, Error> {
        let mut request = self.http.get(url);
        if let Some(key) = &self.key {
            request = request.bearer_auth(key);
        }
        if from > 0 {
            request = request.header(reqwest::header::RANGE, format!("bytes={from}-"));
        }
        let response = request.send().await.map_err(|e| Error::Unreachable {
            url: url.to_owned(),
            reason: chain(&e),
        })?;
        let status = response.status().as_u16();
        match status {
            200..=299 | 416 => Ok(response),
            401 | 403 => Err(Error::Unauthorized {
                url: url.to_owned(),
                status,
            }),
            _ => Err(Error::Status {
                url: url.to_owned(),
                status,
            }),
        }
    }

    /// Fetches and validates the model's manifest.
    pub async fn manifest(&self) -> Result<Manifest, Error> {
        let url = self.url("manifest");
        let bad = |reason: String| Error::BadManifest {
            url: url.clone(),
            reason,
        };
        let body = self
            .get(&url, 0)
            .await?
            .bytes()
            .await
            .map_err(|e| Error::Unreachable {
                url: url.clone(),
                reason: chain(&e),
            })?;
        let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| bad(e.to_string()))?;
        manifest.validate().map_err(bad)?;
        if manifest.model != self.model {
            return Err(bad(format!("it is for model {}", manifest.model)));
        }
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_chains_read_well() {
        let inner = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let outer = std::io::Error::other(inner);
        assert_eq!(chain(&outer), "refused");
        let e = Error::Unauthorized {
            url: "http://x/m".into(),
            status: 401,
        };
        assert!(e.to_string().contains("NGC_API_KEY is missing or wrong"));
        assert_eq!(e.exit_code(), ExitCode::FAILURE);
        assert_eq!(Error::Selection("x".into()).exit_code(), ExitCode::from(2));
    }
}
