//! Install packages: one ZIP holding the nodes' images as an OCI image layout,
//! their Compose files, fallback install scripts and a manifest with the
//! checksum of every entry. `docs/package-format.md` describes the format.
//!
//! The images come from the Docker engine's export (`from_engine.rs`,
//! `export.rs`) or straight from their registries (`from_registry.rs`);
//! either way the one [`writer`](writer::PackageWriter) lists every entry,
//! and an update package (`since.rs`) leaves out what its base holds.

mod create;
mod created;
mod error;
pub mod estimate;
mod export;
mod from_engine;
mod from_registry;
mod hasher;
pub mod http;
mod image_config;
mod job;
pub mod layout;
pub mod manifest;
mod models;
pub mod oci;
mod partial;
mod plan;
mod read;
mod runtime;
mod since;
pub mod split;
mod writer;

pub use budgetguard_base::quote;
pub use budgetguard_zip as zip;

pub use create::{create_package, CreateOptions, CreateReport};
pub use created::{source_date_epoch, SOURCE_DATE_EPOCH};
pub use error::{BaseProblem, CacheProblem, EntryProblem, ImageProblem, PackageError, Structure};
pub use estimate::SizeEstimate;
pub use from_registry::RegistrySource;
pub use models::ModelOptions;
pub use plan::PackagePlan;
pub(crate) use read::is_remote_error;
pub use read::{Package, VerifyReport};
