//! How a blob download goes, as the client reports it. The caller turns
//! these events into its own (the library reports none of them today; the
//! tests watch them), so this crate names no step of the tool.

use std::sync::Arc;

/// What happened to one blob; `blob` names it as `<image> <short digest>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlobEvent {
    /// Its download began; `total` is its size in bytes.
    Started {
        /// The blob.
        blob: String,
        /// Its size in bytes.
        total: u64,
    },
    /// Bytes received so far (at most one event every 4 MiB, and one at the
    /// end).
    Advanced {
        /// The blob.
        blob: String,
        /// Bytes received since it started.
        done: u64,
    },
    /// It arrived whole and matched its digest.
    Finished {
        /// The blob.
        blob: String,
    },
}

/// Receives blob events; called from the download loops, so it must be
/// cheap. `()` ignores them.
pub trait BlobReporter: Send + Sync {
    /// Handles one event.
    fn report(&self, event: BlobEvent);
}

impl BlobReporter for () {
    fn report(&self, _event: BlobEvent) {}
}

/// A shared blob reporter, as the download tasks hold it.
pub type SharedBlobReporter = Arc<dyn BlobReporter>;
