//! Whether parts lie on a spinning disk, where reading several at once
//! makes the heads seek between them: as the kernel tells it in sysfs
//! (`/sys/dev/block/<major>:<minor>/queue/rotational`, the partition's
//! disk for a partition). A file system with no block device (tmpfs, NFS)
//! counts as not spinning.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

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
