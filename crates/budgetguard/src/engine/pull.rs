//! Pulling an image, with progress and with failures sorted by cause.

use std::collections::HashMap;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::registry::{docker_credentials, RegistryAuth};
use super::{Engine, EngineError, ImageInfo};
use crate::progress::{Event, Reporter, Step};
use crate::reference::Reference;

impl Engine {
    /// The image `reference`: pulled first when the engine lacks it and
    /// `pull` allows, [`EngineError::ImageMissing`] when it does not.
    pub async fn ensure_image(
        &self,
        reference: &str,
        pull: bool,
        auth: &RegistryAuth,
        reporter: &dyn Reporter,
    ) -> Result<ImageInfo, EngineError> {
        if let Some(info) = self.image(reference).await? {
            tracing::debug!(image = reference, id = %info.id, "image already in the engine");
            return Ok(info);
        }
        tracing::info!(
            image = reference,
            pull,
            "image not in the engine; {}",
            if pull {
                "pulling it"
            } else {
                "pulling is turned off"
            }
        );
        if !pull {
            return Err(EngineError::ImageMissing {
                image: reference.to_owned(),
            });
        }
        self.pull(reference, auth, reporter).await?;
        self.image(reference)
            .await?
            .ok_or_else(|| EngineError::PullFailed {
                image: reference.to_owned(),
                detail: "the engine reported success but has no such image".into(),
            })
    }

    /// Pulls `reference` from its registry, reporting bytes downloaded.
    pub async fn pull(
        &self,
        reference: &str,
        auth: &RegistryAuth,
        reporter: &dyn Reporter,
    ) -> Result<(), EngineError> {
        let failed = |detail: String| EngineError::PullFailed {
            image: reference.to_owned(),
            detail,
        };
        let parsed = Reference::parse(reference).map_err(|e| failed(e.to_string()))?;
        // As `docker pull` asks: the name, and the digest or tag as `tag`.
        let options = CreateImageOptionsBuilder::default()
            .from_image(&parsed.familiar_name())
            .tag(parsed.manifest_reference())
            .build();
        let credentials = docker_credentials(auth, &parsed)
            .await
            .map_err(|e| failed(crate::error_text(&e)))?;
        // Which kind of login is used, never its value.
        tracing::info!(
            image = reference,
            registry = parsed.registry(),
            login = match &credentials {
                None => "none",
                Some(c) if c.identitytoken.is_some() => "identity token",
                Some(_) => "user and password",
            },
            "pulling"
        );
        let started = std::time::Instant::now();
        let step = Step::Pull(reference.to_owned());
        reporter.report(Event::Started {
            step: step.clone(),
            total: None,
        });
        let (image, registry) = (reference.to_owned(), parsed.registry().to_owned());
        let answers = self
            .streams()
            .create_image(Some(options), None, credentials)
            .map(move |item| item.map_err(|e| classify(&image, &registry, e)));
        let mut stream = std::pin::pin!(super::idle::limited(answers, "pulling an image"));
        // Per-layer progress, summed into one figure.
        let mut layers: HashMap<String, (u64, u64)> = HashMap::new();
        while let Some(item) = stream.next().await {
            let info = item.inspect_err(|error| {
                tracing::warn!(
                    image = reference,
                    elapsed_ms = super::elapsed_ms(started),
                    %error,
                    "pull failed"
                )
            })?;
            if let (Some(id), Some(detail)) = (info.id, info.progress_detail) {
                if info.status.as_deref() == Some("Downloading") {
                    let current = detail.current.unwrap_or(0).max(0) as u64;
                    let total = detail.total.unwrap_or(0).max(0) as u64;
                    layers.insert(id, (current, total));
                    reporter.report(Event::Advanced {
                        step: step.clone(),
                        done: layers.values().map(|(c, _)| c).sum(),
                    });
                }
            }
        }
        tracing::info!(
            image = reference,
            elapsed_ms = super::elapsed_ms(started),
            downloaded = layers.values().map(|(c, _)| c).sum::<u64>(),
            "pulled"
        );
        reporter.report(Event::Finished { step });
        Ok(())
    }
}

/// Sorts a pull failure by what the user must do about it: by the engine's
/// status code where it gives one (404: no such image), else by its text.
/// Docker 20.10 and 26.1 (both stores) answer a refused login and an
/// unreachable registry alike with 500 and the reason only in the message,
/// so that text is read here, once, into a typed error.
fn classify(image: &str, registry: &str, error: bollard::errors::Error) -> EngineError {
    let registry = registry.to_owned();
    let image = image.to_owned();
    if let bollard::errors::Error::DockerResponseServerError {
        status_code: 404, ..
    } = error
    {
        return EngineError::NotInRegistry { image, registry };
    }
    let detail = crate::error_text(&error);
    let lower = detail.to_lowercase();
    // Words, not bare status numbers: digests in the message hold those too.
    if lower.contains("payment required") {
        EngineError::NoEntitlement { image }
    } else if lower.contains("unauthorized")
        || lower.contains("authentication required")
        || lower.contains("no basic auth credentials")
    {
        EngineError::Unauthorized { image, registry }
    } else if [
        "no such host",
        "dial tcp",
        "i/o timeout",
        "network is unreachable",
        "connection refused",
        "tls handshake timeout",
        "temporary failure in name resolution",
    ]
    .iter()
    .any(|s| lower.contains(s))
    {
        EngineError::NoNetwork {
            image,
            registry,
            detail,
        }
    } else {
        EngineError::PullFailed { image, detail }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_sorted_by_cause() {
        let err = |message: &str| bollard::errors::Error::DockerStreamError {
            error: message.to_owned(),
        };
        assert!(matches!(
            classify(
                "nvcr.io/a:1",
                "nvcr.io",
                err("unauthorized: authentication required")
            ),
            EngineError::Unauthorized { .. }
        ));
        assert!(matches!(
            classify(
                "nvcr.io/a:1",
                "nvcr.io",
                err("received unexpected HTTP status: 402 Payment Required")
            ),
            EngineError::NoEntitlement { .. }
        ));
        assert!(matches!(
            classify(
                "nvcr.io/a:1",
                "nvcr.io",
                err("Get \"https://nvcr.io/v2/\": dial tcp: lookup nvcr.io: no such host")
            ),
            EngineError::NoNetwork { .. }
        ));
        // The status code decides, whatever the text says.
        let missing = bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message: "manifest for x:1 not found: unauthorized".to_owned(),
        };
        let missing = classify("x:1", "docker.io", missing);
        assert!(
            matches!(missing, EngineError::NotInRegistry { .. }),
            "{missing}"
        );
        assert!(missing.to_string().contains("(404)"), "{missing}");
    }
}
