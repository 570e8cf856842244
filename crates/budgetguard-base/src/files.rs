//! Files read as packages, keys and signatures, and the tool's own files
//! in an install folder: only regular files, and never a wait. Opening a
//! named pipe waits for a writer and a device may
//! never end, so the path is checked before it is opened (without waiting)
//! and the opened file is checked again, in case the path was swapped.

use std::fs::{File, FileType, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::fd::OwnedFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::{Component, Path};

/// A path that names something other than a regular file where one is
/// needed; it travels inside an `io::Error` (kind `InvalidInput`).
#[derive(Debug, thiserror::Error)]
#[error("it is {kind}, not a regular file; name a regular file")]
pub struct NotAFile {
    /// What it is: `a folder`, `a named pipe (FIFO)`, `a device`, `a socket`,
    /// `a symbolic link` (where none is followed).
    pub kind: &'static str,
}

/// A file larger than the reader accepts; it travels inside an `io::Error`
/// (kind `InvalidData`).
#[derive(Debug, thiserror::Error)]
#[error("it is {}, larger than the {} allowed", crate::size::human(*size), crate::size::human(*max))]
pub struct TooLarge {
    /// Its size.
    pub size: u64,
    /// The most accepted.
    pub max: u64,
}

/// What `file_type` is, in words, when it is not a regular file.
pub fn kind(file_type: FileType) -> Option<&'static str> {
    if file_type.is_file() {
        None
    } else if file_type.is_dir() {
        Some("a folder")
    } else if file_type.is_fifo() {
        Some("a named pipe (FIFO)")
    } else if file_type.is_char_device() || file_type.is_block_device() {
        Some("a device")
    } else if file_type.is_socket() {
        Some("a socket")
    } else {
        Some("not a file")
    }
}

fn regular(meta: &Metadata) -> io::Result<()> {
    match kind(meta.file_type()) {
        None => Ok(()),
        Some(kind) => Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            NotAFile { kind },
        )),
    }
}

/// Opens `path` (a symbolic link is followed) for reading, if it is a
/// regular file; anything else is refused at once with [`NotAFile`].
pub fn open_regular(path: &Path) -> io::Result<File> {
    regular(&std::fs::metadata(path)?)?;
    open_checked(path, 0)
}

/// Opens a file the tool keeps itself (a state file, a log, a model file)
/// for reading, as [`open_regular`] does but never through a symbolic link
/// (refused as [`NotAFile`] too): something planted or swapped in its place
/// never makes a read wait or leave the folder.
pub fn open_own(path: &Path) -> io::Result<File> {
    open_checked(path, libc::O_NOFOLLOW).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => io::Error::new(
            io::ErrorKind::InvalidInput,
            NotAFile {
                kind: "a symbolic link",
            },
        ),
        _ => e,
    })
}

/// Opens the regular file `relative` below the folder `root` for reading,
/// following no symbolic link on the way (not even a folder's) and never
/// leaving `root`: a folder below `root` that whoever can write there (a
/// node's container, in a live model cache) swapped for a link is refused
/// (`ENOTDIR`, `ELOOP` for the file's own name), and so is a path that
/// climbs out (`EXDEV`). Each folder is
/// opened from the one before it, so nothing swapped in between the steps
/// is followed either (the walk `openat2` does, on every kernel).
pub fn open_beneath(root: &Path, relative: &Path) -> io::Result<File> {
    use rustix::fs::{Mode, OFlags};
    let mut names = Vec::new();
    for component in relative.components() {
        match component {
            Component::Normal(name) => names.push(name),
            Component::CurDir => {}
            Component::RootDir | Component::Prefix(_) | Component::ParentDir => {
                return Err(io::Error::from_raw_os_error(libc::EXDEV))
            }
        }
    }
    let Some((name, folders)) = names.split_last() else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            NotAFile { kind: "a folder" },
        ));
    };
    let mut folder: OwnedFd = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_DIRECTORY | libc::O_NOFOLLOW)
        .open(root)?
        .into();
    let below = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    for next in folders {
        folder = rustix::fs::openat(&folder, *next, below, Mode::empty())?;
    }
    let flags =
        OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    kept_if_regular(File::from(rustix::fs::openat(
        &folder,
        *name,
        flags,
        Mode::empty(),
    )?))
}

/// Opens a file or folder the tool just made, to change its owner or mode
/// through the handle: never through a symbolic link (refused with
/// `ELOOP`), and without waiting on a pipe swapped in for it.
pub fn open_made(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
}

/// Opens `path` without waiting, with the open flags `flags` added, and
/// keeps it only if it is a regular file.
fn open_checked(path: &Path, flags: i32) -> io::Result<File> {
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | flags)
        .open(path)?;
    kept_if_regular(file)
}

/// `file`, opened without waiting, if it is a regular file; its reads
/// wait again from here on.
fn kept_if_regular(file: File) -> io::Result<File> {
    regular(&file.metadata()?)?;
    let flags = rustix::fs::fcntl_getfl(&file)?;
    rustix::fs::fcntl_setfl(&file, flags - rustix::fs::OFlags::NONBLOCK)?;
    Ok(file)
}

/// Reads the regular file at `path` whole, refusing one of more than `max`
/// bytes with [`TooLarge`].
pub fn read_small(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = open_regular(path)?;
    let size = file.metadata()?.len();
    let mut data = Vec::new();
    file.take(max + 1).read_to_end(&mut data)?;
    let size = size.max(data.len() as u64);
    if size > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            TooLarge { size, max },
        ));
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_regular_files_open_and_a_fifo_never_waits() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("p.zip");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let link = dir.path().join("null.zip");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        for (path, what) in [
            (fifo.as_path(), "a named pipe (FIFO)"),
            (Path::new("/dev/zero"), "a device"),
            (link.as_path(), "a device"),
            (dir.path(), "a folder"),
        ] {
            let error = open_regular(path).unwrap_err();
            assert_eq!(error.kind(), io::ErrorKind::InvalidInput);
            assert_eq!(
                error.to_string(),
                format!("it is {what}, not a regular file; name a regular file")
            );
        }
        let file = dir.path().join("k.pub");
        std::fs::write(&file, b"12345").unwrap();
        assert_eq!(read_small(&file, 5).unwrap(), b"12345");
        // A file of the tool's own: the same, and never through a link.
        assert_eq!(
            open_own(&fifo).unwrap_err().to_string(),
            "it is a named pipe (FIFO), not a regular file; name a regular file"
        );
        let to_file = dir.path().join("to-file");
        std::os::unix::fs::symlink(&file, &to_file).unwrap();
        assert_eq!(
            open_own(&to_file).unwrap_err().to_string(),
            "it is a symbolic link, not a regular file; name a regular file"
        );
        assert!(open_own(&file).is_ok());
        // Below a folder: never through a link, even a folder's.
        let below = dir.path().join("below");
        std::fs::create_dir_all(below.join("real")).unwrap();
        std::fs::write(below.join("real/f"), b"x").unwrap();
        std::os::unix::fs::symlink(dir.path(), below.join("out")).unwrap();
        std::os::unix::fs::symlink("real", below.join("in")).unwrap();
        assert!(open_beneath(&below, Path::new("real/f")).is_ok());
        for swapped in ["out/k.pub", "in/f", "../k.pub", "/etc/hostname"] {
            let error = open_beneath(&below, Path::new(swapped)).unwrap_err();
            assert!(
                matches!(
                    error.raw_os_error(),
                    Some(libc::ELOOP | libc::ENOTDIR | libc::EXDEV)
                ),
                "{swapped}: {error}"
            );
        }
        let error = read_small(&file, 4).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::InvalidData);
        assert_eq!(error.to_string(), "it is 5 B, larger than the 4 B allowed");
    }
}
