//! Packages in a standard OCI registry (CNCF distribution, Harbor, a P2P
//! agent such as Kraken's in front of one): [`publish_package`] puts a
//! package there, and [`OciSource`] reads it back in place, as the very
//! bytes of the package file, so the same strict reader, signature check
//! and install run on it as on a file.
//!
//! What a publication holds, in the repository it is published to:
//!
//! - every image of the package, as an ordinary image: its blobs and its
//!   manifest (by digest), and tagged in a repository of its own under the
//!   package's (`<repository>/<image's path>:<tag>`), so `docker pull` and
//!   every registry tool see it;
//! - an artifact manifest (ORAS conventions, artifact type
//!   [`ARTIFACT_TYPE`]): every other entry of the package as a blob titled
//!   with its entry name (`oras pull` writes them as files), the package's
//!   *skeleton* (its bytes outside the large entries: local headers, small
//!   entries, the central directory) and, as its config, the package's
//!   *map* ([`map`]): where in the package file each large entry's data
//!   lies and which blob holds it;
//! - an image index, tagged, that names the images and the artifact.
//!
//! A large stored entry's data is exactly the blob it names, so a layer is
//! kept once in the registry and fetched whole by digest (as P2P agents
//! and caches serve blobs best); a workstation fetches only the blobs of
//! the entries it lacks.

mod address;
mod error;
pub mod map;
mod publish;
mod source;
#[cfg(test)]
mod tests;

pub use address::{is_oci, OciAddress};
pub use error::OciError;
pub use publish::{publish_package, PublishOptions, PublishReport, PublishedImage};
pub use source::OciSource;

/// The artifact type of a published package (its artifact manifest's and
/// its index's `artifactType`).
pub const ARTIFACT_TYPE: &str = "application/vnd.budgetguard.package.v1";
/// The media type of the package's map, the artifact's config.
pub const MAP_TYPE: &str = "application/vnd.budgetguard.package.map.v1+json";
/// The media type of the package's skeleton.
pub const SKELETON_TYPE: &str = "application/vnd.budgetguard.package.skeleton.v1";
/// The media type of an entry's file (its uncompressed data).
pub const FILE_TYPE: &str = "application/vnd.budgetguard.package.file.v1";
/// The media type of an entry's compressed data, as the package stores it.
pub const ZIP_DATA_TYPE: &str = "application/vnd.budgetguard.package.zip-data.v1";
/// The annotation that titles a file (ORAS writes it under this name).
pub const TITLE: &str = "org.opencontainers.image.title";
/// The annotation of an image's reference in the package.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";
/// The annotation of the package id, on the index and the artifact.
pub const PACKAGE_ID: &str = "io.budgetguard.package.id";
