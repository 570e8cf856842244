//! The create form's values as the user left them: kept by the server so
//! that they survive a reload, read by the pages and by Create.

use budgetguard::package::zip::Compression;
use budgetguard::package::RegistrySource;
use serde::{Deserialize, Serialize};

/// The create form's values, as the user left them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PackageSettings {
    /// The output file, as typed.
    pub output: String,
    /// How to compress.
    pub compression: Compression,
    /// Replace an existing file.
    #[serde(default)]
    pub force: bool,
    /// Never pull.
    #[serde(default)]
    pub no_pull: bool,
    /// The nodes start after install.
    #[serde(default)]
    pub start_after_install: bool,
    /// Package the nodes' model caches (on unless unticked).
    #[serde(default = "yes")]
    pub models: bool,
    /// The profiles to package, as typed: ids (or `cache=id`), separated
    /// by commas; empty for each node's defaults.
    #[serde(default)]
    pub profiles: String,
    /// The secret key that signs the package, as typed; empty: unsigned.
    /// Its password is never part of the settings: it comes with each
    /// Create request only.
    #[serde(default)]
    pub sign_key: String,
    /// Read the images from their registries, with no engine.
    #[serde(default)]
    pub from_registry: bool,
    /// The platform a multi-platform image resolves to, as typed.
    #[serde(default = "default_platform")]
    pub platform: String,
    /// Blobs downloading at once from the registries.
    #[serde(default = "default_jobs")]
    pub jobs: usize,
    /// The old package this one updates, as typed; empty: a whole package.
    #[serde(default)]
    pub since: String,
    /// The size of the parts to split the package into, as typed
    /// (`4095MiB` for a FAT32 drive); empty: one file.
    #[serde(default)]
    pub split: String,
}

/// The part size for a FAT32 drive, whose files hold at most 1 byte under
/// 4 GiB.
pub(crate) const FAT32_PART: &str = "4095MiB";

fn yes() -> bool {
    true
}

/// The library's default platform, as the platform field shows it.
fn default_platform() -> String {
    RegistrySource::default().platform.to_string()
}

/// The library's default number of downloads at once.
fn default_jobs() -> usize {
    RegistrySource::default().jobs
}

impl PackageSettings {
    /// The form as first shown: `output`, no compression, models packaged
    /// with each node's default profiles, no other option ticked, unsigned,
    /// images from Docker (the registry settings at the library's
    /// defaults), not an update.
    pub(crate) fn new(output: String) -> Self {
        Self {
            output,
            compression: Compression::None,
            force: false,
            no_pull: false,
            start_after_install: false,
            models: true,
            profiles: String::new(),
            sign_key: String::new(),
            from_registry: false,
            platform: default_platform(),
            jobs: default_jobs(),
            since: String::new(),
            split: String::new(),
        }
    }

    /// Whether the form's parts are the FAT32 drive's size, or any other
    /// typed size (`custom`), or none (`none`).
    pub(crate) fn split_is(&self, choice: &str) -> bool {
        match self.split.trim() {
            "" => choice == "none",
            FAT32_PART => choice == "fat32",
            _ => choice == "custom",
        }
    }

    /// Whether an option under "More options" differs from the form as
    /// first shown: the fold then opens, so that nothing set is hidden.
    pub(crate) fn more_options_set(&self) -> bool {
        self.compression != Compression::None
            || !self.split.trim().is_empty()
            || self.from_registry
            || !self.since.trim().is_empty()
            || !self.profiles.trim().is_empty()
    }

    /// Whether the form's compression is `name` (`none`, `deflate`, `zstd`).
    pub(crate) fn compression_is(&self, name: &str) -> bool {
        self.compression.to_string().eq_ignore_ascii_case(name)
    }
}
