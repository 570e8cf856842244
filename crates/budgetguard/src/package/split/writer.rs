//! The parts writer: the package's bytes go into `<output>.001`,
//! `<output>.002`, … of at most the part size each, so that the parts
//! joined are the package an unsplit create writes. Each part is a hidden
//! partial file, locked while the create runs (`partial.rs`), renamed into
//! place only when the whole package is written; nothing is held in memory.
//!
//! The ZIP writer goes back to complete an entry's local header once its
//! data is written, and cuts a discarded entry off. Its first write after a
//! seek is always a local header (the next entry's, or the one it
//! completes) or the central directory, so every byte before the latest
//! such write is final: a part wholly before it is hashed on a thread of
//! its own, from the file just written, while the next parts are written.
//! A part of an entry's data alone (beyond the longest local header the
//! latest such write can start) is hashed as soon as it is full, while the
//! entry's next bytes stream; a write into it later (a discarded entry cut
//! off, and the space written again) drops that hash, and the part is
//! hashed again once final.

use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;

use sha2::{Digest, Sha256};
use tempfile::NamedTempFile;

use super::list::{list_name, list_signature_name, part_name, PartList, PartRecord, FORMAT};
use super::part_size::{PartSize, MAX_PARTS};
use crate::package::create::{check_output, persist};
use crate::package::partial;
use crate::package::zip::ZipOutput;
use crate::package::PackageError;
use crate::signing::SigningKey;

/// Writes a package into parts; clones share the parts, so the create
/// keeps one to [finish](PartsWriter::finish) them after the ZIP writer has
/// dropped its own.
#[derive(Clone)]
pub(crate) struct PartsWriter(Arc<Mutex<Parts>>);

/// The parts written so far.
struct Parts {
    dir: PathBuf,
    name: String,
    size: u64,
    files: Vec<Part>,
    position: u64,
    /// Bytes before this are final.
    settled: u64,
    after_seek: bool,
    /// Where the latest write after a seek started (a local header, maybe
    /// completed later).
    header_at: u64,
}

/// One part as it is written.
struct Part {
    temp: NamedTempFile,
    /// Its SHA-256 (hex) and CRC-32, computing once the part is final.
    hash: Option<JoinHandle<io::Result<(String, u32)>>>,
}

impl PartsWriter {
    /// Starts the parts of the package file `name` in `dir`.
    pub(crate) fn new(dir: &Path, name: &str, size: PartSize) -> Self {
        Self(Arc::new(Mutex::new(Parts {
            dir: dir.to_owned(),
            name: name.to_owned(),
            size: size.bytes(),
            files: Vec::new(),
            position: 0,
            settled: 0,
            after_seek: true,
            header_at: 0,
        })))
    }

    /// Marks every byte written so far final (a copy that never goes
    /// back), so that each completed part is hashed while the next is
    /// written.
    pub(crate) fn settle_written(&self) {
        let mut parts = self.parts();
        let position = parts.position;
        parts.settle(position);
    }

    fn parts(&self) -> MutexGuard<'_, Parts> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Renames the written parts into place (replacing what is there when
    /// `force` is given), with their list naming the package `package_id`.
    /// On an error no part is left.
    pub(crate) fn finish(
        self,
        package_id: &str,
        force: bool,
        sign: Option<&SigningKey>,
    ) -> Result<PartList, PackageError> {
        let mut parts = self.parts();
        let count = parts.files.len();
        let size = parts.size;
        let name = parts.name.clone();
        let dir = parts.dir.clone();
        let mut records = Vec::with_capacity(count);
        let files = std::mem::take(&mut parts.files);
        let mut temps = Vec::with_capacity(count);
        for (i, part) in files.into_iter().enumerate() {
            let hash = part.hash.unwrap_or_else(|| hash_part(&part.temp));
            let sha256 = hash.join().expect("hashing a part does not panic");
            let io = |source| PackageError::Io {
                action: "read",
                path: part.temp.path().to_owned(),
                source,
            };
            let part_size = part.temp.as_file().metadata().map_err(io)?.len();
            let (sha256, crc32) = sha256.map_err(io)?;
            records.push(PartRecord {
                name: part_name(&name, i + 1),
                size: part_size,
                sha256,
                crc32: Some(crc32),
            });
            temps.push(part.temp);
        }
        let list = PartList {
            format: FORMAT.to_owned(),
            package: name.clone(),
            package_id: package_id.to_owned(),
            size: records.iter().map(|r| r.size).sum(),
            part_size: size,
            parts: records,
        };
        let list_bytes = list.to_bytes();
        let list_temp = partial::create(&dir, &list_name(&name))
            .and_then(|mut temp| temp.write_all(&list_bytes).map(|()| temp))
            .map_err(|source| PackageError::Io {
                action: "write the part list in",
                path: dir.clone(),
                source,
            })?;
        temps.push(list_temp);
        let mut targets: Vec<PathBuf> =
            (1..=count).map(|n| dir.join(part_name(&name, n))).collect();
        targets.push(dir.join(list_name(&name)));
        let signature_path = dir.join(list_signature_name(&name));
        if let Some(key) = sign {
            let signature = key.sign_part_list(&list_bytes, package_id)?;
            let temp = partial::create(&dir, &list_signature_name(&name))
                .and_then(|mut temp| temp.write_all(&signature).map(|()| temp))
                .map_err(|source| PackageError::Io {
                    action: "write the part list's signature in",
                    path: dir.clone(),
                    source,
                })?;
            temps.push(temp);
            targets.push(signature_path.clone());
        }
        persist_all(temps, &targets, force)?;
        if force {
            if sign.is_none() {
                // An earlier signed split's signature does not match this list.
                let _ = std::fs::remove_file(&signature_path);
            }
            remove_beyond(&dir, &name, count);
        }
        Ok(list)
    }
}

/// Renames each of `temps` to its target; on an error the ones renamed
/// already are removed again.
fn persist_all(
    temps: Vec<NamedTempFile>,
    targets: &[PathBuf],
    force: bool,
) -> Result<(), PackageError> {
    let mut done: Vec<&Path> = Vec::new();
    for (temp, target) in temps.into_iter().zip(targets) {
        let persisted = persist(temp, target, force);
        if let Err(e) = persisted {
            for path in done {
                let _ = std::fs::remove_file(path);
            }
            return Err(e);
        }
        done.push(target);
    }
    Ok(())
}

/// Removes the parts numbered beyond `count` that an earlier split of
/// the package `name` left in `dir`.
fn remove_beyond(dir: &Path, name: &str, count: usize) {
    for number in count + 1..=MAX_PARTS as usize {
        let path = dir.join(part_name(name, number));
        if std::fs::remove_file(&path).is_err() {
            break;
        }
    }
}

/// The longest local header a ZIP entry can have: 30 bytes, then a name
/// and an extra field of up to 65 535 bytes each.
const MAX_LOCAL_HEADER: u64 = 30 + 2 * 65_535;

/// Hashes a finished part on a thread of its own, at the lowest priority:
/// the engine's export and the package writer set the create's pace, and
/// the hashing fills the CPU time they leave idle (on two cores, at normal
/// priority, it made a create into parts 7 % slower than into one file;
/// at the lowest, 4 %).
fn hash_part(temp: &NamedTempFile) -> JoinHandle<io::Result<(String, u32)>> {
    let file = temp.reopen();
    std::thread::spawn(move || {
        // Only this thread: Linux applies a thread id's priority to it alone.
        let _ = rustix::process::setpriority_process(Some(rustix::thread::gettid()), 19);
        let mut file = file?;
        let mut hasher = Sha256::new();
        let mut crc = crc32fast::Hasher::new();
        let mut buffer = vec![0; 1 << 20];
        loop {
            let n = file.read(&mut buffer)?;
            if n == 0 {
                return Ok((hex::encode(hasher.finalize()), crc.finalize()));
            }
            hasher.update(&buffer[..n]);
            crc.update(&buffer[..n]);
        }
    })
}

impl Parts {
    /// The end of the bytes written.
    fn len(&self) -> u64 {
        match self.files.last() {
            Some(last) => {
                let before = (self.files.len() as u64 - 1) * self.size;
                before + last.temp.as_file().metadata().map_or(0, |m| m.len())
            }
            None => 0,
        }
    }

    /// Marks the bytes before `at` final, and starts hashing the parts
    /// they complete.
    fn settle(&mut self, at: u64) {
        self.settled = self.settled.max(at);
        let size = self.size;
        let settled = self.settled;
        for (i, part) in self.files.iter_mut().enumerate() {
            if part.hash.is_none() && (i as u64 + 1) * size <= settled {
                part.hash = Some(hash_part(&part.temp));
            }
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<()> {
        if self.after_seek {
            self.after_seek = false;
            self.header_at = self.position;
            self.settle(self.position);
        }
        let mut rest = buf;
        while !rest.is_empty() {
            let index = (self.position / self.size) as usize;
            while self.files.len() <= index {
                let number = self.files.len() + 1;
                if number as u64 > MAX_PARTS {
                    return Err(io::Error::other(format!(
                        "the package needs more than {MAX_PARTS} parts; choose larger parts"
                    )));
                }
                let temp = partial::create(&self.dir, &part_name(&self.name, number))?;
                self.files.push(Part { temp, hash: None });
            }
            let offset = self.position % self.size;
            let n = rest.len().min((self.size - offset) as usize);
            let part = &mut self.files[index];
            // Hashed already: these bytes were cut off and are written anew.
            part.hash = None;
            part.temp.as_file().write_all_at(&rest[..n], offset)?;
            self.position += n as u64;
            rest = &rest[n..];
            let start = index as u64 * self.size;
            if offset + n as u64 == self.size && start >= self.header_at + MAX_LOCAL_HEADER {
                part.hash = Some(hash_part(&part.temp));
            }
        }
        Ok(())
    }

    fn truncate(&mut self, len: u64) -> io::Result<()> {
        let keep = len.div_ceil(self.size) as usize;
        self.files.truncate(keep);
        if let Some(last) = self.files.last_mut() {
            if !len.is_multiple_of(self.size) {
                last.hash = None;
            }
            last.temp
                .as_file()
                .set_len(len - (keep as u64 - 1) * self.size)?;
        }
        Ok(())
    }
}

impl Write for PartsWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.parts().write(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Seek for PartsWriter {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let mut parts = self.parts();
        let (base, offset) = match to {
            SeekFrom::Start(at) => (at, 0),
            SeekFrom::Current(offset) => (parts.position, offset),
            SeekFrom::End(offset) => (parts.len(), offset),
        };
        parts.position = base
            .checked_add_signed(offset)
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "seek before the start"))?;
        parts.after_seek = true;
        Ok(parts.position)
    }
}

impl ZipOutput for PartsWriter {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.parts().truncate(len)
    }
}

/// Refuses to split into `output`'s parts when its part list or a part of
/// it exists and `force` is not given (or what is there is no file).
pub(crate) fn check_parts_free(output: &Path, force: bool) -> Result<(), PackageError> {
    let name = output
        .file_name()
        .map_or("package".into(), |n| n.to_string_lossy().into_owned());
    check_output(&output.with_file_name(list_name(&name)), force)?;
    check_output(&output.with_file_name(list_signature_name(&name)), force)?;
    check_output(&output.with_file_name(part_name(&name, 1)), force)
}
