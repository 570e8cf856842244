//! One run at a time per install folder: installs, deploys and uninstalls
//! take an exclusive lock on the folder itself (`flock` on its descriptor, so
//! there is no lock file to leave behind). A second run waits and says which
//! process it is waiting for.

use std::fs::{File, TryLockError};
use std::time::Duration;

use super::{InstallDir, InstallError};
use crate::progress::{Event, Reporter};
use crate::Cancel;

/// How often a waiting run tries the lock again.
const RETRY: Duration = Duration::from_millis(200);

/// Held while a run changes the install folder; released when dropped. A
/// folder this run created and left empty is removed again.
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
    created: Option<std::path::PathBuf>,
}

impl Drop for DirLock {
    fn drop(&mut self) {
        if let Some(root) = &self.created {
            // Fails, harmlessly, unless the folder is still empty.
            let _ = std::fs::remove_dir(root);
        }
    }
}

impl InstallDir {
    /// Takes the folder's lock, creating the folder if needed; waits (until
    /// `cancel`) while another run holds it.
    pub(crate) async fn lock(
        &self,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<DirLock, InstallError> {
        let root = self.root();
        let created = match std::fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir_all(root).map_err(InstallError::io("create", root))?;
                Some(root.to_owned())
            }
            _ => None,
        };
        let file = File::open(root).map_err(InstallError::io("open", root))?;
        let mut told = false;
        loop {
            match file.try_lock() {
                Ok(()) => {
                    return Ok(DirLock {
                        _file: file,
                        created,
                    })
                }
                Err(TryLockError::WouldBlock) => {}
                Err(TryLockError::Error(e)) => return Err(InstallError::io("lock", root)(e)),
            }
            if !told {
                told = true;
                reporter.report(Event::Note {
                    message: format!(
                        "Waiting for {} to finish with {}",
                        holder(&file).unwrap_or_else(|| "another run".to_owned()),
                        root.display()
                    ),
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = cancel.cancelled() => return Err(InstallError::Cancelled),
            }
        }
    }
}

/// `process 1234 (budgetguard-tech)`: the process holding an `flock` on
/// `file`, from `/proc/locks` (Linux).
fn holder(file: &File) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let meta = file.metadata().ok()?;
    let dev = meta.dev();
    let major = ((dev >> 8) & 0xfff) | ((dev >> 32) & !0xfff);
    let minor = (dev & 0xff) | ((dev >> 12) & !0xff);
    let wanted = format!("{major:02x}:{minor:02x}:{}", meta.ino());
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    let pid = locks.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&"FLOCK") && fields.get(5) == Some(&wanted.as_str()))
            .then(|| fields.get(4).map(|p| p.to_string()))
            .flatten()
    })?;
    let name = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    Some(format!("process {pid} ({})", name.trim()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::progress::Silent;

    #[tokio::test]
    async fn a_second_run_waits_for_the_first_and_learns_who_it_is() {
        let root = tempfile::tempdir().unwrap();
        let dir = InstallDir::new(root.path().join("install"));
        let first = dir.lock(&Silent, &Cancel::new()).await.unwrap();
        let other = File::open(dir.root()).unwrap();
        assert!(matches!(other.try_lock(), Err(TryLockError::WouldBlock)));
        let who = holder(&other).unwrap();
        assert!(
            who.starts_with(&format!("process {} ", std::process::id())),
            "{who}"
        );
        let cancel = Cancel::new();
        cancel.cancel();
        assert!(matches!(
            dir.lock(&Silent, &cancel).await,
            Err(InstallError::Cancelled)
        ));
        drop(first);
        drop(dir.lock(&Silent, &Cancel::new()).await.unwrap());
        assert!(!dir.root().exists(), "the empty folder it made is gone");
    }
}
