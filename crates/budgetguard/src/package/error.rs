//! Errors of making and reading packages, each saying what to do next.

use std::path::PathBuf;

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
    /// The output file exists and replacing it was not asked for.
    #[error("`{}` already exists; pass `--force` to replace it, or choose another `--output`", path.display())]
    OutputExists {
        /// The output path.
        path: PathBuf,
    },
    /// Too little free disk for the package.
    #[error("not enough free disk in `{}`: the package needs about {}, {} is free; free some space or choose another `--output`", dir.display(), crate::size::human(*needed), crate::size::human(*available))]
    DiskFull {
        /// The folder written to.
        dir: PathBuf,
        /// Bytes needed.
        needed: u64,
        /// Bytes free.
        available: u64,
    },
    /// A file could not be read or written.
    #[error("cannot {action} `{}`: {source}{}", path.display(), io_hint(source))]
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
    #[error("`{}` is not a valid install package ({detail}); copy the file again, or make a new one with `budgetguard-techops create-install-package`", path.display())]
    NotAPackage {
        /// The package path.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The package was made by a newer tool.
    #[error("`{}` uses package format {version}, this tool reads up to {supported}; install a newer budgetguard-techops", path.display())]
    UnsupportedVersion {
        /// The package path.
        path: PathBuf,
        /// Its format version.
        version: u32,
        /// The highest version this tool reads.
        supported: u32,
    },
    /// An entry does not match the manifest.
    #[error("entry `{entry}` of `{}` {detail}: the package is damaged or was altered; copy it again, or make a new one", path.display())]
    Mismatch {
        /// The package path.
        path: PathBuf,
        /// The entry.
        entry: String,
        /// How it differs.
        detail: String,
    },
}

fn io_hint(error: &std::io::Error) -> &'static str {
    match error.kind() {
        std::io::ErrorKind::StorageFull => "; free some disk space and retry",
        std::io::ErrorKind::PermissionDenied => "; choose a folder you can write to",
        std::io::ErrorKind::NotFound => "; check the path",
        _ => "",
    }
}
