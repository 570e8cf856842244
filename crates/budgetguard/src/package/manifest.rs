//! The package manifest, `budgetguard-package.json`: what the package holds,
//! and the size and SHA-256 of every other entry.

use serde::{Deserialize, Serialize};

use super::zip::Compression;
use crate::catalog::Node;

/// The value of [`Manifest::format`].
pub const FORMAT: &str = "budgetguard-install-package";

/// The format version this tool writes. A reader refuses a higher one: a newer
/// tool made the package.
pub const FORMAT_VERSION: u32 = 1;

/// The package manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always [`FORMAT`].
    pub format: String,
    /// See [`FORMAT_VERSION`].
    pub format_version: u32,
    /// The version of the tool that made the package.
    pub tool_version: String,
    /// When the package was made (RFC 3339, UTC).
    pub created: String,
    /// The engine the images were exported from, e.g. `Docker 20.10.24`.
    pub source_engine: String,
    /// How the entries are compressed.
    pub compression: Compression,
    /// Whether `install-package` starts the nodes (and waits until they are
    /// ready) unless told otherwise.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub start_after_install: bool,
    /// The nodes to install.
    pub nodes: Vec<PackagedNode>,
    /// The images the nodes run, each carried once.
    pub images: Vec<PackagedImage>,
    /// Every other entry of the package.
    pub entries: Vec<EntryDigest>,
}

/// A node in a package: its catalog settings and its Compose file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedNode {
    /// The catalog settings it was packaged with.
    #[serde(flatten)]
    pub node: Node,
    /// The entry holding its Compose file.
    pub compose_file: String,
}

/// An image in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedImage {
    /// The references (`name:tag`) it is tagged with on install.
    pub references: Vec<String>,
    /// The image ID, the digest of its config (`sha256:…`).
    pub id: String,
    /// The registry digests it had where it was packaged.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub repo_digests: Vec<String>,
    /// Its OCI image manifest blob.
    pub manifest: Blob,
    /// Its config blob.
    pub config: Blob,
    /// Its layers (uncompressed tars), bottom first.
    pub layers: Vec<Blob>,
}

impl PackagedImage {
    /// The bytes of its layers.
    pub fn size(&self) -> u64 {
        self.layers.iter().map(|l| l.size).sum()
    }
}

/// A content-addressed blob of the OCI layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
}

/// The checksum of one entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryDigest {
    /// The entry's name in the ZIP.
    pub name: String,
    /// Its uncompressed size.
    pub size: u64,
    /// The SHA-256 of its uncompressed data, in hex.
    pub sha256: String,
}
