//! Integration tests of the `budgetguard-techops` binary against the real
//! Docker engines, Compose versions and ZIP readers of this machine.

mod compose_config;
mod create;
mod create_errors;
mod install;
mod install_errors;
mod models;
mod never_wrong;
mod pull;
mod repack;
mod support;
mod zip_structure;
