//! Listing a model cache for packaging: its files, its folders and its
//! links, in a stable order. Only what stays inside the cache is accepted:
//! a link must be relative and resolve within the cache; devices, FIFOs and
//! sockets are refused. Partial downloads are left out.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::error::{ModelError, Unfit};
use crate::package::zip::resolve_link;

/// A regular file of a cache, with what identifies its state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalkedFile {
    /// Its path inside the cache, `/`-separated.
    pub path: String,
    /// Its size.
    pub size: u64,
    /// Its permission bits.
    pub mode: u32,
    /// Device and inode: the same file seen twice, or swapped meanwhile.
    pub dev: u64,
    /// See `dev`.
    pub ino: u64,
    /// Its modification time in nanoseconds.
    pub mtime: i128,
}

/// A symbolic link of a cache.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct WalkedLink {
    /// Its path inside the cache.
    pub path: String,
    /// Its target, relative to its folder.
    pub target: String,
}

/// What a cache holds.
#[derive(Debug, Clone, Default)]
pub(crate) struct Walked {
    /// Regular files.
    pub files: Vec<WalkedFile>,
    /// Links.
    pub links: Vec<WalkedLink>,
    /// Folders (so that empty ones are kept too).
    pub dirs: Vec<String>,
}

impl Walked {
    /// The bytes of its files.
    pub(crate) fn size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Names a fill (or an install) uses while it works, never part of a
/// finished cache.
pub(crate) fn is_partial(name: &str) -> bool {
    name.ends_with(".incomplete") || name.ends_with(".budgetguard-partial") || name == ".locks"
}

/// Lists the cache at `root`.
pub(crate) fn walk(root: &Path) -> Result<Walked, ModelError> {
    let meta = std::fs::metadata(root).map_err(ModelError::io("read", root))?;
    if !meta.is_dir() {
        return Err(ModelError::NotAFolder {
            path: root.to_owned(),
        });
    }
    let mut walked = Walked::default();
    visit(root, "", &mut walked)?;
    Ok(walked)
}

fn visit(root: &Path, relative: &str, walked: &mut Walked) -> Result<(), ModelError> {
    let dir = root.join(relative);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(ModelError::io("read", &dir))? {
        let entry = entry.map_err(ModelError::io("read", &dir))?;
        let path = entry.path();
        let name = entry
            .file_name()
            .into_string()
            .ok()
            .filter(|n| !n.chars().any(char::is_control))
            .ok_or(ModelError::Unfit {
                path: path.clone(),
                unfit: Unfit::BadName,
            })?;
        names.push(name);
    }
    names.sort();
    for name in names.into_iter().filter(|n| !is_partial(n)) {
        let inside = if relative.is_empty() {
            name.clone()
        } else {
            format!("{relative}/{name}")
        };
        let path = root.join(&inside);
        let meta = std::fs::symlink_metadata(&path).map_err(ModelError::io("read", &path))?;
        let kind = meta.file_type();
        if kind.is_symlink() {
            let target = link_target(&inside, &path)?;
            walked.links.push(WalkedLink {
                path: inside,
                target,
            });
        } else if kind.is_dir() {
            walked.dirs.push(inside.clone());
            visit(root, &inside, walked)?;
        } else if kind.is_file() {
            walked.files.push(WalkedFile {
                path: inside,
                size: meta.len(),
                mode: meta.mode() & 0o777,
                dev: meta.dev(),
                ino: meta.ino(),
                mtime: i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec()),
            });
        } else {
            return Err(ModelError::Unfit {
                path,
                unfit: Unfit::Special,
            });
        }
    }
    Ok(())
}

/// The target of the link at `inside`, if it stays within the cache.
fn link_target(inside: &str, path: &Path) -> Result<String, ModelError> {
    let target = std::fs::read_link(path).map_err(ModelError::io("read the link", path))?;
    let unfit = |unfit| ModelError::Unfit {
        path: path.to_owned(),
        unfit,
    };
    let target = target
        .to_str()
        .filter(|t| !t.is_empty() && !t.chars().any(char::is_control))
        .ok_or(unfit(Unfit::BadName))?
        .to_owned();
    if target.starts_with('/') {
        return Err(unfit(Unfit::AbsoluteLink));
    }
    if resolve_link(inside, &target).is_none() {
        return Err(unfit(Unfit::LinkOutside));
    }
    Ok(target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hugging_face_cache_is_listed_and_links_stay_inside() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("hub/models--a--b");
        std::fs::create_dir_all(repo.join("blobs")).unwrap();
        std::fs::create_dir_all(repo.join("snapshots/rev/sub")).unwrap();
        std::fs::create_dir_all(repo.join("empty")).unwrap();
        std::fs::write(repo.join("blobs/abc"), b"weights").unwrap();
        std::fs::write(repo.join("blobs/def.incomplete"), b"half").unwrap();
        std::os::unix::fs::symlink("../../../blobs/abc", repo.join("snapshots/rev/sub/w.bin"))
            .unwrap();
        let walked = walk(root.path()).unwrap();
        assert_eq!(walked.files.len(), 1);
        assert_eq!(walked.files[0].path, "hub/models--a--b/blobs/abc");
        assert_eq!(walked.links[0].target, "../../../blobs/abc");
        assert!(walked.dirs.contains(&"hub/models--a--b/empty".to_owned()));
        assert_eq!(walked.size(), 7);

        std::os::unix::fs::symlink("../../../../../etc/passwd", repo.join("snapshots/rev/evil"))
            .unwrap();
        assert!(matches!(
            walk(root.path()),
            Err(ModelError::Unfit {
                unfit: Unfit::LinkOutside,
                ..
            })
        ));
        std::fs::remove_file(repo.join("snapshots/rev/evil")).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", repo.join("snapshots/rev/abs")).unwrap();
        assert!(matches!(
            walk(root.path()),
            Err(ModelError::Unfit {
                unfit: Unfit::AbsoluteLink,
                ..
            })
        ));
    }
}
