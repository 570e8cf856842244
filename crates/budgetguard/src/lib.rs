//! BudgetGuard TechOps: offline install packages of NVIDIA NIM containers.
//!
//! On the TechOps machine, [`package::create_package`] streams the selected
//! nodes' images out of the Docker engine into one ZIP. On a workstation the
//! package is read straight from that ZIP. Both faces (CLI and GUI) call these
//! functions and receive the same [`progress`] events.
//!
//! The strict ZIP reader and writer ([`package::zip`], the crate
//! `budgetguard-zip`) and the registry client ([`registry`], [`reference`]:
//! `budgetguard-registry`) are crates of their own, and what all of them
//! share (quoting, error text, [`Cancel`], [`files`], [`size`]) is
//! `budgetguard-base`; their paths here stay as they were.

pub mod catalog;
pub mod compose;
pub mod credentials;
pub mod engine;
pub mod install;
pub mod models;
pub mod package;
pub mod paths;
pub mod progress;
pub mod remedy;
pub mod session;
pub mod signing;

pub(crate) use budgetguard_base::LIST_ITEM;
pub use budgetguard_base::{error_text, files, size, Cancel};
pub use budgetguard_registry as registry;
pub use budgetguard_registry::reference;

/// A limit in seconds from the environment variable `name` (a positive
/// whole number), else `default`.
pub(crate) fn seconds_from_env(name: &str, default: std::time::Duration) -> std::time::Duration {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .filter(|seconds| *seconds > 0)
        .map_or(default, std::time::Duration::from_secs)
}
