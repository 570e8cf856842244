//! Where the tool keeps its files on this machine.

use std::path::PathBuf;

fn project_dirs() -> Option<directories::ProjectDirs> {
    directories::ProjectDirs::from("", "BudgetGuard", "budgetguard-techops")
}

/// The user's configuration folder for this tool (catalog file).
pub fn config_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.config_dir().to_owned())
}

/// The user's cache folder for this tool (what a run may forget).
pub fn cache_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.cache_dir().to_owned())
}

/// The user's data folder for this tool (installed nodes, credentials).
pub fn data_dir() -> Option<PathBuf> {
    project_dirs().map(|d| d.data_dir().to_owned())
}
