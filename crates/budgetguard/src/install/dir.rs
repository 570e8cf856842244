//! The install folder on a workstation and the paths in it:
//!
//! ```text
//! <install dir>/credentials.env                  NGC_API_KEY, HF_TOKEN (0600)
//! <install dir>/endpoints.json                   installed nodes and their URLs
//! <install dir>/images.json                      images this tool loaded
//! <install dir>/compose/<node>/docker-compose.yml
//! <install dir>/compose/<node>/cache/            the node's model cache
//! <install dir>/models/<cache>/                  a packaged model cache, shared
//! <install dir>/models/<cache>.files             the files the tool wrote there
//! <install dir>/models/.staging/<cache>/         a cache's next version, until the switch
//! <install dir>/models/.staging/<cache>.files    (then its previous one, until the clean-up)
//! <install dir>/journal.json                     the run in progress, or one a kill stopped
//! ```
//!
//! Nothing below the folder itself is followed through a symbolic link: a
//! folder or file of the tool's that turns out to be a link is an error, so a
//! link planted there cannot make the tool write elsewhere.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::InstallError;
use crate::catalog::Node;

/// An install folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallDir {
    root: PathBuf,
}

impl InstallDir {
    /// The folder at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The per-user default: the tool's data folder.
    pub fn default_location() -> Option<Self> {
        crate::paths::data_dir().map(Self::new)
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a node's Compose file lives.
    pub fn compose_file(&self, node: &Node) -> PathBuf {
        self.node_dir(node).join("docker-compose.yml")
    }

    /// A node's folder (Compose file and cache), relative to the root.
    pub(crate) fn node_dir_relative(node: &Node) -> PathBuf {
        Path::new("compose").join(node.service_name())
    }

    /// A node's folder (Compose file and cache).
    pub fn node_dir(&self, node: &Node) -> PathBuf {
        self.root.join(Self::node_dir_relative(node))
    }

    /// A node's model cache.
    pub fn cache_dir(&self, node: &Node) -> PathBuf {
        self.node_dir(node).join("cache")
    }

    /// The shared model cache `name`, for nodes whose models came in their
    /// package.
    pub fn models_dir(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name)
    }

    /// The log of the model files this tool wrote into the cache `name`.
    pub(crate) fn models_log(&self, name: &str) -> PathBuf {
        self.root.join("models").join(format!("{name}.files"))
    }

    /// The folder where caches' next versions are written, relative to the
    /// root.
    pub(crate) fn staging_relative() -> PathBuf {
        Path::new("models").join(".staging")
    }

    /// Where the next version of the cache `name` is written before the
    /// switch (and where the previous one is after it, until the clean-up).
    pub(crate) fn staged_dir(&self, name: &str) -> PathBuf {
        self.root.join(Self::staging_relative()).join(name)
    }

    /// The log of the files in [`Self::staged_dir`].
    pub(crate) fn staged_log(&self, name: &str) -> PathBuf {
        self.root
            .join(Self::staging_relative())
            .join(format!("{name}.files"))
    }

    /// The credentials file the Compose files refer to.
    pub fn credentials_file(&self) -> PathBuf {
        self.root.join(crate::credentials::FILE_NAME)
    }

    /// `endpoints.json`.
    pub fn endpoints_file(&self) -> PathBuf {
        self.root.join("endpoints.json")
    }

    /// `images.json`.
    pub fn images_file(&self) -> PathBuf {
        self.root.join("images.json")
    }

    /// Creates the folders of `relative` below the root that do not exist
    /// yet, never through a symbolic link, and returns those it created
    /// (outermost first), so that a rollback can remove just those.
    pub(crate) fn make_dirs(&self, relative: &Path) -> Result<Vec<PathBuf>, InstallError> {
        let mut path = self.root.clone();
        let mut created = Vec::new();
        for part in relative.components() {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(InstallError::Symlink { path });
                }
                Ok(_) => {
                    return Err(InstallError::io("create the folder", &path)(
                        std::io::Error::new(
                            std::io::ErrorKind::AlreadyExists,
                            "a file is in the way",
                        ),
                    ))
                }
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&path).map_err(InstallError::io("create", &path))?;
                    created.push(path.clone());
                }
                Err(e) => return Err(InstallError::io("inspect", &path)(e)),
            }
        }
        Ok(created)
    }

    /// The folders of `relative` below the root that do not exist yet,
    /// outermost first: those [`Self::make_dirs`] would create.
    pub(crate) fn missing_dirs(&self, relative: &Path) -> Vec<PathBuf> {
        let mut path = self.root.clone();
        let mut missing = Vec::new();
        for part in relative.components() {
            path.push(part);
            if std::fs::symlink_metadata(&path).is_err() {
                missing.push(path.clone());
            }
        }
        missing
    }

    /// Checks that the tool's own paths below the root, as far as they exist,
    /// are folders (or files) and not symbolic links.
    pub(crate) fn check_no_links(&self, relative: &Path) -> Result<(), InstallError> {
        let mut path = self.root.clone();
        for part in relative.components() {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    return Err(InstallError::Symlink { path })
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(InstallError::io("inspect", &path)(e)),
            }
        }
        Ok(())
    }

    /// Whether files can be created in the folder: a nameless temporary file
    /// is made and dropped at once.
    pub(crate) fn check_writable(&self) -> Result<(), InstallError> {
        tempfile::tempfile_in(&self.root)
            .map(drop)
            .map_err(InstallError::io("write into", &self.root))
    }
}

/// `path` with its links resolved, as it is when it does not resolve:
/// Compose records folders as they were given, links and all.
pub(crate) fn real_path(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned())
}

/// Writes `path` through a temporary file beside it and a rename, which
/// replaces whatever is at `path` (a link included) without following it.
/// The folder must exist and have been checked.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).map_err(InstallError::io("write into", dir))?;
    temp.write_all(bytes)
        .map_err(InstallError::io("write", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(InstallError::io("write", path))?;
    }
    temp.as_file()
        .sync_all()
        .map_err(InstallError::io("write", path))?;
    temp.persist(path)
        .map_err(|e| InstallError::io("write", path)(e.error))?;
    // The rename itself reaches the disk: a journal step or a state file
    // outlives a power cut.
    if let Ok(folder) = std::fs::File::open(dir) {
        let _ = folder.sync_all();
    }
    Ok(())
}

/// Removes what is at `path` (a folder with everything in it, or a file or
/// link), never following a link; nothing there is fine.
pub(crate) fn remove_any(path: &Path) -> Result<(), InstallError> {
    let removed = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => std::fs::remove_dir_all(path),
        Ok(_) => std::fs::remove_file(path),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(InstallError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}

/// Reads a file of the tool's, refusing a symbolic link; `None` when it
/// does not exist.
pub(crate) fn read_own(path: &Path) -> Result<Option<Vec<u8>>, InstallError> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(InstallError::Symlink {
                path: path.to_owned(),
            })
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(InstallError::io("read", path)(e)),
    }
    let mut data = Vec::new();
    crate::files::open_own(path)
        .and_then(|mut file| file.read_to_end(&mut data))
        .map_err(InstallError::io("read", path))?;
    Ok(Some(data))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folders_are_created_but_never_through_links() {
        let root = tempfile::tempdir().unwrap();
        let dir = InstallDir::new(root.path().to_owned());
        let created = dir.make_dirs(Path::new("compose/a/cache")).unwrap();
        assert_eq!(created.len(), 3);
        assert!(dir
            .make_dirs(Path::new("compose/a/cache"))
            .unwrap()
            .is_empty());

        let elsewhere = tempfile::tempdir().unwrap();
        std::os::unix::fs::symlink(elsewhere.path(), root.path().join("compose/b")).unwrap();
        let err = dir.make_dirs(Path::new("compose/b/cache")).unwrap_err();
        assert!(matches!(err, InstallError::Symlink { .. }), "{err}");
        assert!(std::fs::read_dir(elsewhere.path())
            .unwrap()
            .next()
            .is_none());
        assert!(dir.check_no_links(Path::new("compose/b/x")).is_err());
        assert!(dir.check_no_links(Path::new("compose/a/x")).is_ok());

        std::os::unix::fs::symlink("/etc/hostname", root.path().join("endpoints.json")).unwrap();
        assert!(matches!(
            read_own(&dir.endpoints_file()),
            Err(InstallError::Symlink { .. })
        ));
    }
}
