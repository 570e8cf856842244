//! Docker Compose files for nodes, and the Compose command line.
//!
//! One file per node, one service per file, so each node is its own Compose
//! project: starting, upgrading or removing one never touches another.

mod cli;
mod file;

pub use cli::{Compose, ComposeError, Detecting, PreparedUp, Up};
pub use file::{compose_file, compose_file_for, models_folder, ComposeFile, CREDENTIALS_FILE};

use crate::catalog::Node;

/// The Compose project name of a node: stable, so `docker compose -p … up`
/// by hand and the tool address the same containers.
pub fn project_name(node: &Node) -> String {
    format!("{PROJECT_PREFIX}{}", node.service_name())
}

/// What the name of every node's Compose project starts with.
pub const PROJECT_PREFIX: &str = "budgetguard-";

/// The container name of a node.
pub fn container_name(node: &Node) -> String {
    project_name(node)
}
