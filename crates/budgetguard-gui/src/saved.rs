//! The settings the GUI keeps between runs, in a small JSON file of the
//! user's configuration folder (`gui.json`): the install folder chosen on
//! the Install page.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The file's name in the configuration folder.
const FILE: &str = "gui.json";

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Saved {
    /// The install folder chosen in the GUI; `None`: the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_dir: Option<PathBuf>,
}

/// The default settings file: `gui.json` in the user's configuration
/// folder for this tool.
pub(crate) fn default_file() -> Option<PathBuf> {
    budgetguard::paths::config_dir().map(|dir| dir.join(FILE))
}

impl Saved {
    /// The settings in `file`; the defaults when it is missing or cannot be
    /// read (a setting is a convenience, never a reason not to start).
    pub(crate) fn load(file: Option<&Path>) -> Self {
        file.and_then(|file| std::fs::read(file).ok())
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    /// Writes the settings to `file` (its folder made if missing), whole
    /// or not at all: a temporary file renamed over it.
    pub(crate) fn store(&self, file: &Path) -> std::io::Result<()> {
        if let Some(folder) = file.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let partial = file.with_extension("json.partial");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&partial, json)?;
        std::fs::rename(&partial, file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_survive_a_restart_and_a_bad_file_is_the_defaults() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/gui.json");
        assert_eq!(Saved::load(Some(&file)), Saved::default());
        let saved = Saved {
            install_dir: Some("/srv/nodes".into()),
        };
        saved.store(&file).unwrap();
        assert_eq!(Saved::load(Some(&file)), saved);
        std::fs::write(&file, b"{").unwrap();
        assert_eq!(Saved::load(Some(&file)), Saved::default());
        assert_eq!(Saved::load(None), Saved::default());
    }
}
