//! BudgetGuard TechOps: offline install packages of NVIDIA NIM containers.
//!
//! On the TechOps machine, [`package::create_package`] streams the selected
//! nodes' images out of the Docker engine into one ZIP. On a workstation the
//! package is read straight from that ZIP. Both faces (CLI and GUI) call these
//! functions and receive the same [`progress`] events.

pub mod catalog;
pub mod compose;
pub mod credentials;
pub mod engine;
pub mod install;
pub mod package;
pub mod paths;
pub mod progress;
pub mod size;

/// Cancels long work: the CLI on Ctrl-C, the GUI's cancel button.
pub type Cancel = tokio_util::sync::CancellationToken;
