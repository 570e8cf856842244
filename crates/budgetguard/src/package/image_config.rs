//! The parts of an image config (the JSON document an image ID names) that
//! packaging reads: the layers' diff IDs, the creation time and the
//! platform.

use serde::Deserialize;

/// An image config, as far as it is read here.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ImageConfig {
    /// When the image was made (RFC 3339).
    #[serde(default)]
    pub created: Option<String>,
    /// Its operating system, e.g. `linux`.
    #[serde(default)]
    pub os: Option<String>,
    /// Its CPU architecture, e.g. `amd64`.
    #[serde(default)]
    pub architecture: Option<String>,
    /// Its layers.
    pub rootfs: RootFs,
}

/// The layers of an image config.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct RootFs {
    /// The SHA-256 of each uncompressed layer, bottom first.
    pub diff_ids: Vec<String>,
}

impl ImageConfig {
    /// Parses a config blob.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Its creation time, when it has one that reads.
    pub(crate) fn created_time(&self) -> Option<time::OffsetDateTime> {
        self.created.as_deref().and_then(super::created::parse_time)
    }
}
