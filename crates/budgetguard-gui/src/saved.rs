//! The settings the GUI keeps between runs, in a small JSON file of the
//! user's configuration folder (`gui.json`): the install folder chosen on
//! the Install page, the file chooser's recent folders and the registry
//! reference last published to (never a secret). GUIs running at
//! once change it in turn, under a lock file beside it.

use std::fs::File;
use std::io::Write;
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
    /// The folders files were lately chosen in, newest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub recent_folders: Vec<PathBuf>,
    /// The registry reference a package was last published to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish_to: Option<String>,
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

    /// Changes the settings in `file` with `change`, the others kept, so
    /// that changes made at once (by this GUI or another one of this user)
    /// all stay: under the lock of [`lock_file`], which every GUI takes to
    /// change the file, the file is read again, changed, and written whole.
    pub(crate) fn update(file: &Path, change: impl FnOnce(&mut Self)) -> std::io::Result<()> {
        if let Some(folder) = file.parent() {
            std::fs::create_dir_all(folder)?;
        }
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(lock_file(file))?;
        // Released when the lock file closes, at the end.
        fs4::FileExt::lock(&lock)?;
        let mut saved = Self::load(Some(file));
        change(&mut saved);
        saved.store(file)
    }

    /// Writes the settings to `file`, whole or not at all: a temporary
    /// file, on disk, renamed over it (under the lock, so no other GUI
    /// writes the same temporary file).
    fn store(&self, file: &Path) -> std::io::Result<()> {
        let partial = file.with_extension("json.partial");
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        let mut written = File::create(&partial)?;
        written.write_all(&json)?;
        written.sync_all()?;
        std::fs::rename(&partial, file)
    }
}

/// The lock file beside the settings file `file` (`gui.json.lock`): held
/// while a GUI changes the settings. It stays, empty.
fn lock_file(file: &Path) -> PathBuf {
    file.with_extension("json.lock")
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
        Saved::update(&file, |s| s.publish_to = Some("registry.lan/a:1".into())).unwrap();
        // Each change keeps the other settings.
        let saved = Saved {
            install_dir: Some("/srv/nodes".into()),
            recent_folders: vec!["/media/a".into()],
            publish_to: Some("registry.lan/a:1".into()),
        };
        assert_eq!(Saved::load(Some(&file)), saved);
        std::fs::write(&file, b"{").unwrap();
        assert_eq!(Saved::load(Some(&file)), Saved::default());
        assert_eq!(Saved::load(None), Saved::default());
    }

    #[test]
    fn a_change_waits_for_another_guis_and_keeps_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gui.json");
        Saved::update(&file, |s| s.recent_folders = vec!["/media/a".into()]).unwrap();
        // Another GUI holds the lock (its own open of the lock file, as
        // another process has), and is changing the install folder.
        let other = File::options().write(true).open(lock_file(&file)).unwrap();
        fs4::FileExt::lock(&other).unwrap();
        let changing = {
            let file = file.clone();
            std::thread::spawn(move || {
                Saved::update(&file, |s| s.recent_folders.push("/media/b".into()))
            })
        };
        std::thread::sleep(std::time::Duration::from_millis(300));
        assert!(!changing.is_finished(), "the change waits for the lock");
        let mut theirs = Saved::load(Some(&file));
        theirs.install_dir = Some("/srv/nodes".into());
        theirs.store(&file).unwrap();
        drop(other);
        changing.join().unwrap().unwrap();
        assert_eq!(
            Saved::load(Some(&file)),
            Saved {
                install_dir: Some("/srv/nodes".into()),
                recent_folders: vec!["/media/a".into(), "/media/b".into()],
                publish_to: None,
            },
            "both changes stay"
        );
    }

    #[test]
    fn changes_made_at_once_all_stay() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config/gui.json");
        let changes: Vec<_> = (0..12)
            .map(|n| {
                let file = file.clone();
                std::thread::spawn(move || {
                    Saved::update(&file, |s| {
                        s.recent_folders.push(format!("/media/{n}").into());
                    })
                })
            })
            .collect();
        for change in changes {
            change.join().unwrap().unwrap();
        }
        let mut kept = Saved::load(Some(&file)).recent_folders;
        kept.sort();
        let mut wanted: Vec<PathBuf> = (0..12).map(|n| format!("/media/{n}").into()).collect();
        wanted.sort();
        assert_eq!(kept, wanted);
    }
}
