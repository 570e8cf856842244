//! Errors of making and reading packages, each saying what to do next.

use std::path::PathBuf;

use super::layout::MANIFEST;
use super::quote::{quote, quote_detail, quote_path};
use super::zip::{DataProblem, ZipError};
use crate::catalog::CatalogError;
use crate::engine::EngineError;

/// Why making, inspecting or verifying a package failed.
#[derive(Debug, thiserror::Error)]
pub enum PackageError {
    /// A node could not be resolved.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// A model cache could not be filled or read.
    #[error(transparent)]
    Model(#[from] crate::models::ModelError),
    /// The package could not be signed.
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    /// An image could not be read from its registry.
    #[error(transparent)]
    Registry(#[from] crate::registry::RegistryError),
    /// The package could not be read from its server.
    #[error(transparent)]
    Http(#[from] super::http::HttpError),
    /// The package could not be published to a registry, or read from one.
    #[error(transparent)]
    Oci(#[from] super::oci::OciError),
    /// The parts of a split package are not the ones listed.
    #[error(transparent)]
    Part(#[from] super::split::PartError),
    /// The package an update package is made against cannot be used.
    #[error("cannot use the base package")]
    Base(#[source] Box<PackageError>),
    /// A blob's content is not what its digest and size promised.
    #[error("blob {digest} ({size} bytes) arrived as {actual} ({actual_size} bytes): its source served other data and it was refused; retry, and tell the source's owner if it happens again")]
    SourceDiffers {
        /// The digest it was asked for by.
        digest: String,
        /// The size it was asked for with.
        size: u64,
        /// The digest of what arrived.
        actual: String,
        /// The size of what arrived.
        actual_size: u64,
    },
    /// An image from a registry that no engine could load from a package.
    #[error(
        "the image `{}` {detail}; use another tag of it, or push it again with a current Docker",
        quote(image)
    )]
    UnsupportedImage {
        /// The image reference.
        image: String,
        /// What is wrong with it.
        detail: String,
    },
    /// `SOURCE_DATE_EPOCH` is not a time.
    #[error("`SOURCE_DATE_EPOCH` is `{}`, which is not a whole number of seconds since 1970; set it to one (e.g. `git log -1 --format=%ct`) or unset it", quote(value))]
    BadSourceDateEpoch {
        /// Its value.
        value: String,
    },
    /// Work that needs the Docker engine, in a run without one.
    #[error("{what} needs the Docker engine; start Docker and retry, or leave it out")]
    NeedsEngine {
        /// The work.
        what: &'static str,
    },
    /// The base of an update package is its output too.
    #[error(
        "`{}` is both the base package and the output; write the new package to another file",
        quote_path(path)
    )]
    BaseIsOutput {
        /// The base package.
        path: PathBuf,
    },
    /// More nodes were chosen than a package may hold (install refuses it).
    #[error("{count} nodes were chosen, more than the {max} a package may hold; split them over several packages")]
    TooManyNodes {
        /// How many were chosen.
        count: usize,
        /// The most a package may hold.
        max: usize,
    },
    /// The output file exists and replacing it was not asked for.
    #[error("`{}` already exists", path.display())]
    OutputExists {
        /// The output path.
        path: PathBuf,
    },
    /// Too little free disk for the package.
    #[error("not enough free disk in `{}`: the package needs about {}, {} is free; free some space, or write the package to another disk", dir.display(), crate::size::human(*needed), crate::size::human(*available))]
    DiskFull {
        /// The folder written to.
        dir: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}{}", quote_path(path), io_hint(source))]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The engine's export stream was not a complete image archive.
    #[error("the Docker engine's export is incomplete or damaged ({detail}); check that the engine is still running (`docker info`) and retry")]
    BadExport {
        /// What was wrong.
        detail: String,
    },
    /// The run was interrupted.
    #[error("interrupted; no package was written")]
    Cancelled,
    /// The file is not a package this tool can read.
    #[error("`{}` is not a valid install package ({problem}); copy the file again, or make a new package", quote_path(path))]
    NotAPackage {
        /// The package path.
        path: PathBuf,
        /// What is wrong.
        problem: Structure,
    },
    /// The package was made by a newer tool.
    #[error("`{}` uses package format {version}, this tool reads up to {supported}; install a newer budgetguard-techops", quote_path(path))]
    UnsupportedVersion {
        /// The package path.
        path: PathBuf,
        /// Its format version.
        version: u32,
        /// The highest version this tool reads.
        supported: u32,
    },
    /// An entry does not match the manifest.
    #[error("entry `{}` of `{}` {problem}: the package is damaged or was altered; copy it again, or make a new one", quote(entry), quote_path(path))]
    Mismatch {
        /// The package path.
        path: PathBuf,
        /// The entry.
        entry: String,
        /// How it differs.
        problem: EntryProblem,
    },
}

/// Why a file is not a package: its ZIP structure or its manifest.
#[derive(Debug, thiserror::Error)]
pub enum Structure {
    /// The ZIP structure is refused.
    #[error("{0}")]
    Zip(ZipError),
    /// No entries at all.
    #[error("it is empty")]
    Empty,
    /// The first entry of the central directory is not the manifest.
    #[error("its first entry is `{}`, not `{MANIFEST}`", quote(.0))]
    ManifestNotFirst(String),
    /// The manifest does not parse.
    #[error("its manifest is not JSON: {}", quote_detail(&.0.to_string()))]
    ManifestNotJson(serde_json::Error),
    /// The manifest's `format` is another.
    #[error("its manifest is of another format")]
    OtherFormat,
    /// The manifest has no `format_version`.
    #[error("its manifest has no format version")]
    NoVersion,
    /// The manifest lists more of something than a package may hold.
    #[error("its manifest lists {count} {what}, more than the {max} a package may hold")]
    TooMany {
        /// What it lists: `nodes`, `images`, `model caches` or `items`.
        what: &'static str,
        /// How many it lists.
        count: usize,
        /// The most a package may hold.
        max: usize,
    },
    /// A sum of the manifest's sizes does not fit in 64 bits.
    #[error("its manifest lists sizes whose sum is more than 16 EiB")]
    SizeOverflow,
    /// A text of the manifest holds a control character.
    #[error("its manifest holds a control character in `{}`", quote(.0))]
    ManifestControl(String),
    /// The manifest does not have the fields of its version.
    #[error("its manifest is not valid: {}", quote_detail(&.0.to_string()))]
    ManifestInvalid(serde_json::Error),
    /// A node of the manifest is not a valid catalog node.
    #[error("{}", node_problem(.0))]
    Node(CatalogError),
    /// Two images of the manifest have the same ID.
    #[error("its manifest lists image `{}` twice", quote(.0))]
    ImageTwice(String),
    /// Two images of the manifest have the same reference.
    #[error("its manifest gives reference `{}` to two images", quote(.0))]
    ReferenceTwice(String),
    /// An image reference that no node runs (a load would move that tag).
    #[error("its manifest tags an image `{}`, which no node of the package runs", quote(.0))]
    ReferenceOfNoNode(String),
    /// An image without a reference: no node runs it, and a load would
    /// leave it in the engine, untagged.
    #[error("its manifest carries image `{}`, which has no name and no node of the package runs", quote(.0))]
    ImageOfNoNode(String),
    /// A node whose image the package does not carry.
    #[error("its node `{}` runs an image the package does not carry", quote(.0))]
    NodeImageMissing(String),
    /// A node's model cache that is not in the package, or not its own.
    #[error("its node `{}` names a model cache the package does not carry for it", quote(.0))]
    NodeCacheMissing(String),
    /// A model cache of the manifest is unsafe or inconsistent.
    #[error("its model cache `{}` {problem}", quote(cache))]
    Cache {
        /// The cache's name.
        cache: String,
        /// What is wrong.
        problem: CacheProblem,
    },
    /// An image of the manifest has layers this tool does not load.
    #[error("its image `{}` {problem}", quote(image))]
    Image {
        /// The image's first reference.
        image: String,
        /// What is wrong.
        problem: ImageProblem,
    },
    /// An update package's base is inconsistent.
    #[error("its base {0}")]
    Base(BaseProblem),
}

/// What is wrong with an image of a manifest.
#[derive(Debug, thiserror::Error)]
pub enum ImageProblem {
    /// A layer (or a document) of a media type this tool does not load.
    #[error("has a blob of type `{}`, which this tool does not load", quote(.0))]
    LayerType(String),
    /// Its diff IDs do not fit its layers.
    #[error("lists diff IDs that do not fit its layers")]
    DiffIds,
    /// Its ID or a blob's digest is not a `sha256:` digest.
    #[error("has an ID or a blob digest that is no digest: {0}")]
    NotADigest(#[from] crate::digest::NotADigest),
}

/// What is wrong with an update package's base.
#[derive(Debug, thiserror::Error)]
pub enum BaseProblem {
    /// The base's id is not a package id.
    #[error("has an id that is not a SHA-256")]
    BadId,
    /// It leaves out something none of its images or caches uses.
    #[error("leaves out `{}`, which none of its images or model caches uses", quote(.0))]
    Unused(String),
    /// It leaves out something it carries too.
    #[error("leaves out `{}`, which it carries too", quote(.0))]
    Carried(String),
}

/// What is wrong with a model cache of a manifest.
#[derive(Debug, thiserror::Error)]
pub enum CacheProblem {
    /// The name is not a cache name.
    #[error("has a name that is not lower-case letters, digits and `-`")]
    BadName,
    /// Two caches share the name.
    #[error("appears twice")]
    Twice,
    /// A path that would leave the cache.
    #[error("has a path that leaves the cache: `{}`", quote(.0))]
    PathLeaves(String),
    /// A path deeper or longer than a package holds.
    #[error("has a path deeper or longer than a package holds: `{}`", quote(.0))]
    PathTooDeep(String),
    /// The same path twice.
    #[error("has the path `{}` twice", quote(.0))]
    PathTwice(String),
    /// A link whose target is absolute or outside the cache.
    #[error("has a link that points outside the cache: `{}`", quote(.0))]
    LinkOutside(String),
    /// A mode beyond permission bits (set-user-ID and the like).
    #[error("gives `{}` a mode beyond read, write and execute", quote(.0))]
    BadMode(String),
    /// A name that downloads and installs use only while they write (an
    /// install's temporary name would overwrite such a file).
    #[error("has `{}`, a name used only for files still being written", quote(.0))]
    WorkingName(String),
    /// A file whose content is not in the package at its size.
    #[error("has `{}`, whose content is missing or of another size", quote(.0))]
    FileMissing(String),
}

/// How an entry differs from what the manifest says.
#[derive(Debug, thiserror::Error)]
pub enum EntryProblem {
    /// In the ZIP, not in the manifest.
    #[error("is not listed in the manifest")]
    NotListed,
    /// Another size in the ZIP than in the manifest.
    #[error("is {size} bytes, the manifest says {listed}")]
    SizeDiffers {
        /// The size in the central directory.
        size: u64,
        /// The size in the manifest.
        listed: u64,
    },
    /// Listed twice in the manifest.
    #[error("is listed twice in the manifest")]
    ListedTwice,
    /// Listed in the manifest, not in the ZIP.
    #[error("is listed in the manifest but missing")]
    Missing,
    /// The manifest lists its own signature.
    #[error("is the manifest's signature, which the manifest cannot list")]
    ListsSignature,
    /// The manifest lists itself.
    #[error("is the manifest, which cannot list itself")]
    ListsManifest,
    /// A node's Compose file is not where the layout puts it.
    #[error("is not the Compose file of its node")]
    NotComposeOfNode,
    /// A node's Compose file that is not the one its settings give (the
    /// fallback installer would run it as it is).
    #[error("is not the Compose file its node's settings give: it was edited after the package was made")]
    ComposeNotGenerated,
    /// A Compose file no node uses (the fallback installer would install it).
    #[error("is a Compose file of no node in the manifest")]
    ComposeOfNoNode,
    /// A blob entry whose listed digest is not its name.
    #[error("is listed with another digest than its name")]
    DigestNotName,
    /// A model file no cache uses.
    #[error("is a model file no model cache uses")]
    ModelUnused,
    /// A blob of an image missing or of another size.
    #[error("is missing, or differs in size from the image that uses it")]
    BlobMissing,
    /// Too large to read into memory.
    #[error("is {size} bytes, more than the {max} allowed")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The most allowed.
        max: u64,
    },
    /// The data does not read back as the ZIP headers say.
    #[error("{0}")]
    Data(DataProblem),
    /// The data does not match the manifest's SHA-256.
    #[error("does not match its SHA-256 in the manifest")]
    Sha256,
    /// A file the fallback installer needs is missing.
    #[error("is missing, and the fallback installer needs it")]
    NeededByFallback,
    /// A JSON document of the package that does not parse as it should.
    #[error("is not the JSON it should be: {}", quote_detail(&.0.to_string()))]
    NotJson(serde_json::Error),
    /// A line of `SHA256SUMS` that `sha256sum -c` would not read as ours.
    #[error("has line {0}, which is not a `<sha256>  <entry>` line")]
    SumsLine(usize),
    /// `SHA256SUMS` lists an entry the manifest does not.
    #[error("lists `{}`, which the manifest does not list", quote(.0))]
    SumsUnknown(String),
    /// `SHA256SUMS` lists itself.
    #[error("lists itself")]
    SumsItself,
    /// `SHA256SUMS` lists an entry twice.
    #[error("lists `{}` twice", quote(.0))]
    SumsTwice(String),
    /// `SHA256SUMS` lists an entry with another checksum.
    #[error("lists `{}` with another SHA-256 than the manifest", quote(.0))]
    SumsDigest(String),
    /// `SHA256SUMS` leaves out an entry of the manifest.
    #[error("does not list `{}`, which the manifest lists", quote(.0))]
    SumsMissing(String),
    /// An image document names an image the manifest does not have.
    #[error("names an image the manifest does not have: `{}`", quote(.0))]
    ImageUnknown(String),
    /// An image document leaves out an image of the manifest.
    #[error("does not name image `{}` as the manifest does", quote(.0))]
    ImageMissing(String),
    /// An image document describes an image otherwise than the manifest.
    #[error("describes image `{}` otherwise than the manifest", quote(.0))]
    ImageDiffers(String),
    /// `images/index.json` is not an OCI image index.
    #[error("is not an OCI image index of schema version 2")]
    NotOciIndex,
    /// An OCI image manifest blob is not an image manifest.
    #[error("is not an OCI image manifest of schema version 2 with layers this tool loads (uncompressed or gzip)")]
    NotImageManifest,
    /// An image config gives other diff IDs than the manifest.
    #[error("is an image config whose diff IDs are not those the manifest gives")]
    DiffIdsDiffer,
    /// An OCI image manifest blob names another config or other layers.
    #[error("names another config or other layers than its image in the manifest")]
    LayersDiffer,
}

/// The error a [`super::read::VerifiedReader`] fails with, inside its
/// `io::Error`, when an entry's data does not match its SHA-256.
#[derive(Debug, thiserror::Error)]
#[error("entry `{}` does not match its SHA-256 in the manifest", quote(.entry))]
pub(crate) struct ChecksumError {
    /// The entry.
    pub(crate) entry: String,
}

/// A catalog node error about a node from a package: its name and reason
/// quoted, so that a long name does not hide the reason.
fn node_problem(error: &CatalogError) -> String {
    match error {
        CatalogError::InvalidNode { node, reason } => format!(
            "catalog node `{}` is not valid: {}",
            quote(node),
            quote_detail(reason)
        ),
        other => quote_detail(&other.to_string()).to_string(),
    }
}

fn io_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::StorageFull => "; free some disk space and retry",
        std::io::ErrorKind::PermissionDenied => "; choose a folder you can write to",
        std::io::ErrorKind::NotFound => "; check the path",
        _ => "",
    }
}
