//! Pulling an image, with progress and with failures sorted by cause.

use std::collections::HashMap;

use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::registry::{registry_host, RegistryAuth};
use super::{Engine, EngineError, ImageInfo};
use crate::progress::{Event, Reporter, Step};

impl Engine {
    /// The image `reference`: pulled first when the engine lacks it and
    /// `pull` allows, an error naming `--no-pull` when it does not.
    pub async fn ensure_image(
        &self,
        reference: &str,
        pull: bool,
        auth: &RegistryAuth,
        reporter: &dyn Reporter,
    ) -> Result<ImageInfo, EngineError> {
        if let Some(info) = self.image(reference).await? {
            return Ok(info);
        }
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
        let (name, tag) = split_reference(reference);
        let mut options = CreateImageOptionsBuilder::default().from_image(name);
        if let Some(tag) = tag {
            options = options.tag(tag);
        }
        let step = Step::Pull(reference.to_owned());
        reporter.report(Event::Started {
            step: step.clone(),
            total: None,
        });
        let mut stream = self.docker().create_image(
            Some(options.build()),
            None,
            auth.credentials_for(reference),
        );
        // Per-layer progress, summed into one figure.
        let mut layers: HashMap<String, (u64, u64)> = HashMap::new();
        while let Some(item) = stream.next().await {
            let info = item.map_err(|e| classify(reference, e))?;
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
        reporter.report(Event::Finished { step });
        Ok(())
    }
}

/// Splits `name:tag` (a digest reference is kept whole).
fn split_reference(reference: &str) -> (&str, Option<&str>) {
    if reference.contains('@') {
        return (reference, None);
    }
    let last_slash = reference.rfind('/').map_or(0, |i| i + 1);
    match reference[last_slash..].rfind(':') {
        Some(i) => (
            &reference[..last_slash + i],
            Some(&reference[last_slash + i + 1..]),
        ),
        None => (reference, Some("latest")),
    }
}

/// Sorts a pull failure by what the user must do about it.
fn classify(reference: &str, error: bollard::errors::Error) -> EngineError {
    let detail = crate::error_text(&error);
    let lower = detail.to_lowercase();
    let registry = registry_host(reference).to_owned();
    let image = reference.to_owned();
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
    fn references_split_at_the_tag() {
        assert_eq!(
            split_reference("nvcr.io/a/b:1.2"),
            ("nvcr.io/a/b", Some("1.2"))
        );
        assert_eq!(
            split_reference("localhost:5000/a"),
            ("localhost:5000/a", Some("latest"))
        );
        assert_eq!(split_reference("a@sha256:00"), ("a@sha256:00", None));
    }

    #[test]
    fn failures_are_sorted_by_cause() {
        let err = |message: &str| bollard::errors::Error::DockerStreamError {
            error: message.to_owned(),
        };
        assert!(matches!(
            classify("nvcr.io/a:1", err("unauthorized: authentication required")),
            EngineError::Unauthorized { .. }
        ));
        assert!(matches!(
            classify(
                "nvcr.io/a:1",
                err("received unexpected HTTP status: 402 Payment Required")
            ),
            EngineError::NoEntitlement { .. }
        ));
        assert!(matches!(
            classify(
                "nvcr.io/a:1",
                err("Get \"https://nvcr.io/v2/\": dial tcp: lookup nvcr.io: no such host")
            ),
            EngineError::NoNetwork { .. }
        ));
    }
}
