//! A published package read in place from its registry: a
//! [`PackageSource`] whose bytes are the package file's, the skeleton's
//! from memory and each large entry's from its blob, fetched only when the
//! entry is read.

use std::io::{self, BufRead, Cursor, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use serde::Deserialize;

use super::super::http::HttpOptions;
use super::super::runtime::Runtime;
use super::super::zip::PackageSource;
use super::map::{segment_at, From, PackageMap, Segment, MAX_MAP, MAX_SKELETON};
use super::{OciAddress, OciError, ARTIFACT_TYPE, MAP_TYPE, PACKAGE_ID, SKELETON_TYPE};
use crate::package::PackageError;
use crate::reference::Reference;
use crate::registry::{
    ClientOptions, Descriptor, RegistryAuth, RegistryClient, RegistryError, DOCKER_MANIFEST,
    DOCKER_MANIFEST_LIST, OCI_INDEX, OCI_MANIFEST,
};
use crate::Cancel;

/// A package published to a registry, read by blobs.
pub struct OciSource {
    reference: Reference,
    description: PathBuf,
    client: RegistryClient,
    map: PackageMap,
    segments: Vec<Segment>,
    skeleton: Bytes,
    cancel: Cancel,
    /// Where the blob downloads run; dropped last.
    _runtime: Runtime,
}

impl std::fmt::Debug for OciSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OciSource")
            .field("address", &self.description)
            .field("size", &self.map.size)
            .finish_non_exhaustive()
    }
}

/// The parts of an index or manifest this source reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listing {
    #[serde(default)]
    artifact_type: Option<String>,
    #[serde(default)]
    manifests: Vec<Listed>,
    #[serde(default)]
    config: Option<Listed>,
    #[serde(default)]
    layers: Vec<Listed>,
    #[serde(default)]
    annotations: std::collections::BTreeMap<String, String>,
}

/// A descriptor in a listing.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Listed {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    artifact_type: Option<String>,
}

impl Listed {
    fn descriptor(&self) -> Descriptor {
        Descriptor {
            media_type: self.media_type.clone(),
            digest: self.digest.clone(),
            size: self.size,
        }
    }
}

impl OciSource {
    /// Opens the package published at `address`: its index, artifact
    /// manifest, map and skeleton are fetched (the entries' blobs only when
    /// read). Logins are this machine's Docker logins. Call it from a
    /// blocking thread.
    pub fn open(address: &OciAddress, options: &HttpOptions) -> Result<Self, PackageError> {
        let reference = address.reference().clone();
        let shown = address.to_string();
        let runtime = Runtime::new().map_err(|e| RegistryError::Setup(e.to_string()))?;
        let client = {
            let _inside = runtime.handle().enter();
            RegistryClient::new(RegistryAuth::new(None), client_options(options))?
        };
        let (map, skeleton) = runtime.run({
            let (client, reference, shown) = (client.clone(), reference.clone(), shown.clone());
            async move { fetch_map(&client, &reference, &shown).await }
        })?;
        Ok(Self {
            reference,
            description: PathBuf::from(shown),
            client,
            segments: map.segments(),
            map,
            skeleton,
            cancel: Cancel::new(),
            _runtime: runtime,
        })
    }

    /// The package id its map names.
    pub fn package_id(&self) -> &str {
        &self.map.package_id
    }

    /// The readers of the file's bytes from `start`, `len` of them, one per
    /// stretch, opened when reached.
    fn parts(&self, start: u64, len: u64) -> Vec<Part> {
        let end = start.saturating_add(len).min(self.map.size);
        let mut parts = Vec::new();
        let mut at = start;
        while at < end {
            let Some(i) = segment_at(&self.segments, at) else {
                break;
            };
            let segment = self.segments[i];
            let within = at - segment.at;
            let n = (segment.len - within).min(end - at);
            parts.push(match segment.from {
                From::Skeleton(from) => {
                    let from = (from + within) as usize;
                    Part::Bytes(self.skeleton.slice(from..from + n as usize))
                }
                From::Piece(p) => {
                    let piece = &self.map.pieces[p];
                    Part::Blob {
                        descriptor: Descriptor {
                            media_type: String::new(),
                            digest: piece.digest.clone(),
                            size: piece.size,
                        },
                        span: (within, n),
                    }
                }
            });
            at += n;
        }
        parts
    }

    fn reader(&self, start: u64, len: u64) -> Chain {
        Chain {
            parts: self.parts(start, len).into_iter(),
            current: None,
            client: self.client.clone(),
            reference: self.reference.clone(),
            cancel: self.cancel.clone(),
        }
    }
}

impl Drop for OciSource {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl PackageSource for OciSource {
    fn size(&self) -> u64 {
        self.map.size
    }

    fn description(&self) -> &Path {
        &self.description
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let Some(i) = segment_at(&self.segments, offset) else {
            return Ok(0);
        };
        let segment = self.segments[i];
        let n = (segment.len - (offset - segment.at)).min(buf.len() as u64) as usize;
        self.reader(offset, n as u64).read_exact(&mut buf[..n])?;
        Ok(n)
    }

    fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>> {
        Ok(Box::new(self.reader(start, len)))
    }
}

/// A stretch's bytes to read.
enum Part {
    /// From the skeleton.
    Bytes(Bytes),
    /// A span (first byte, length) of a blob.
    Blob {
        descriptor: Descriptor,
        span: (u64, u64),
    },
}

/// The bytes of several stretches in a row, each opened when reached (a
/// blob read whole is checked against its digest).
struct Chain {
    parts: std::vec::IntoIter<Part>,
    current: Option<Box<dyn BufRead + Send>>,
    client: RegistryClient,
    reference: Reference,
    cancel: Cancel,
}

impl BufRead for Chain {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        loop {
            if self.current.is_none() {
                let next: Box<dyn BufRead + Send> = match self.parts.next() {
                    None => return Ok(&[]),
                    Some(Part::Bytes(bytes)) => Box::new(Cursor::new(bytes)),
                    Some(Part::Blob { descriptor, span }) => Box::new(self.client.open_blob_range(
                        &self.reference,
                        &descriptor,
                        span,
                        std::sync::Arc::new(()),
                        &self.cancel,
                    )),
                };
                self.current = Some(next);
            }
            let current = self.current.as_mut().expect("just set");
            if !current.fill_buf()?.is_empty() {
                break;
            }
            self.current = None;
        }
        self.current.as_mut().expect("not empty").fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        if let Some(current) = &mut self.current {
            current.consume(amount);
        }
    }
}

impl Read for Chain {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        budgetguard_base::read_buffered(self, buf)
    }
}

/// The client options a package's read options give.
fn client_options(options: &HttpOptions) -> ClientOptions {
    ClientOptions {
        retries: options.retries,
        backoff: options.backoff,
        connect_timeout: options.connect_timeout,
        read_timeout: options.read_timeout,
        ..ClientOptions::default()
    }
}

/// Fetches the published package's index, artifact, map and skeleton, and
/// checks that they describe one package file.
async fn fetch_map(
    client: &RegistryClient,
    reference: &Reference,
    shown: &str,
) -> Result<(PackageMap, Bytes), PackageError> {
    let not_a_package = |detail: &str| OciError::NotAPackage {
        reference: shown.to_owned(),
        detail: detail.to_owned(),
    };
    let bad_map = |detail: String| OciError::BadMap {
        reference: shown.to_owned(),
        detail,
    };
    let index = client
        .manifest(
            reference,
            reference.manifest_reference(),
            &[
                OCI_INDEX,
                OCI_MANIFEST,
                DOCKER_MANIFEST_LIST,
                DOCKER_MANIFEST,
            ]
            .join(", "),
        )
        .await?;
    if index.media_type != OCI_INDEX {
        let what = match index.media_type.as_str() {
            OCI_MANIFEST | DOCKER_MANIFEST => "an image",
            _ => "an index of images",
        };
        return Err(not_a_package(&format!("it is {what}, `{}`", index.media_type)).into());
    }
    let index: Listing = serde_json::from_slice(&index.bytes)
        .map_err(|e| not_a_package(&format!("its index does not parse: {e}")))?;
    let artifact = index
        .manifests
        .iter()
        .find(|m| m.artifact_type.as_deref() == Some(ARTIFACT_TYPE))
        .ok_or_else(|| not_a_package("its index names no package artifact"))?;
    let artifact = client
        .manifest(reference, &artifact.digest, OCI_MANIFEST)
        .await?;
    let artifact: Listing = serde_json::from_slice(&artifact.bytes)
        .map_err(|e| not_a_package(&format!("its artifact does not parse: {e}")))?;
    if artifact.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(not_a_package("its artifact is of another type").into());
    }
    let config = artifact
        .config
        .as_ref()
        .filter(|c| c.media_type == MAP_TYPE && c.size <= MAX_MAP)
        .ok_or_else(|| not_a_package("its artifact has no package map"))?;
    let skeleton = artifact
        .layers
        .iter()
        .find(|l| l.media_type == SKELETON_TYPE && l.size <= MAX_SKELETON)
        .ok_or_else(|| not_a_package("its artifact has no skeleton"))?;
    let map = client.small_blob(reference, &config.descriptor()).await?;
    let map: PackageMap =
        serde_json::from_slice(&map).map_err(|e| bad_map(format!("it does not parse: {e}")))?;
    let skeleton = Bytes::from(client.small_blob(reference, &skeleton.descriptor()).await?);
    map.check(skeleton.len() as u64).map_err(bad_map)?;
    for named in [
        index.annotations.get(PACKAGE_ID),
        artifact.annotations.get(PACKAGE_ID),
    ] {
        if let Some(named) = named.filter(|n| **n != map.package_id) {
            return Err(OciError::OtherPackage {
                reference: shown.to_owned(),
                expected: named.clone(),
                actual: map.package_id.clone(),
            }
            .into());
        }
    }
    Ok((map, skeleton))
}
