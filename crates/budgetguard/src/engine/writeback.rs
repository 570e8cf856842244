//! The engine's file system written back while images load. A kernel
//! overlay mount syncs the file system below it when it is unmounted, and
//! the engine mounts and unmounts each image's first container while
//! making it (its init layer): so the first container made after a load
//! waits until every byte the load wrote is on disk. The kernel itself
//! starts writing back only after 30 s (or 10 % of the memory dirty), so
//! that wait is all of it: 0.2 s for 300 MB on Docker 26.1 here, 0.9 s for
//! the two nodes of a 1.26 GB install, the part of an install beyond the
//! engine's own load. Syncing the file system every half second while the
//! images stream moves that write beside the load: measured here, the
//! install beyond the engine's load went from 1.0 s to 0.2–0.4 s on the
//! containerd store, whose load is bound by decompressing; on 26.1's
//! classic store, bound by the disk, the load itself slowed by about as
//! much as the containers gained.

use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use super::{Engine, EngineFacts};

/// How often the file system is synced while images load.
const INTERVAL: Duration = Duration::from_millis(500);

/// Syncs the engine's file system on a thread of its own until dropped.
#[derive(Debug)]
pub struct Writeback {
    /// Dropping it stops the thread (a sync under way ends on its own).
    _stop: mpsc::Sender<()>,
}

impl Writeback {
    /// Starts syncing the file system that holds the engine's data folder,
    /// when the engine keeps images on kernel overlay mounts (`overlay2`,
    /// containerd's `overlayfs`; FUSE's unmount syncs nothing, so there
    /// the writes would only slow the load) and the folder is on this
    /// machine: the engine is reached by a socket here, is not Docker
    /// Desktop's (whose data lives in its VM), and the folder, or a folder
    /// above it on the same file system, opens.
    pub fn start(engine: &Engine, facts: &EngineFacts) -> Option<Self> {
        // A data folder moved to a larger disk is often a link to it: the
        // folders above the one it names are searched.
        let root = std::fs::canonicalize(overlay_root_here(engine.host(), facts)?).ok()?;
        let device = std::fs::metadata(&root).ok()?.dev();
        // The data folder is the engine's (often 0710 root): a user in the
        // docker group opens the folder above it.
        let dir = root.ancestors().find_map(|folder| {
            std::fs::File::open(folder)
                .ok()
                .filter(|f| f.metadata().is_ok_and(|m| m.dev() == device))
        })?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("writeback".into())
            .spawn(move || {
                while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
                    if let Err(e) = rustix::fs::syncfs(&dir) {
                        tracing::debug!(error = %e, "the engine's file system cannot be synced");
                        return;
                    }
                }
            })
            .ok()?;
        tracing::debug!(root = %root.display(), "writing the engine's file system back while images load");
        Some(Self { _stop: stop })
    }
}

/// The engine's data folder when it is worth syncing: see
/// [`Writeback::start`] (all but the opening).
fn overlay_root_here<'a>(host: &str, facts: &'a EngineFacts) -> Option<&'a Path> {
    let kernel_overlay = facts
        .driver
        .as_deref()
        .is_some_and(|driver| driver.starts_with("overlay"));
    if !kernel_overlay || !host.starts_with("unix://") || facts.desktop {
        return None;
    }
    facts.root_dir.as_deref().map(Path::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(driver: &str, desktop: bool) -> EngineFacts {
        EngineFacts {
            containerd_store: driver == "overlayfs",
            nvidia_runtime: false,
            desktop,
            wsl: false,
            root_dir: Some("/var/lib/docker".into()),
            driver: Some(driver.into()),
        }
    }

    #[test]
    fn only_a_local_engine_on_kernel_overlay_mounts_is_synced() {
        let here = "unix:///var/run/docker.sock";
        let root = Some(Path::new("/var/lib/docker"));
        assert_eq!(overlay_root_here(here, &facts("overlay2", false)), root);
        assert_eq!(overlay_root_here(here, &facts("overlayfs", false)), root);
        assert_eq!(
            overlay_root_here(here, &facts("fuse-overlayfs", false)),
            None
        );
        assert_eq!(overlay_root_here(here, &facts("overlay2", true)), None);
        assert_eq!(
            overlay_root_here("tcp://10.0.0.5:2375", &facts("overlay2", false)),
            None
        );
    }
}
