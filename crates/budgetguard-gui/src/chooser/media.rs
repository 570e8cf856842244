//! Removable media: the folders drives are mounted under
//! (`/media/<user>`, `/run/media/<user>`), and the packages found on them.

use std::path::{Path, PathBuf};

use crate::workstation::{list_packages, PackageFile};

/// How deep under a drive packages are looked for (the drive's top folder
/// and one level of folders under it).
const DEPTH: usize = 2;

/// The folders removable drives are mounted under.
#[derive(Debug, Clone)]
pub(crate) struct MediaRoots(Vec<PathBuf>);

impl MediaRoots {
    /// These roots.
    pub(crate) fn new(roots: Vec<PathBuf>) -> Self {
        Self(roots)
    }

    /// The desktop's roots for the user running the GUI: `/media/<user>`
    /// and `/run/media/<user>`.
    pub(crate) fn for_user() -> Vec<PathBuf> {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .unwrap_or_default();
        if user.is_empty() {
            return Vec::new();
        }
        vec![
            Path::new("/media").join(&user),
            Path::new("/run/media").join(&user),
        ]
    }

    /// The drives mounted under the roots (their folders), by name.
    pub(crate) fn drives(&self) -> Vec<PathBuf> {
        let mut drives: Vec<PathBuf> = self
            .0
            .iter()
            .filter_map(|root| std::fs::read_dir(root).ok())
            .flat_map(|entries| entries.filter_map(Result::ok))
            .filter(|entry| !entry.file_name().to_string_lossy().starts_with('.'))
            .map(|entry| entry.path())
            .filter(|path| path.is_dir())
            .collect();
        drives.sort();
        drives
    }
}

/// One folder of a drive that holds packages.
#[derive(Debug, Clone)]
pub(crate) struct MediaFolder {
    /// The folder.
    pub folder: String,
    /// Its packages, newest first.
    pub packages: Vec<PackageFile>,
}

/// The packages on the removable drives: in each drive's top folder and
/// the folders right under it (hidden ones left out, links not followed).
pub(crate) fn media_packages(media: &MediaRoots) -> Vec<MediaFolder> {
    let mut found = Vec::new();
    for drive in media.drives() {
        let mut folders = vec![(drive, 1)];
        while let Some((folder, depth)) = folders.pop() {
            if depth < DEPTH {
                if let Ok(entries) = std::fs::read_dir(&folder) {
                    let mut under: Vec<PathBuf> = entries
                        .filter_map(Result::ok)
                        .filter(|e| !e.file_name().to_string_lossy().starts_with('.'))
                        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
                        .map(|e| e.path())
                        .collect();
                    under.sort();
                    folders.extend(under.into_iter().rev().map(|f| (f, depth + 1)));
                }
            }
            if let Ok(packages) = list_packages(&folder) {
                if !packages.is_empty() {
                    found.push(MediaFolder {
                        folder: folder.display().to_string(),
                        packages,
                    });
                }
            }
        }
    }
    found
}
