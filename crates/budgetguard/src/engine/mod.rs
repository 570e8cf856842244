//! Access to the Docker engine through its HTTP API (bollard).

mod claim;
mod container;
mod error;
mod gpu;
mod idle;
mod load;
mod logs;
mod pull;
mod registry;
mod writeback;

pub use container::{RunOutput, RunSpec};
pub use error::{EngineError, Unreachable};
pub use gpu::{GpuRequest, ProbeOutcome, CDI_DEVICE};
pub use load::{EngineFacts, IdRemoval, LocalImage, UsingContainer};
pub use registry::RegistryAuth;
pub use writeback::Writeback;

use std::time::{Duration, Instant};

use bollard::Docker;
use bytes::Bytes;
use futures_util::Stream;

use crate::digest::{Digest, ImageId, NotADigest};

/// The socket used when `DOCKER_HOST` is not set.
pub const DEFAULT_HOST: &str = "unix:///var/run/docker.sock";

/// How long to wait for the engine to answer a ping.
const PING_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a lookup (inspecting an image or a container, listing the
/// images) may take.
const LOOKUP_TIMEOUT: Duration = Duration::from_secs(30);

/// How long another short call (tag, remove, create) may take: removing a
/// large image deletes its files first.
const CALL_TIMEOUT: Duration = Duration::from_secs(120);

/// Requests that stream images (export, load, pull) can take hours for tens
/// of gigabytes, and the engine answers a load only after the whole body:
/// their limit is on idleness (see [`idle`]), not on the total.
const STREAM_TIMEOUT: Duration = Duration::from_secs(7 * 24 * 3600);

/// What the engine knows of one image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageInfo {
    /// The image ID: the digest of its config on the classic store, of
    /// its manifest (or index) on the containerd store.
    pub id: ImageId,
    /// The registry digests it was pulled by.
    pub repo_digests: Vec<String>,
    /// The diff IDs of its layers, bottom first.
    pub layers: Vec<Digest>,
    /// Its uncompressed size in bytes.
    pub size: u64,
    /// Its tags.
    pub tags: Vec<String>,
    /// When it was made (RFC 3339), as its config says.
    pub created: Option<String>,
}

/// A connection to one Docker engine.
#[derive(Debug, Clone)]
pub struct Engine {
    docker: Docker,
    lookups: Docker,
    streams: Docker,
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
        let started = Instant::now();
        tracing::debug!(host = %host, from_env, "connecting to the Docker engine");
        let unreachable = |reason: Unreachable| EngineError::Unreachable {
            host: host.clone(),
            from_env,
            reason,
        };
        let docker = Docker::connect_with_host(&host)
            .map_err(|e| unreachable(Unreachable::from_client(&e)))?
            .with_timeout(CALL_TIMEOUT);
        // The negotiation asks `/version` as the version call does, before
        // any API version is agreed (and sets it for every clone): the two
        // run at once, one round trip instead of two.
        let (negotiated, described) = tokio::time::timeout(PING_TIMEOUT, async {
            tokio::join!(docker.clone().negotiate_version(), docker.version())
        })
        .await
        .map_err(|_| unreachable(Unreachable::NoAnswer(PING_TIMEOUT.as_secs())))?;
        let docker = negotiated.map_err(|e| unreachable(Unreachable::from_client(&e)))?;
        let version = described
            .map_err(|e| unreachable(Unreachable::from_client(&e)))?
            .version
            .unwrap_or_else(|| "unknown".into());
        let streams = docker.clone().with_timeout(STREAM_TIMEOUT);
        let lookups = docker.clone().with_timeout(LOOKUP_TIMEOUT);
        tracing::info!(
            host = %host,
            from_env,
            version = %version,
            api = %docker.client_version(),
            elapsed_ms = elapsed_ms(started),
            "connected to the Docker engine"
        );
        Ok(Self {
            docker,
            lookups,
            streams,
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

    /// The bollard client for short calls, for the modules of this crate.
    pub(crate) fn docker(&self) -> &Docker {
        &self.docker
    }

    /// The bollard client for lookups, which get seconds, not minutes.
    pub(crate) fn lookups(&self) -> &Docker {
        &self.lookups
    }

    /// The bollard client for streams (export, load, pull), whose limit is
    /// on idleness.
    pub(crate) fn streams(&self) -> &Docker {
        &self.streams
    }

    /// Looks up an image by reference or ID; `None` when the engine lacks it.
    pub async fn image(&self, reference: &str) -> Result<Option<ImageInfo>, EngineError> {
        let started = Instant::now();
        let inspect = found(self.lookups.inspect_image(reference).await, || {
            format!("inspect image `{reference}`")
        });
        log_call("inspect image", reference, started, &inspect);
        let Some(inspect) = inspect? else {
            return Ok(None);
        };
        let wrong = |source| answer_error(format!("the inspection of `{reference}`"), source);
        let layers = inspect.root_fs.and_then(|r| r.layers).unwrap_or_default();
        Ok(Some(ImageInfo {
            id: inspect.id.unwrap_or_default().parse().map_err(wrong)?,
            repo_digests: inspect.repo_digests.unwrap_or_default(),
            layers: layers
                .into_iter()
                .map(Digest::try_from)
                .collect::<Result<_, _>>()
                .map_err(wrong)?,
            size: inspect.size.unwrap_or(0).max(0) as u64,
            tags: inspect.repo_tags.unwrap_or_default(),
            created: inspect.created,
        }))
    }

    /// Streams the `docker save` tar of `references` (one request, shared
    /// layers once); a stream that stalls for longer than the idle limit
    /// ends with [`EngineError::Stalled`].
    pub fn export(
        &self,
        references: &[String],
    ) -> impl Stream<Item = Result<Bytes, EngineError>> + Send + 'static {
        use futures_util::StreamExt;
        let names: Vec<&str> = references.iter().map(String::as_str).collect();
        tracing::info!(images = ?names, "exporting images from the engine");
        let chunks = self.streams.export_images(&names).map(|chunk| {
            chunk.map_err(|source| EngineError::Api {
                action: "export images".into(),
                source,
            })
        });
        idle::limited(chunks, "exporting images")
    }
}

/// Milliseconds since `started`, for the log.
pub(crate) fn elapsed_ms(started: Instant) -> u64 {
    started.elapsed().as_millis() as u64
}

/// Logs one engine call: what it was (`action` on `subject`), how long it
/// took, and how it ended. Nothing secret is ever a subject.
pub(crate) fn log_call<T>(
    action: &str,
    subject: &str,
    started: Instant,
    result: &Result<T, EngineError>,
) {
    let elapsed_ms = elapsed_ms(started);
    match result {
        Ok(_) => tracing::debug!(action, subject, elapsed_ms, "engine call"),
        Err(error) => tracing::warn!(action, subject, elapsed_ms, %error, "engine call failed"),
    }
}

/// An API answer where 404 means "no such object": `None` (and so does the
/// containerd store's answer for an image whose content is going); other
/// failures are errors of `action`.
fn found<T>(
    answer: Result<T, bollard::errors::Error>,
    action: impl FnOnce() -> String,
) -> Result<Option<T>, EngineError> {
    match answer {
        Ok(value) => Ok(Some(value)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(source) if content_going(&source) => Ok(None),
        Err(source) => Err(lookup_error(action(), source)),
    }
}

/// Whether the engine's answer is about an image that another client is
/// removing or loading at that moment: the containerd store's 500 "…
/// content digest sha256:…: not found", or the classic store's 500 "layer
/// does not exist" (an image listed whose layers are gone, or not there
/// yet).
pub(crate) fn content_going(answer: &bollard::errors::Error) -> bool {
    matches!(answer, bollard::errors::Error::DockerResponseServerError {
        status_code: 500,
        message,
    } if (message.contains("content digest") && message.ends_with("not found"))
        || message.ends_with("layer does not exist"))
}

/// A failed API call of `action`; a call that ran out of time says so.
pub(crate) fn api_error(action: String, source: bollard::errors::Error) -> EngineError {
    error_within(action, source, CALL_TIMEOUT)
}

/// An answer to `action` that held `source` where a digest belongs.
pub(crate) fn answer_error(action: String, source: NotADigest) -> EngineError {
    EngineError::Answer { action, source }
}

/// A failed lookup (made with [`Engine::lookups`]) of `action`.
pub(crate) fn lookup_error(action: String, source: bollard::errors::Error) -> EngineError {
    error_within(action, source, LOOKUP_TIMEOUT)
}

fn error_within(action: String, source: bollard::errors::Error, limit: Duration) -> EngineError {
    match source {
        bollard::errors::Error::RequestTimeoutError => EngineError::Stalled {
            action,
            seconds: limit.as_secs(),
        },
        source => EngineError::Api { action, source },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status_code: u16, message: &str) -> Result<(), bollard::errors::Error> {
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code,
            message: message.into(),
        })
    }

    #[test]
    fn an_image_whose_content_is_going_is_absent() {
        let action = || "inspect image `x`".to_owned();
        assert!(found(answer(404, "No such image: x"), action)
            .unwrap()
            .is_none());
        let going = "failed to get config descriptor: rpc error: code = NotFound desc = content digest sha256:ffde: not found";
        assert!(found(answer(500, going), action).unwrap().is_none());
        // The classic store, while another client removes or loads it.
        assert!(found(answer(500, "layer does not exist"), action)
            .unwrap()
            .is_none());
        assert!(found(answer(500, "the engine failed"), action).is_err());
    }
}
