//! Install packages: one ZIP holding the nodes' images as an OCI image layout,
//! their Compose files, fallback install scripts and a manifest with the
//! checksum of every entry. `docs/package-format.md` describes the format.

mod create;
mod error;
pub mod estimate;
mod export;
pub mod layout;
pub mod manifest;
mod models;
pub mod quote;
mod read;
mod writer;
pub mod zip;

pub use create::{create_package, CreateOptions, CreateReport};
pub use error::{CacheProblem, EntryProblem, PackageError, Structure};
pub use estimate::{estimate, SizeEstimate};
pub use models::ModelOptions;
pub use read::{Package, VerifyReport};
