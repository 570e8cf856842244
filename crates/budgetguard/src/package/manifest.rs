//! The package manifest, `budgetguard-package.json`: what the package holds,
//! and the size and SHA-256 of every other entry.

use serde::{Deserialize, Serialize};

use super::zip::Compression;
use crate::catalog::Node;
use crate::models::Profile;

/// The value of [`Manifest::format`].
pub const FORMAT: &str = "budgetguard-install-package";

/// The highest format version this tool reads. A reader refuses a higher
/// one: a newer tool made the package.
pub const FORMAT_VERSION: u32 = 2;

/// The version of a package without model caches, which readers of
/// version 1 install correctly.
pub const FORMAT_VERSION_IMAGES_ONLY: u32 = 1;

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
    /// The model caches the nodes use, each carried once (format 2).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub caches: Vec<PackagedCache>,
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
    /// The model cache the package carries for it: it starts offline,
    /// without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model_cache: Option<String>,
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

/// A model cache in a package: its files (content in
/// `models/blobs/sha256/<sha256>`), links and folders, and its profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackagedCache {
    /// Its name, shared by the nodes that use it.
    pub name: String,
    /// The image whose tools filled or listed it.
    pub image: String,
    /// The profiles it holds, as far as the image's tools say.
    #[serde(default)]
    pub profiles: Vec<Profile>,
    /// Its regular files.
    pub files: Vec<CacheFile>,
    /// Its symbolic links.
    #[serde(default)]
    pub links: Vec<CacheLink>,
    /// Its folders.
    #[serde(default)]
    pub dirs: Vec<String>,
}

impl PackagedCache {
    /// The bytes of its files.
    pub fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// A file of a model cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheFile {
    /// Its path inside the cache, `/`-separated.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its permission bits.
    pub mode: u32,
    /// Its SHA-256, in hex: its content is the entry of that name.
    pub sha256: String,
}

/// A symbolic link of a model cache.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheLink {
    /// Its path inside the cache.
    pub path: String,
    /// Its target, relative to its folder, inside the cache.
    pub target: String,
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
