//! Whether parts lie on a spinning disk, where reading several at once
//! makes the heads seek between them: as the kernel tells it in sysfs
//! (`/sys/dev/block/<major>:<minor>/queue/rotational`, the partition's
//! disk for a partition). A file system with no block device (tmpfs, NFS)
//! counts as not spinning. There, parts are read at once only from the
//! page cache: a part whose bytes must come from the disk holds the disk
//! until it is read.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

/// The sysfs folder of the block devices by number.
const SYS_DEV_BLOCK: &str = "/sys/dev/block";

/// Whether any of `files` is on a disk the kernel calls rotational.
pub(super) fn any_spinning(files: &[File]) -> bool {
    files.iter().any(|file| {
        rustix::fs::fstat(file.as_fd()).is_ok_and(|stat| {
            let dev = stat.st_dev;
            rotational(
                Path::new(SYS_DEV_BLOCK),
                rustix::fs::major(dev),
                rustix::fs::minor(dev),
            )
        })
    })
}

/// Reads parts several at once from a spinning disk without making its
/// heads seek between them: bytes in the page cache are read at once, and
/// a part that needs the disk takes it (waiting for a part that has it)
/// and keeps it until the part is read.
#[derive(Debug, Default)]
pub(super) struct DiskTurns(Mutex<()>);

/// One part's reads through [`DiskTurns`].
pub(super) struct PartReads<'a> {
    turns: &'a DiskTurns,
    held: Option<MutexGuard<'a, ()>>,
}

impl DiskTurns {
    /// The reads of one part.
    pub(super) fn part(&self) -> PartReads<'_> {
        PartReads {
            turns: self,
            held: None,
        }
    }
}

impl PartReads<'_> {
    /// Reads from `file` at `offset`: from the page cache without waiting
    /// when the bytes are there, else with the disk held.
    pub(super) fn read_at(
        &mut self,
        file: &File,
        buf: &mut [u8],
        offset: u64,
    ) -> io::Result<usize> {
        if self.held.is_none() {
            let flags = rustix::io::ReadWriteFlags::NOWAIT;
            if let Ok(n) = rustix::io::preadv2(file, &mut [io::IoSliceMut::new(buf)], offset, flags)
            {
                return Ok(n);
            }
            // Not cached (or the flag unknown here, or interrupted): the
            // disk's turn, whose read says what a real error is.
            self.held = Some(self.turns.0.lock().unwrap_or_else(|e| e.into_inner()));
        }
        file.read_at(buf, offset)
    }
}

/// Whether device `major:minor` under `sys` (a `/sys/dev/block`) is
/// rotational: its own queue's flag, else its disk's (a partition has no
/// queue of its own).
fn rotational(sys: &Path, major: u32, minor: u32) -> bool {
    let device = sys.join(format!("{major}:{minor}"));
    [
        device.join("queue/rotational"),
        device.join("../queue/rotational"),
    ]
    .iter()
    .find_map(|flag| std::fs::read_to_string(flag).ok())
    .is_some_and(|flag| flag.trim() == "1")
}

#[cfg(test)]
mod tests {
    #[test]
    fn cached_parts_are_read_at_once_and_a_part_from_the_disk_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("part");
        std::fs::write(&path, b"0123456789").unwrap();
        let file = std::fs::File::open(&path).unwrap();
        let turns = super::DiskTurns::default();
        let mut reads = turns.part();
        let mut buf = [0; 4];
        // Just written: in the page cache, read without the disk.
        assert_eq!(reads.read_at(&file, &mut buf, 6).unwrap(), 4);
        assert_eq!(&buf, b"6789");
        assert!(reads.held.is_none());
        assert_eq!(reads.read_at(&file, &mut buf, 10).unwrap(), 0, "the end");
        // A part that holds the disk keeps it until dropped.
        let mut other = turns.part();
        other.held = Some(turns.0.lock().unwrap());
        assert_eq!(other.read_at(&file, &mut buf, 0).unwrap(), 4);
        assert!(turns.0.try_lock().is_err());
        drop(other);
        assert!(turns.0.try_lock().is_ok());
    }

    use super::*;

    #[test]
    fn a_partition_is_judged_by_its_disk_and_a_device_sysfs_lacks_is_not_spinning() {
        let sys = tempfile::tempdir().unwrap();
        let disk = sys.path().join("devices/sda");
        std::fs::create_dir_all(disk.join("queue")).unwrap();
        std::fs::create_dir_all(disk.join("sda1")).unwrap();
        std::fs::write(disk.join("queue/rotational"), "1\n").unwrap();
        let ssd = sys.path().join("devices/nvme0n1");
        std::fs::create_dir_all(ssd.join("queue")).unwrap();
        std::fs::write(ssd.join("queue/rotational"), "0\n").unwrap();
        let link = |name: &str, target: &Path| {
            std::os::unix::fs::symlink(target, sys.path().join(name)).unwrap()
        };
        link("8:0", &disk);
        link("8:1", &disk.join("sda1"));
        link("259:0", &ssd);
        assert!(rotational(sys.path(), 8, 0));
        assert!(rotational(sys.path(), 8, 1));
        assert!(!rotational(sys.path(), 259, 0));
        assert!(!rotational(sys.path(), 0, 42));
    }
}
