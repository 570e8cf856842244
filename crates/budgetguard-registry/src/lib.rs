//! Reading images straight from their registry, with no Docker engine: an
//! OCI distribution client that resolves a reference to one platform's
//! manifest and config, and streams blobs with their digests checked on the
//! way, resuming dropped connections.
//!
//! Logins are found as `docker pull` finds them ([`RegistryAuth`]); basic
//! and bearer-token registries both work. Loopback registries are spoken to
//! over plain HTTP, every other one over HTTPS (rustls, the system's CA
//! certificates); a token service or a redirect on plain HTTP is refused
//! unless it is on this machine too, so logins and tokens travel only over
//! TLS. A credential helper's output is never shown, and it runs with a
//! time limit and an output limit. [`reference`] reads image references as
//! Docker does; [`progress`] is what a blob download reports.
//!
//! ```no_run
//! # async fn demo() -> Result<(), budgetguard_registry::RegistryError> {
//! use std::sync::Arc;
//! use budgetguard_registry::reference::Reference;
//! use budgetguard_registry::{ClientOptions, Platform, RegistryAuth, RegistryClient};
//!
//! let client = RegistryClient::new(RegistryAuth::new(None), ClientOptions::default())?;
//! let reference = Reference::parse("nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3").unwrap();
//! let image = client.resolve(&reference, &Platform::default()).await?;
//! let cancel = budgetguard_base::Cancel::new();
//! let reporter = Arc::new(());
//! tokio::task::spawn_blocking(move || {
//!     for (_descriptor, mut blob) in client.blob_queue(&reference, image.layers, 3, reporter, &cancel) {
//!         std::io::copy(&mut blob, &mut std::io::sink()).map_err(budgetguard_registry::RegistryError::from_io)?;
//!     }
//!     Ok::<_, budgetguard_registry::RegistryError>(())
//! }).await.unwrap()?;
//! # Ok(()) }
//! ```

mod auth;
mod blob;
mod client;
mod error;
mod helper;
mod manifest;
pub mod progress;
mod push;
mod queue;
pub mod reference;
mod resolve;
mod token;

pub use auth::{
    docker_config_dir, Credential, CredentialError, RegistryAuth, DOCKER_HUB_KEY,
    HELPER_TIME_LIMIT, HELPER_TIME_LIMIT_VARIABLE, NGC_REGISTRY, NGC_USER,
};
pub use blob::BlobReader;
pub use client::{install_tls_provider, is_loopback_url, ClientOptions, RegistryClient};
pub use error::{login_hint, RegistryError};
pub use helper::HelperFault;
pub use manifest::{
    Descriptor, Platform, PlatformError, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST, OCI_INDEX,
    OCI_MANIFEST,
};
pub use push::{OpenBlob, Pushed};
pub use queue::BlobQueue;
pub use resolve::{RawManifest, Resolved};
