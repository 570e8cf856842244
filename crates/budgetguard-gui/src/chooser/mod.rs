//! The file chooser the pages open beside every path field: a folder's
//! subfolders and the files the field takes (packages, public keys or
//! secret keys), hidden files left out, with shortcuts to the home folder,
//! Downloads, removable media and the folders used lately; and the
//! packages found on removable media, for the Install page.
//!
//! The chooser reads what the user running the GUI may read, like a
//! desktop app's file dialog; it is served behind the same checks as every
//! route (the server's own address, its origin and this run's token). A
//! symbolic link is never followed without saying so: the entry says where
//! it leads, and opening a linked folder shows the folder's real path.

mod media;

pub(crate) use media::{media_packages, MediaFolder, MediaRoots};

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use budgetguard::size::human;
use serde::{Deserialize, Serialize};

use crate::paths::{expand, is_first_part, is_zip};

/// The most entries a folder shows (the rest are counted).
const SHOWN: usize = 500;

/// How many recent folders the chooser offers.
const RECENT: usize = 5;

/// What a path field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Wanted {
    /// A package: `.zip`, or the first part of one in parts (`.zip.001`).
    Package,
    /// A minisign public key: `.pub`.
    PublicKey,
    /// A minisign secret key: `.key`.
    SecretKey,
    /// A folder (the output file's): packages are shown, not chosen.
    Folder,
}

impl Wanted {
    /// Whether the file `name` is offered.
    fn offers(self, name: &str) -> bool {
        let lower = name.to_ascii_lowercase();
        match self {
            Wanted::Package | Wanted::Folder => {
                is_zip(Path::new(name)) || is_first_part(Path::new(name))
            }
            Wanted::PublicKey => lower.ends_with(".pub") && lower.len() > 4,
            Wanted::SecretKey => lower.ends_with(".key") && lower.len() > 4,
        }
    }
}

/// One entry of a listed folder.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Entry {
    /// Its name.
    pub name: String,
    /// Its full path, as the field gets it.
    pub path: String,
    /// Whether it is a folder (to open) rather than a file (to choose).
    pub folder: bool,
    /// A file's size.
    pub size: Option<String>,
    /// For a symbolic link: where it leads, said on the entry.
    pub link: Option<String>,
}

/// A listed folder, as the chooser shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Listing {
    /// The folder's real path (links resolved).
    pub folder: String,
    /// Its parent, if it has one.
    pub parent: Option<String>,
    /// Its subfolders, then the files offered, each sorted by name.
    pub entries: Vec<Entry>,
    /// What is not shown, in words (too many entries), if anything.
    pub note: Option<String>,
}

/// A shortcut of the chooser's side bar.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Shortcut {
    /// Its label, e.g. `USB: ART-STICK`.
    pub label: String,
    /// The folder.
    pub path: String,
}

/// The folders the chooser offered and the user chose files in, newest
/// first: the "Recent" shortcuts (kept in the settings file between runs).
#[derive(Debug, Default)]
pub(crate) struct Recent(Mutex<Vec<PathBuf>>);

impl Recent {
    /// The recent folders as a previous run left them.
    pub(crate) fn new(mut folders: Vec<PathBuf>) -> Self {
        folders.truncate(RECENT);
        Self(Mutex::new(folders))
    }

    /// Remembers the folder of the chosen file `path`; that folder, to
    /// keep in the settings file too ([`put_first`] there, so the folders
    /// another GUI kept stay), or `None` when the path has no folder or its
    /// folder is the most recent already (nothing to keep anew).
    pub(crate) fn chose(&self, path: &str) -> Option<PathBuf> {
        let path = expand(path);
        let folder = path.parent().filter(|f| f.is_dir())?;
        let mut recent = self.0.lock().expect("not poisoned");
        if recent.first().is_some_and(|first| first == folder) {
            return None;
        }
        put_first(&mut recent, folder);
        Some(folder.to_owned())
    }

    fn folders(&self) -> Vec<PathBuf> {
        self.0.lock().expect("not poisoned").clone()
    }
}

/// Puts `folder` first in the recent folders `recent` (once), keeping the
/// newest [`RECENT`].
pub(crate) fn put_first(recent: &mut Vec<PathBuf>, folder: &Path) {
    recent.retain(|known| known != folder);
    recent.insert(0, folder.to_owned());
    recent.truncate(RECENT);
}

/// The chooser's shortcuts: the home folder, Downloads, each drive under
/// the removable-media roots, and the recent folders (those that exist).
pub(crate) fn shortcuts(media: &MediaRoots, recent: &Recent) -> Vec<Shortcut> {
    let mut shortcuts = Vec::new();
    let mut add = |label: String, path: &Path| {
        if path.is_dir() {
            shortcuts.push(Shortcut {
                label,
                path: path.display().to_string(),
            });
        }
    };
    if let Some(home) = std::env::var_os("HOME").map(PathBuf::from) {
        add("Home".to_owned(), &home);
        add("Downloads".to_owned(), &home.join("Downloads"));
    }
    for drive in media.drives() {
        let name = drive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        add(format!("Removable: {name}"), &drive);
    }
    for folder in recent.folders() {
        add(format!("Recent: {}", folder.display()), &folder);
    }
    shortcuts
}

/// Lists `folder` (as typed; empty: the home folder) for a field that
/// takes `wanted`: its subfolders and the files offered, hidden ones left
/// out; links say where they lead.
pub(crate) fn list(folder: &str, wanted: Wanted) -> Result<Listing, String> {
    let typed = if folder.trim().is_empty() {
        std::env::var_os("HOME").map_or_else(|| PathBuf::from("/"), PathBuf::from)
    } else {
        expand(folder)
    };
    // A file's path (the field's value) lists its folder.
    let typed = if typed.is_file() {
        typed.parent().map_or(typed.clone(), Path::to_path_buf)
    } else {
        typed
    };
    let real = std::fs::canonicalize(&typed)
        .map_err(|e| format!("Cannot open the folder “{}”: {e}.", typed.display()))?;
    let read = std::fs::read_dir(&real)
        .map_err(|e| format!("Cannot open the folder “{}”: {e}.", real.display()))?;
    let mut entries = Vec::new();
    for item in read.filter_map(Result::ok) {
        let name = item.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = item.path();
        let Ok(own) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        // A link is described by what it leads to, and says where that is.
        let (meta, link) = if own.file_type().is_symlink() {
            match (std::fs::metadata(&path), std::fs::canonicalize(&path)) {
                (Ok(meta), Ok(target)) => {
                    let outside = !target.starts_with(&real);
                    let words = if outside {
                        format!("link to {}, outside this folder", target.display())
                    } else {
                        format!("link to {}", target.display())
                    };
                    (meta, Some(words))
                }
                // A link to nothing is no choice.
                _ => continue,
            }
        } else {
            (own, None)
        };
        let folder = meta.is_dir();
        if !(folder || meta.is_file() && wanted.offers(&name)) {
            continue;
        }
        entries.push(Entry {
            name,
            path: path.display().to_string(),
            folder,
            size: (!folder).then(|| human(meta.len())),
            link,
        });
    }
    entries.sort_by(|a, b| {
        b.folder
            .cmp(&a.folder)
            .then_with(|| a.name.to_lowercase().cmp(&b.name.to_lowercase()))
    });
    let note = (entries.len() > SHOWN).then(|| {
        format!(
            "{} more not shown: type the path instead.",
            entries.len() - SHOWN
        )
    });
    entries.truncate(SHOWN);
    Ok(Listing {
        folder: real.display().to_string(),
        parent: real.parent().map(|p| p.display().to_string()),
        entries,
        note,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_guis_choosing_files_keep_each_others_recent_folders() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gui.json");
        let (a, b) = (dir.path().join("stick-a"), dir.path().join("stick-b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        // Two GUIs, each with its own recent folders, keep a choice each in
        // one settings file, as `POST /api/files/chosen` does.
        let guis = [Recent::new(Vec::new()), Recent::new(Vec::new())];
        for (gui, folder) in guis.iter().zip([&a, &b]) {
            let path = folder.join("package.zip").display().to_string();
            let chosen = gui.chose(&path).expect("a new folder");
            crate::saved::Saved::update(&file, |saved| {
                put_first(&mut saved.recent_folders, &chosen)
            })
            .unwrap();
        }
        let kept = crate::saved::Saved::load(Some(&file)).recent_folders;
        assert_eq!(kept, [b.clone(), a.clone()]);
        // Choosing in the newest folder again changes nothing.
        assert_eq!(
            guis[1].chose(&b.join("other.zip").display().to_string()),
            None
        );
    }

    #[test]
    fn only_the_files_a_field_takes_are_offered_and_hidden_ones_never() {
        let dir = tempfile::tempdir().unwrap();
        for name in [
            "a.zip",
            "b.ZIP",
            "c.zip.001",
            "c.zip.002",
            "d.pub",
            "e.key",
            "f.txt",
            ".hidden.zip",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::create_dir(dir.path().join(".secret")).unwrap();
        let names = |wanted| {
            list(dir.path().to_str().unwrap(), wanted)
                .unwrap()
                .entries
                .into_iter()
                .map(|e| e.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(
            names(Wanted::Package),
            ["sub", "a.zip", "b.ZIP", "c.zip.001"]
        );
        assert_eq!(names(Wanted::PublicKey), ["sub", "d.pub"]);
        assert_eq!(names(Wanted::SecretKey), ["sub", "e.key"]);
    }

    #[test]
    fn links_say_where_they_lead() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("p.zip"), b"x").unwrap();
        let dir = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("elsewhere")).unwrap();
        std::os::unix::fs::symlink(outside.path().join("p.zip"), dir.path().join("p.zip")).unwrap();
        std::os::unix::fs::symlink("/nonexistent", dir.path().join("broken.zip")).unwrap();
        let listing = list(dir.path().to_str().unwrap(), Wanted::Package).unwrap();
        let real = std::fs::canonicalize(outside.path()).unwrap();
        assert_eq!(listing.entries.len(), 2, "{:?}", listing.entries);
        for entry in &listing.entries {
            let link = entry.link.as_deref().unwrap();
            assert!(link.contains(&real.display().to_string()), "{link}");
            assert!(link.ends_with("outside this folder"), "{link}");
        }
        // Opening the linked folder shows where it really is.
        let opened = list(&listing.entries[0].path, Wanted::Package).unwrap();
        assert_eq!(opened.folder, real.display().to_string());
    }
}
