//! From a reference to what an image is made of: its manifest (through the
//! index when the image is multi-platform) and its config, each checked
//! against its digest.

use sha2::{Digest, Sha256};

use super::client::{read_limited, BodyError, Target};
use super::manifest::{self, Descriptor, Parsed, Platform};
use super::{RegistryClient, RegistryError};
use crate::reference::{is_sha256_digest, Reference};

/// The largest manifest or index read (containerd's limit too).
const MAX_MANIFEST: u64 = 4 << 20;

/// The largest image config read.
const MAX_CONFIG: u64 = 64 << 20;

/// One platform's image as its registry describes it.
#[derive(Debug, Clone)]
pub struct Resolved {
    /// The digest of what the reference names in its repository: the
    /// index's for a multi-platform image, else the image manifest's (what
    /// `docker pull` records as the repo digest).
    pub repo_digest: String,
    /// The digest of the image manifest (not of the index it came through).
    pub manifest_digest: String,
    /// The image manifest as served.
    pub manifest_bytes: Vec<u8>,
    /// Its media type (Docker schema 2 or OCI).
    pub media_type: String,
    /// The config blob's descriptor.
    pub config: Descriptor,
    /// The config blob, checked against its digest.
    pub config_bytes: Vec<u8>,
    /// The layers, bottom first.
    pub layers: Vec<Descriptor>,
}

/// A manifest or small blob as fetched.
/// A manifest as its registry serves it.
#[derive(Debug, Clone)]
pub struct RawManifest {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its media type (the `Content-Type`, or its own `mediaType`).
    pub media_type: String,
    /// The digest of its bytes.
    pub digest: String,
}

struct Fetched {
    bytes: Vec<u8>,
    content_type: Option<String>,
    digest: String,
}

impl RegistryClient {
    /// Reads the image `reference` names for `platform`: a multi-platform
    /// index resolves to that platform's manifest; the config is fetched and
    /// checked. Schema 1 manifests are refused.
    pub async fn resolve(
        &self,
        reference: &Reference,
        platform: &Platform,
    ) -> Result<Resolved, RegistryError> {
        let name = reference.to_string();
        let accept = manifest::accept_header();
        let first = self
            .fetch_small(
                reference,
                Target::Manifest(reference.manifest_reference()),
                Some(&accept),
                MAX_MANIFEST,
            )
            .await?;
        if let Some(digest) = reference.digest() {
            check_digest(&name, digest, &first.digest)?;
        }
        let mut media_type = manifest::media_type_of(first.content_type.as_deref(), &first.bytes);
        let repo_digest = first.digest.clone();
        let mut current = first;
        let mut parsed = manifest::parse(&name, &media_type, &current.bytes)?;
        if let Parsed::Index(entries) = &parsed {
            let chosen = manifest::choose(&name, entries, platform)?.digest.clone();
            current = self
                .fetch_small(
                    reference,
                    Target::Manifest(&chosen),
                    Some(&accept),
                    MAX_MANIFEST,
                )
                .await?;
            check_digest(&name, &chosen, &current.digest)?;
            media_type = manifest::media_type_of(current.content_type.as_deref(), &current.bytes);
            parsed = manifest::parse(&name, &media_type, &current.bytes)?;
        }
        let Parsed::Image { config, layers } = parsed else {
            return Err(RegistryError::BadManifest {
                reference: name,
                detail: "an index names another index for this platform".into(),
            });
        };
        if config.size > MAX_CONFIG {
            return Err(RegistryError::BadManifest {
                reference: name,
                detail: format!("a config of {} bytes", config.size),
            });
        }
        let config_blob = self
            .fetch_small(reference, Target::Blob(&config.digest), None, config.size)
            .await?;
        check_digest(&name, &config.digest, &config_blob.digest)?;
        Ok(Resolved {
            repo_digest,
            manifest_digest: current.digest,
            manifest_bytes: current.bytes,
            media_type,
            config,
            config_bytes: config_blob.bytes,
            layers,
        })
    }

    /// Fetches the manifest `tag_or_digest` of `reference`'s repository as
    /// it is (an index is not resolved), accepting the media types
    /// `accept` lists; one asked for by digest must have it.
    pub async fn manifest(
        &self,
        reference: &Reference,
        tag_or_digest: &str,
        accept: &str,
    ) -> Result<RawManifest, RegistryError> {
        let fetched = self
            .fetch_small(
                reference,
                Target::Manifest(tag_or_digest),
                Some(accept),
                MAX_MANIFEST,
            )
            .await?;
        if is_sha256_digest(tag_or_digest) {
            check_digest(&reference.to_string(), tag_or_digest, &fetched.digest)?;
        }
        Ok(RawManifest {
            media_type: manifest::media_type_of(fetched.content_type.as_deref(), &fetched.bytes),
            bytes: fetched.bytes,
            digest: fetched.digest,
        })
    }

    /// Fetches `descriptor`'s blob whole (a config, a small file: it is
    /// held in memory) and checks its size and digest.
    pub async fn small_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
    ) -> Result<Vec<u8>, RegistryError> {
        let fetched = self
            .fetch_small(
                reference,
                Target::Blob(&descriptor.digest),
                None,
                descriptor.size,
            )
            .await?;
        check_digest(&reference.to_string(), &descriptor.digest, &fetched.digest)?;
        Ok(fetched.bytes)
    }

    /// Fetches a whole small body, retrying lost connections, and computes
    /// its digest. A registry's `Docker-Content-Digest` that disagrees with
    /// the body is a mismatch.
    async fn fetch_small(
        &self,
        reference: &Reference,
        target: Target<'_>,
        accept: Option<&str>,
        limit: u64,
    ) -> Result<Fetched, RegistryError> {
        let options = &self.inner.options;
        let mut failures = 0;
        loop {
            let response = self.get(reference, target, accept, 0).await?;
            let content_type = header(&response, reqwest::header::CONTENT_TYPE.as_str());
            let claimed = header(&response, "docker-content-digest");
            let last = match read_limited(response, limit).await {
                Ok(bytes) => {
                    let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
                    if let Some(claimed) = claimed.filter(|c| c.starts_with("sha256:")) {
                        check_digest(&reference.to_string(), &claimed, &digest)?;
                    }
                    return Ok(Fetched {
                        bytes,
                        content_type,
                        digest,
                    });
                }
                Err(BodyError::TooLarge) => {
                    return Err(match target {
                        Target::Blob(digest) => RegistryError::SizeMismatch {
                            reference: reference.to_string(),
                            digest: digest.to_owned(),
                            expected: limit,
                        },
                        _ => RegistryError::BadManifest {
                            reference: reference.to_string(),
                            detail: format!("the manifest is larger than {limit} bytes"),
                        },
                    })
                }
                Err(error) => error.to_string(),
            };
            failures += 1;
            if failures > options.retries {
                return Err(RegistryError::TooManyRetries {
                    reference: reference.to_string(),
                    what: target.describe(),
                    attempts: failures,
                    last,
                });
            }
            tokio::time::sleep(options.backoff_after(failures - 1)).await;
        }
    }
}

fn header(response: &reqwest::Response, name: &str) -> Option<String> {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// Refuses content whose digest is not the one asked for.
fn check_digest(reference: &str, expected: &str, actual: &str) -> Result<(), RegistryError> {
    if expected == actual {
        Ok(())
    } else {
        Err(RegistryError::DigestMismatch {
            reference: reference.to_owned(),
            digest: expected.to_owned(),
            actual: actual.to_owned(),
        })
    }
}
