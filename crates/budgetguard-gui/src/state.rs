//! What every route shares.

use std::path::PathBuf;

use budgetguard::catalog::Catalog;
use budgetguard::Cancel;

use crate::jobs::Jobs;
use crate::security::Guard;
use crate::workstation::Workstation;

/// The server's state, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The nodes offered.
    pub catalog: Catalog,
    /// The output path the package form proposes.
    pub default_output: PathBuf,
    /// The address and token checks.
    pub guard: Guard,
    /// The one job at a time.
    pub jobs: Jobs,
    /// The engine, and deploying and managing nodes here.
    pub workstation: std::sync::Arc<Workstation>,
    /// Cancelled when the server stops: ends event streams and jobs.
    pub stop: Cancel,
}
