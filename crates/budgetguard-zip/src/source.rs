//! Where a package's bytes come from. The strict reader, and every check
//! built on it, reads through [`PackageSource`]: a local file today
//! ([`FileSource`]); an HTTP server answering range requests, or the parts
//! of a split package, are further sources of the same trait, and nothing
//! above it changes for them.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use budgetguard_base::files::open_regular;

/// The bytes of a package, read by position. The directory is read with
/// [`read_at`](Self::read_at); each entry streams from a reader of its own
/// byte range ([`open_range`](Self::open_range)), so entries can stream on
/// several threads at once.
pub trait PackageSource: std::fmt::Debug + Send + Sync {
    /// Its size in bytes.
    fn size(&self) -> u64;

    /// What messages call it: a file's path (an HTTP source would give its
    /// address).
    fn description(&self) -> &Path;

    /// Reads up to `buf.len()` bytes at `offset`: none only at or past the
    /// end; fewer before it where the source holds fewer at hand (as
    /// `Read::read` may).
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize>;

    /// Says which spans (first byte, length) the reader is about to read
    /// with [`read_at`](Self::read_at): a remote source fetches them
    /// together instead of one request each. Nothing for a local source.
    fn will_read(&self, spans: &[(u64, u64)]) -> io::Result<()> {
        let _ = spans;
        Ok(())
    }

    /// A buffered reader of the `len` bytes from `start`, independent of
    /// any other (a file opens itself again; an HTTP source would make one
    /// range request; split parts would chain their files).
    fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>>;
}

/// A package in a local file: only a regular file is opened (a FIFO or a
/// device is refused at once, see [`open_regular`]).
#[derive(Debug)]
pub struct FileSource {
    path: PathBuf,
    file: File,
    size: u64,
}

impl FileSource {
    /// Opens the regular file at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = open_regular(path)?;
        let size = file.metadata()?.len();
        Ok(Self {
            path: path.to_owned(),
            file,
            size,
        })
    }
}

impl PackageSource for FileSource {
    fn size(&self) -> u64 {
        self.size
    }

    fn description(&self) -> &Path {
        &self.path
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        FileExt::read_at(&self.file, buf, offset)
    }

    fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>> {
        let mut file = open_regular(&self.path)?;
        file.seek(SeekFrom::Start(start))?;
        Ok(Box::new(BufReader::with_capacity(1 << 20, file).take(len)))
    }
}

/// A source read from a position that moves, as `Read + Seek`: how the
/// directory and the local headers are walked.
pub(crate) struct Cursor<'a> {
    source: &'a dyn PackageSource,
    position: u64,
}

impl<'a> Cursor<'a> {
    /// At the first byte of `source`.
    pub(crate) fn new(source: &'a dyn PackageSource) -> Self {
        Self {
            source,
            position: 0,
        }
    }
}

impl Read for Cursor<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.source.read_at(self.position, buf)?;
        self.position += n as u64;
        Ok(n)
    }
}

impl Seek for Cursor<'_> {
    fn seek(&mut self, to: SeekFrom) -> io::Result<u64> {
        let (base, offset) = match to {
            SeekFrom::Start(at) => (at, 0),
            SeekFrom::Current(offset) => (self.position, offset),
            SeekFrom::End(offset) => (self.source.size(), offset),
        };
        self.position = base.checked_add_signed(offset).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                "invalid seek to a negative or overflowing position",
            )
        })?;
        Ok(self.position)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::sync::Arc;

    use super::*;
    use crate::{Compression, DosTime, ZipError, ZipReader, ZipWriter};

    /// A package held in memory: a second source, to show that the reader
    /// and its checks do not depend on a file.
    #[derive(Debug)]
    struct Memory {
        name: PathBuf,
        bytes: Vec<u8>,
    }

    impl PackageSource for Memory {
        fn size(&self) -> u64 {
            self.bytes.len() as u64
        }

        fn description(&self) -> &Path {
            &self.name
        }

        fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
            let rest = self.bytes.get(offset as usize..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            Ok(n)
        }

        fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>> {
            let start = (start as usize).min(self.bytes.len());
            let end = start.saturating_add(len as usize).min(self.bytes.len());
            Ok(Box::new(io::Cursor::new(self.bytes[start..end].to_vec())))
        }
    }

    /// A small archive: a stored entry, a deflated one and an empty one.
    fn archive() -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zip");
        let time = DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH);
        let mut zip = ZipWriter::new(File::create(&path).unwrap(), time);
        zip.write_entry("first.json", Compression::None, b"{\"format\": 1}")
            .unwrap();
        zip.write_entry("blob", Compression::Deflate, &[7; 100_000])
            .unwrap();
        zip.write_entry("empty", Compression::None, b"").unwrap();
        zip.finish().unwrap();
        std::fs::read(&path).unwrap()
    }

    /// Each entry's name and data, or the error as text.
    type Outcome = Result<Vec<(String, Vec<u8>)>, String>;

    /// The same bytes read from a file and from memory.
    fn read_both(bytes: &[u8]) -> [Outcome; 2] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zip");
        std::fs::write(&path, bytes).unwrap();
        let memory = Memory {
            name: path.clone(),
            bytes: bytes.to_vec(),
        };
        let file: Arc<dyn PackageSource> = Arc::new(FileSource::open(&path).unwrap());
        [file, Arc::new(memory)].map(|source| {
            assert_eq!(source.description(), path);
            let reader = ZipReader::from_source(source).map_err(|e| e.to_string())?;
            reader
                .entries()
                .iter()
                .map(|entry| {
                    let mut data = Vec::new();
                    reader
                        .open_entry(entry)
                        .and_then(|mut r| r.read_to_end(&mut data))
                        .map_err(|e| e.to_string())?;
                    Ok((entry.name.clone(), data))
                })
                .collect()
        })
    }

    #[test]
    fn any_source_reads_alike_and_refuses_alike() {
        let bytes = archive();
        let [file, memory] = read_both(&bytes);
        let entries = file.unwrap();
        assert_eq!(
            entries
                .iter()
                .map(|(n, d)| (n.as_str(), d.len()))
                .collect::<Vec<_>>(),
            [("first.json", 13), ("blob", 100_000), ("empty", 0)]
        );
        assert_eq!(memory.unwrap(), entries);

        // Cut short anywhere, or with a byte of an entry changed: the same
        // refusal from either source.
        let memory = Memory {
            name: PathBuf::from("p.zip"),
            bytes: bytes.clone(),
        };
        let blob = ZipReader::from_source(Arc::new(memory))
            .unwrap()
            .entry("blob")
            .unwrap()
            .data_start;
        let mut changed = bytes.clone();
        changed[blob as usize + 10] ^= 0xff;
        let cases = [
            bytes[..bytes.len() - 1].to_vec(),
            bytes[..bytes.len() / 2].to_vec(),
            bytes[..10].to_vec(),
            changed,
        ];
        for case in cases {
            let [file, memory] = read_both(&case);
            assert!(file.is_err(), "{file:?}");
            assert_eq!(file, memory);
        }
    }

    #[test]
    fn a_truncated_package_gives_the_file_error_from_memory_too() {
        let bytes = archive();
        let truncated = &bytes[..bytes.len() - 3];
        let [file, memory] = read_both(truncated);
        assert_eq!(file, Err(ZipError::NoEndRecord.to_string()));
        assert_eq!(memory, file);
    }
}
