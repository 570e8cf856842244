//! The settings the GUI keeps between runs, in a small JSON file of the
//! user's configuration folder (`gui.json`): the install folder chosen on
//! the Install page, and the file chooser's recent folders.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

/// The file's name in the configuration folder.
const FILE: &str = "gui.json";

/// What the file holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Saved {
    /// The install folder chosen in the GUI; `None`: the default one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_dir: Option<PathBuf>,
    /// The folders files were lately chosen in, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_folders: Vec<PathBuf>,
}

/// Held while the file is read and written again, so that two changes at
/// once both stay.
static UPDATING: Mutex<()> = Mutex::new(());

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

    /// Changes the settings in `file` with `change`, the others kept.
    pub(crate) fn update(file: &Path, change: impl FnOnce(&mut Self)) -> std::io::Result<()> {
        let _held = UPDATING.lock().unwrap_or_else(|e| e.into_inner());
        let mut saved = Self::load(Some(file));
        change(&mut saved);
        saved.store(file)
    }

    /// Writes the settings to `file` (its folder made if missing), whole
    /// or not at all: a temporary file renamed over it.
    fn store(&self, file: &Path) -> std::io::Result<()> {
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
        Saved::update(&file, |s| s.install_dir = Some("/srv/nodes".into())).unwrap();
        Saved::update(&file, |s| s.recent_folders = vec!["/media/a".into()]).unwrap();
        // Each change keeps the other settings.
        let saved = Saved {
            install_dir: Some("/srv/nodes".into()),
            recent_folders: vec!["/media/a".into()],
        };
        assert_eq!(Saved::load(Some(&file)), saved);
        std::fs::write(&file, b"{").unwrap();
        assert_eq!(Saved::load(Some(&file)), Saved::default());
        assert_eq!(Saved::load(None), Saved::default());
    }
}
