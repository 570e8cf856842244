//! What every route shares.

use std::sync::Mutex;

use budgetguard::catalog::Catalog;
use budgetguard::Cancel;

use crate::chooser::{MediaRoots, Recent};
use crate::jobs::Jobs;
use crate::security::Guard;
use crate::settings::PackageSettings;
use crate::workstation::Workstation;

/// The server's state, behind an `Arc`.
#[derive(Debug)]
pub(crate) struct AppState {
    /// The nodes offered.
    pub catalog: Catalog,
    /// The create form's values as last used: they survive a reload.
    pub settings: Mutex<PackageSettings>,
    /// The Install page's package path as last used.
    pub install_path: Mutex<String>,
    /// The registry reference last published to (kept in the settings
    /// file too).
    pub publish_to: Mutex<String>,
    /// Where removable drives are mounted.
    pub media: MediaRoots,
    /// The folders files were lately chosen in.
    pub recent: Recent,
    /// Where the settings kept between runs are written, if anywhere.
    pub settings_file: Option<std::path::PathBuf>,
    /// The address and token checks.
    pub guard: Guard,
    /// The one job at a time.
    pub jobs: Jobs,
    /// The engine, and deploying and managing nodes here.
    pub workstation: std::sync::Arc<Workstation>,
    /// Cancelled when the server stops: ends event streams and jobs.
    pub stop: Cancel,
}
