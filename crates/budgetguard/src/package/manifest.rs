//! The package manifest, `budgetguard-package.json`: what the package holds,
//! and the size and SHA-256 of every other entry.

use serde::{Deserialize, Serialize};

use super::zip::Compression;
use crate::catalog::Node;
use crate::digest::{Digest, ImageId};
use crate::models::Profile;
use crate::size::total;

/// The value of [`Manifest::format`].
pub const FORMAT: &str = "budgetguard-install-package";

/// The highest format version this tool reads. A reader refuses a higher
/// one: a newer tool made the package. A package is written with the lowest
/// version that reads it right ([`Manifest::version_needed`]).
pub const FORMAT_VERSION: u32 = 3;

/// The version of a package without model caches, compressed layers or a
/// base, which readers of version 1 install correctly.
pub const FORMAT_VERSION_IMAGES_ONLY: u32 = 1;

/// The version of a package with model caches (but no compressed layers
/// and no base), which readers of version 2 install correctly.
pub const FORMAT_VERSION_MODELS: u32 = 2;

/// The media type of a gzip-compressed layer in a package (format 3), as
/// its OCI image manifest names it.
pub const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

/// The most nodes a package may hold: far more than a workstation runs.
pub const MAX_NODES: usize = 1_000;

/// The most images a package may hold.
pub const MAX_IMAGES: usize = 1_000;

/// The most items a manifest may list, all its lists together (entries,
/// model files, layers, references…): no real package comes close, and a
/// reader's checks stay quick.
pub const MAX_ITEMS: usize = 200_000;

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
    /// The package this one updates, and what it leaves out because that
    /// package holds it (format 3): an update package.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub base: Option<PackageBase>,
    /// Every other entry of the package.
    pub entries: Vec<EntryDigest>,
}

impl Manifest {
    /// The lowest format version whose readers read this manifest right:
    /// 3 with compressed layers or a base, 2 with model caches, else 1.
    pub fn version_needed(&self) -> u32 {
        let compressed = self
            .images
            .iter()
            .flat_map(|i| &i.layers)
            .any(|l| l.media_type.is_some());
        if compressed || self.base.is_some() {
            FORMAT_VERSION
        } else if !self.caches.is_empty() {
            FORMAT_VERSION_MODELS
        } else {
            FORMAT_VERSION_IMAGES_ONLY
        }
    }

    /// Whether every sum of sizes a reader makes fits in 64 bits: of the
    /// entries, of each image and all images, of each cache and all caches,
    /// and of what the base saves.
    pub fn sizes_fit(&self) -> bool {
        fn sum<T>(items: &[T], size: fn(&T) -> Option<u64>) -> Option<u64> {
            items
                .iter()
                .try_fold(0u64, |sum, item| sum.checked_add(size(item)?))
        }
        let images = sum(&self.images, PackagedImage::checked_size);
        let caches = sum(&self.caches, PackagedCache::checked_size);
        total(self.entries.iter().map(|e| e.size)).is_some()
            && images.is_some()
            && caches.is_some()
            && self
                .base
                .as_ref()
                .is_none_or(|b| b.checked_savings().is_some())
    }
}

/// What an update package leaves out, and the package that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageBase {
    /// The base package's id (the SHA-256 of its manifest, in hex).
    pub package_id: String,
    /// The base package's file name when this one was made, for messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_name: Option<String>,
    /// Image blobs (layers, configs, OCI image manifests) of this package's
    /// images that it leaves out.
    #[serde(default)]
    pub blobs: Vec<Blob>,
    /// Model files of this package's caches that it leaves out, as
    /// `sha256:<hex>` and size.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub model_files: Vec<Blob>,
}

impl PackageBase {
    /// The bytes left out: what installing the base first saves (at most
    /// `u64::MAX`; an opened package's sizes fit, see [`Manifest::sizes_fit`]).
    pub fn savings(&self) -> u64 {
        self.checked_savings().unwrap_or(u64::MAX)
    }

    fn checked_savings(&self) -> Option<u64> {
        total(self.blobs.iter().chain(&self.model_files).map(|b| b.size))
    }

    /// How messages name the base: its file name and short id, or its id.
    pub fn describe(&self) -> String {
        let short = self.package_id.get(..12).unwrap_or(&self.package_id);
        match &self.file_name {
            Some(name) => format!("`{}` (package id {short}…)", super::quote::quote(name)),
            None => format!("package id {short}…"),
        }
    }
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
    /// Its layers, bottom first: uncompressed tars named by their diff IDs,
    /// or (format 3) compressed as their registry served them or the
    /// engine exported them, named by their digest, with their media type.
    pub layers: Vec<Blob>,
    /// The diff IDs of its layers as its config gives them, bottom first,
    /// when they are not the layers' own digests (compressed layers,
    /// format 3). A load plan compares them with the layers the engine has.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diff_ids: Vec<String>,
}

impl PackagedImage {
    /// The diff IDs a package records for `layers`, whose config gives
    /// `diff_ids`: those when a layer is compressed, else none (each
    /// layer's digest is its diff ID).
    pub(crate) fn recorded_diff_ids(layers: &[Blob], diff_ids: Vec<String>) -> Vec<String> {
        if layers.iter().any(|l| l.media_type.is_some()) {
            diff_ids
        } else {
            Vec::new()
        }
    }

    /// The bytes of its layers (as the package holds them; at most
    /// `u64::MAX`, see [`Manifest::sizes_fit`]).
    pub fn size(&self) -> u64 {
        self.checked_size().unwrap_or(u64::MAX)
    }

    fn checked_size(&self) -> Option<u64> {
        total(self.layers.iter().map(|l| l.size))
    }

    /// Its ID, of an opened package (whose structure check makes sure it
    /// is a digest).
    pub(crate) fn checked_id(&self) -> ImageId {
        checked(&self.id).into()
    }

    /// The diff IDs of its layers, bottom first: [`PackagedImage::diff_ids`],
    /// or the layers' digests when the layers are uncompressed.
    pub fn layer_diff_ids(&self) -> Vec<&str> {
        if self.diff_ids.is_empty() {
            self.layers.iter().map(|l| l.digest.as_str()).collect()
        } else {
            self.diff_ids.iter().map(String::as_str).collect()
        }
    }
}

/// A content-addressed blob of the OCI layout.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Blob {
    /// `sha256:<hex>`.
    pub digest: String,
    /// Size in bytes.
    pub size: u64,
    /// A compressed layer's media type, [`GZIP_LAYER`] (format 3); none for
    /// an uncompressed layer, a config or an image manifest.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
}

impl Blob {
    /// Its digest, of an opened package (whose structure check makes sure
    /// it is one).
    pub(crate) fn checked_digest(&self) -> Digest {
        checked(&self.digest)
    }

    /// An uncompressed blob (a tar layer, a config, a manifest).
    pub fn plain(digest: String, size: u64) -> Self {
        Self {
            digest,
            size,
            media_type: None,
        }
    }
}

/// `text`, an image ID or a blob digest of an opened package's manifest.
fn checked(text: &str) -> Digest {
    text.parse()
        .expect("an opened package's image IDs and blob digests are checked")
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
    /// The bytes of its files (at most `u64::MAX`, see
    /// [`Manifest::sizes_fit`]).
    pub fn size(&self) -> u64 {
        self.checked_size().unwrap_or(u64::MAX)
    }

    fn checked_size(&self) -> Option<u64> {
        total(self.files.iter().map(|f| f.size))
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
