//! Errors of installing and managing nodes, each saying what to do next.

use std::path::PathBuf;

use crate::catalog::CatalogError;
use crate::compose::ComposeError;
use crate::engine::EngineError;
use crate::package::PackageError;

pub use super::preflight::Problem;

/// Why an install, deploy or node command failed.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// The package is unusable.
    #[error(transparent)]
    Package(#[from] PackageError),
    /// The engine failed.
    #[error(transparent)]
    Engine(#[from] EngineError),
    /// Compose failed.
    #[error(transparent)]
    Compose(#[from] ComposeError),
    /// A node name could not be resolved.
    #[error(transparent)]
    Catalog(#[from] CatalogError),
    /// Checks made before changing anything found problems.
    #[error("nothing was changed, because:{}", problems.iter().map(|p| format!("{}{p}", crate::LIST_ITEM)).collect::<String>())]
    Preflight {
        /// Every problem found, each naming its fix.
        problems: Vec<Problem>,
    },
    /// A state file of the install folder is not what this tool wrote.
    #[error("`{}` is not valid ({detail}); repair it, or move it away to start afresh", path.display())]
    StateFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// A path of the install folder is a symbolic link.
    #[error("`{}` is a symbolic link; the install folder's own files and folders are never followed through links: remove the link and retry", path.display())]
    Symlink {
        /// The link.
        path: PathBuf,
    },
    /// A file of the install folder could not be read or written.
    #[error("cannot {action} `{}`: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// A node named on the command line is not installed.
    #[error("node `{name}` is not installed here; installed nodes: {}", if installed.is_empty() { "none".to_owned() } else { installed.join(", ") })]
    NotInstalled {
        /// The name given.
        name: String,
        /// The installed nodes.
        installed: Vec<String>,
    },
    /// A started node did not become ready in time.
    #[error("node `{node}` did not answer ready at {url} within {seconds} s; see why with `docker logs {container}`, or wait longer")]
    NotReady {
        /// The node.
        node: String,
        /// Its readiness URL.
        url: String,
        /// The time waited.
        seconds: u64,
        /// Its container.
        container: String,
    },
    /// A reference the package takes names an image of the user's, and the
    /// tag where such an image is kept names another one already.
    #[error("`{reference}` names an image of yours, which the install would keep as `{kept}`, but `{kept}` already names another image; remove or rename one of the two tags, then install again")]
    KeptTagTaken {
        /// The package's reference.
        reference: String,
        /// The tag that keeps the user's image.
        kept: String,
    },
    /// The run was interrupted.
    #[error("interrupted; run the same command again to complete it")]
    Cancelled,
    /// The trusted keys could not be read.
    #[error(transparent)]
    Signing(#[from] crate::signing::SigningError),
    /// Trusted keys exist and the package is not signed.
    #[error("the package is not signed, and this workstation installs only packages signed by {}: ask TechOps for a signed package", trusted.join(", "))]
    Unsigned {
        /// The trusted key ids.
        trusted: Vec<String>,
    },
    /// The package is signed by a key this workstation does not trust.
    #[error("the package is signed by key {key_id}, and this workstation trusts only {}: ask TechOps which key signs packages, and trust that key here", trusted.join(", "))]
    UntrustedSigner {
        /// The signer's key id.
        key_id: String,
        /// The trusted key ids.
        trusted: Vec<String>,
    },
    /// An update package whose base is not installed: something it leaves
    /// out is not on this workstation. Nothing was changed.
    #[error("this update package needs its base package {base} installed first: this workstation lacks {missing}, which that package holds; nothing was changed: install that package, then this one")]
    BaseMissing {
        /// The base package, as [`crate::package::manifest::PackageBase::describe`] names it.
        base: String,
        /// The first thing missing.
        missing: String,
    },
    /// The run a kill left unfinished could not be taken back.
    #[error("a `{command}` run in this install folder did not finish, and taking it back failed ({detail}): fix what that names (start Docker, install Compose, move away a file) and run the command again; nothing else was changed")]
    TakeBack {
        /// The unfinished run's command.
        command: String,
        /// What failed.
        detail: String,
    },
    /// Another install folder owns the node on this engine.
    #[error("node `{node}` is installed on this Docker engine from another install folder, `{folder}`: uninstall it there first, or install into that folder; nothing was changed")]
    NodeOfOtherFolder {
        /// The node.
        node: String,
        /// The folder that owns it.
        folder: String,
    },
    /// The folder's unfinished run changed another engine than this one.
    #[error("a `{command}` run in this install folder did not finish, and it changed the Docker engine at `{engine}`: run the command again with that engine, so that the run is taken back there first (if that engine is gone for good, move `journal.json` out of the install folder)")]
    JournalOfOtherEngine {
        /// The unfinished run's command.
        command: String,
        /// Its engine.
        engine: String,
    },
    /// A fault a test asked for (see `BUDGETGUARD_TEST_FAULT`).
    #[error("stopped at step `{step}`, as BUDGETGUARD_TEST_FAULT asks (a test's fault)")]
    Fault {
        /// The step boundary.
        step: String,
    },
    /// The signature of a trusted key does not match the manifest.
    #[error("the package's signature by key {key_id} does not match its manifest: the package was altered after it was signed; do not install it, and make a new one")]
    BadSignature {
        /// The key id.
        key_id: String,
    },
}

impl InstallError {
    /// An I/O error on `path`.
    pub(crate) fn io<'a>(
        action: &'static str,
        path: &'a std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> Self + 'a {
        move |source| InstallError::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}
