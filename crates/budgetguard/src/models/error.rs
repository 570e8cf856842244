//! Errors of model caches, each saying what to do next.

use std::path::PathBuf;

use crate::engine::EngineError;
use crate::package::quote::quote_path;

/// What makes a cache unfit to package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unfit {
    /// A link with an absolute target.
    AbsoluteLink,
    /// A link whose target lies outside the cache.
    LinkOutside,
    /// A device, FIFO or socket.
    Special,
    /// A name that is not UTF-8 or that a package cannot hold (see
    /// `package::zip::cache_path_problem`).
    BadName,
    /// A path deeper or longer than a package holds.
    TooDeep,
    /// A file with a hard link outside the cache: its content may be a
    /// file the cache's owner could not read.
    HardLinkOutside,
}

impl std::fmt::Display for Unfit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Unfit::AbsoluteLink => "is a link with an absolute target",
            Unfit::LinkOutside => "is a link that points outside the cache",
            Unfit::Special => "is a device, FIFO or socket",
            Unfit::BadName => "has a name a package cannot hold: not UTF-8, or with `\\`, `:`, a control or invisible format character",
            Unfit::TooDeep => "is nested deeper or named longer than a package holds (64 folders, 1024 bytes)",
            Unfit::HardLinkOutside => "is a file with a hard link outside the cache",
        })
    }
}

/// Why filling, listing, packaging or placing a model cache failed.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// The fill needs secrets that are not there.
    #[error("filling the model cache `{cache}` needs {}: set them in the environment or store them on this machine", missing.join(" and "))]
    MissingCredentials {
        /// The cache.
        cache: String,
        /// The variables missing.
        missing: Vec<String>,
    },
    /// No profile was chosen and the catalog names no command for all.
    #[error("no profile chosen for the model cache `{cache}`, and its catalog entry has no `fill_all` command: choose profiles (the image's `list-model-profiles` lists them)")]
    NoProfiles {
        /// The cache.
        cache: String,
    },
    /// The image's fill command failed.
    #[error("filling the model cache `{cache}` failed (exit code {code}): {last}; fix the cause and retry: downloads resume where they stopped")]
    FillFailed {
        /// The cache.
        cache: String,
        /// The container's exit code.
        code: i64,
        /// Its last line of output.
        last: String,
    },
    /// The image's list command failed.
    #[error("listing the profiles of the model cache `{cache}` failed (exit code {code}): {last}")]
    ListFailed {
        /// The cache.
        cache: String,
        /// The container's exit code.
        code: i64,
        /// Its last line of output.
        last: String,
    },
    /// No folder to fill caches in was given (no home folder).
    #[error("no folder to keep model caches in: give filled caches, or leave the models out")]
    NoStore,
    /// A given cache folder is not a folder.
    #[error("model cache `{}` is not a folder: name an existing, filled model cache", path.display())]
    NotAFolder {
        /// The path given.
        path: PathBuf,
    },
    /// A given cache names no cache of the chosen nodes.
    #[error("no chosen node uses a model cache called `{name}`; their caches: {}", known.join(", "))]
    UnknownCache {
        /// The name given.
        name: String,
        /// The caches of the chosen nodes.
        known: Vec<String>,
    },
    /// A cache folder was given without a name, but several caches are in play.
    #[error("the chosen nodes use several model caches ({}): say which cache each folder is for", caches.join(", "))]
    WhichCache {
        /// The caches of the chosen nodes.
        caches: Vec<String>,
    },
    /// Something in a cache cannot be packaged.
    #[error("`{}` {unfit}: a model cache holds files, folders and links inside itself only; fix or remove it", quote_path(path))]
    Unfit {
        /// The entry.
        path: PathBuf,
        /// What is wrong with it.
        unfit: Unfit,
    },
    /// A file changed while it was read.
    #[error("`{}` changed while it was packaged; stop whatever writes to the model cache and retry", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// A file or folder could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}

impl ModelError {
    /// An I/O error on `path`.
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| ModelError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}
