//! Reads a package's ZIP directory and streams single entries from the file,
//! without extracting anything to disk.

use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use super::Compression;

/// Where one entry's data lies in the file and how to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryInfo {
    /// The entry's name as stored.
    pub name: String,
    /// How its data is compressed.
    pub compression: Compression,
    /// Uncompressed size from the central directory.
    pub size: u64,
    /// Compressed size from the central directory.
    pub compressed_size: u64,
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Offset of the first data byte in the file.
    pub data_start: u64,
}

/// A package's ZIP directory, read once; entries are then read from their
/// byte ranges with a file handle of their own.
#[derive(Debug)]
pub struct ZipReader {
    path: PathBuf,
    entries: Vec<EntryInfo>,
}

impl ZipReader {
    /// Reads the central directory of the ZIP file at `path`.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = BufReader::new(File::open(path)?);
        let mut archive = zip::ZipArchive::new(file).map_err(zip_error)?;
        let mut entries = Vec::with_capacity(archive.len());
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(zip_error)?;
            let name = entry.name().map_err(zip_error)?.into_owned();
            let method = entry_method(&entry);
            let compression = Compression::from_method(method).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("entry `{name}` uses unsupported compression method {method}"),
                )
            })?;
            let data_start = entry.data_start().ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("entry `{name}` has no data"),
                )
            })?;
            entries.push(EntryInfo {
                compression,
                size: entry.size(),
                compressed_size: entry.compressed_size(),
                crc32: entry.crc32(),
                data_start,
                name,
            });
        }
        Ok(Self {
            path: path.to_owned(),
            entries,
        })
    }

    /// All entries, in the order of the central directory.
    pub fn entries(&self) -> &[EntryInfo] {
        &self.entries
    }

    /// The entry called `name`, if there is one.
    pub fn entry(&self, name: &str) -> Option<&EntryInfo> {
        self.entries.iter().find(|e| e.name == name)
    }

    /// Opens the uncompressed data of `entry`. The reader fails if the data
    /// decompresses to more than the entry's recorded size (a ZIP bomb).
    pub fn open_entry(&self, entry: &EntryInfo) -> io::Result<Box<dyn Read + Send>> {
        let mut file = File::open(&self.path)?;
        file.seek(SeekFrom::Start(entry.data_start))?;
        let raw = BufReader::with_capacity(1 << 20, file).take(entry.compressed_size);
        let data: Box<dyn Read + Send> = match entry.compression {
            Compression::None => Box::new(raw),
            Compression::Deflate => Box::new(flate2::read::DeflateDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
        };
        Ok(Box::new(SizeLimited {
            inner: data,
            left: entry.size,
            name: entry.name.clone(),
        }))
    }

    /// Reads a whole entry into memory, refusing one larger than `max` bytes.
    pub fn read_small(&self, entry: &EntryInfo, max: u64) -> io::Result<Vec<u8>> {
        if entry.size > max {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "entry `{}` is {} bytes, more than {max} allowed",
                    entry.name, entry.size
                ),
            ));
        }
        let mut data = Vec::with_capacity(entry.size as usize);
        self.open_entry(entry)?.read_to_end(&mut data)?;
        Ok(data)
    }
}

fn entry_method<R: Read>(entry: &zip::read::ZipFile<'_, R>) -> u16 {
    #[allow(deprecated)]
    entry.compression().to_u16()
}

fn zip_error(e: zip::result::ZipError) -> io::Error {
    match e {
        zip::result::ZipError::Io(e) => e,
        other => io::Error::new(io::ErrorKind::InvalidData, other.to_string()),
    }
}

/// Stops a reader at the size recorded for its entry.
struct SizeLimited<R> {
    inner: R,
    left: u64,
    name: String,
}

impl<R: Read> Read for SizeLimited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One probe byte tells an exact end from data that goes on.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "entry `{}` holds more data than its recorded size",
                        self.name
                    ),
                )),
            };
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self
            .inner
            .read(&mut buf[..max])
            .map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData
                | io::ErrorKind::UnexpectedEof
                | io::ErrorKind::Interrupted => e,
                // Decoders report damaged data as other kinds.
                _ => io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("entry `{}` cannot be decompressed: {e}", self.name),
                ),
            })?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("entry `{}` ends before its recorded size", self.name),
            ));
        }
        self.left -= n as u64;
        Ok(n)
    }
}
