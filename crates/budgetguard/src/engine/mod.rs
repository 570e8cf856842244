//! Access to the Docker engine through its HTTP API (bollard).

mod error;
mod load;
mod pull;
mod registry;

pub use error::EngineError;
pub use load::{EngineFacts, LocalImage};
pub use registry::{registry_host, RegistryAuth};

use std::time::Duration;

use bollard::Docker;
use bytes::Bytes;
use futures_util::Stream;

/// The socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long to wait for the engine to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// Requests that stream images (export, load) can take hours for tens of
/// gigabytes; the engine answers a load only after the whole body.
const STREAM_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// What the engine knows of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image ID (`sha256:…`), the digest of its config.
    pub id: String,
    /// The registry digests it was pulled by.
    pub repo_digests: Vec<String>,
    /// The diff IDs of its layers, bottom first.
    pub layers: Vec<String>,
    /// Its uncompressed size in bytes.
    pub size: u64,
}

/// A connection to one Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    host: String,
    version: String,
}

impl Engine {
    /// Connects to the engine at `host` (`unix:///…`, `tcp://…`), or at
    /// `DOCKER_HOST`, or at the default socket; checks that it answers and
    /// agrees on an API version.
    pub async fn connect(host: Option<&str>) -> Result<Self, EngineError> {
        let (host, from_env) = match host {
            Some(h) => (h.to_owned(), false),
            None => match std::env::var("DOCKER_HOST") {
                Ok(h) if !h.is_empty() => (h, true),
                _ => (DEFAULT_HOST.to_owned(), false),
            },
        };
        let unreachable = |detail: String| EngineError::Unreachable {
            host: host.clone(),
            from_env,
            detail,
        };
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| unreachable(e.to_string()))?
            .with_timeout(STREAM_TIMEOUT);
        let docker = tokio::time::timeout(PING_TIMEOUT, docker.negotiate_version())
            .await
            .map_err(|_| unreachable("no answer within 10 s".into()))?
            .map_err(|e| unreachable(crate::error_text(&e)))?;
        let version = tokio::time::timeout(PING_TIMEOUT, docker.version())
            .await
            .map_err(|_| unreachable("no answer within 10 s".into()))?
            .map_err(|e| unreachable(crate::error_text(&e)))?
            .version
            .unwrap_or_else(|| "unknown".into());
        Ok(Self {
            docker,
            host,
            version,
        })
    }

    /// The address this connection uses.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The engine's version, e.g. `20.10.24`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The bollard client, for the modules of this crate.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// Looks up an image by reference or ID; `None` when the engine lacks it.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
        let inspect = found(self.docker.inspect_image(reference).await, || {
            format!("inspect image `{reference}`")
        })?;
        Ok(inspect.map(|inspect| ImageInfo {
            id: inspect.id.unwrap_or_default(),
            repo_digests: inspect.repo_digests.unwrap_or_default(),
            layers: inspect.root_fs.and_then(|r| r.layers).unwrap_or_default(),
            size: inspect.size.unwrap_or(0).max(0) as u64,
        }))
    }

    /// Streams the `docker save` tar of `references` (one request, shared
    /// layers once).
    pub fn export(
        &self,
        references: &[String],
    ) -> impl Stream<Item = Result<Bytes, EngineError>> + Send + 'static {
        use futures_util::StreamExt;
        let names: Vec<&str> = references.iter().map(String::as_str).collect();
        self.docker.export_images(&names).map(|chunk| {
            chunk.map_err(|source| EngineError::Api {
                action: "export images".into(),
                source,
            })
        })
    }
}

/// An API answer where 404 means "no such object": `None`; other failures
/// are errors of `action`.
fn found<T>(
    answer: Result<T, bollard::errors::Error>,
    action: impl FnOnce() -> String,
) -> Result<Option<T>, EngineError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) => Err(EngineError::Api {
            action: action(),
            source,
        }),
    }
}
