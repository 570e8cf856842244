//! Reads a package's ZIP directory, strictly (see `docs/package-format.md`,
//! "What a reader must refuse"), and streams single entries from their source,
//! without extracting anything to disk.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::Path;
use std::sync::Arc;

use super::data::EntryData;
use super::directory::{read_end, read_records};
use super::error::{DataError, ZipError};
use super::local::check_local_headers;
use super::names::index_names;
use super::records::{LOCAL_LEN, ZIP64_LOCAL_EXTRA_LEN};
use super::source::{Cursor, FileSource, PackageSource};
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

/// A package's ZIP directory, read and checked once; entries are then read
/// from their byte ranges, each with a reader of its own.
#[derive(Debug)]
pub struct ZipReader {
    source: Arc<dyn PackageSource>,
    entries: Vec<EntryInfo>,
    index: HashMap<String, usize>,
}

impl ZipReader {
    /// Reads and checks the ZIP file at `path`: its end records, every
    /// central directory record, every local header against its record, and
    /// that the entries' names are distinct and their bytes do not overlap.
    pub fn open(path: &Path) -> Result<Self, ZipError> {
        Self::from_source(Arc::new(FileSource::open(path)?))
    }

    /// Reads and checks the ZIP in `source`, as [`ZipReader::open`] reads a
    /// file.
    pub fn from_source(source: Arc<dyn PackageSource>) -> Result<Self, ZipError> {
        let file_size = source.size();
        let mut file = Cursor::new(&*source);
        let directory = read_end(&mut file, file_size)?;
        let records = read_records(&mut file, &directory)?;
        let index = index_names(&records)?;
        // Every local header is read next: a remote source fetches them
        // together (each is as long as its name plus the ZIP64 field that
        // this format's writer puts in every local header).
        let headers: Vec<(u64, u64)> = records
            .iter()
            .map(|r| {
                (
                    r.header_offset,
                    (LOCAL_LEN + r.name.len() + usize::from(ZIP64_LOCAL_EXTRA_LEN)) as u64,
                )
            })
            .collect();
        source.will_read(&headers)?;
        let starts = check_local_headers(file, &records, directory.offset, file_size)?;
        let entries = records
            .into_iter()
            .zip(starts)
            .map(|(record, data_start)| EntryInfo {
                name: record.name,
                compression: record.compression,
                size: record.size,
                compressed_size: record.compressed_size,
                crc32: record.crc32,
                data_start,
            })
            .collect();
        Ok(Self {
            source,
            entries,
            index,
        })
    }

    /// The bytes the ZIP is read from.
    pub fn source(&self) -> &Arc<dyn PackageSource> {
        &self.source
    }

    /// All entries, in the order of the central directory.
    pub fn entries(&self) -> &[EntryInfo] {
        &self.entries
    }

    /// The entry called `name`, if there is one.
    pub fn entry(&self, name: &str) -> Option<&EntryInfo> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// Opens the uncompressed data of `entry`. The reader fails with a
    /// [`DataError`] inside its `io::Error` if the data decompresses to more
    /// or less than the entry's recorded size, or does not match its CRC-32.
    pub fn open_entry(&self, entry: &EntryInfo) -> io::Result<Box<dyn Read + Send>> {
        let raw = self
            .source
            .open_range(entry.data_start, entry.compressed_size)?;
        let data: Box<dyn Read + Send> = match entry.compression {
            Compression::None => Box::new(raw),
            Compression::Deflate => Box::new(flate2::read::DeflateDecoder::new(raw)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(raw)?),
        };
        let compressed = entry.compression != Compression::None;
        Ok(Box::new(EntryData::new(
            data,
            &entry.name,
            entry.size,
            entry.crc32,
            compressed,
        )))
    }

    /// Reads a whole entry into memory, refusing one larger than `max` bytes.
    pub fn read_small(&self, entry: &EntryInfo, max: u64) -> Result<Vec<u8>, ZipError> {
        if entry.size > max {
            return Err(ZipError::TooLarge {
                entry: entry.name.clone(),
                size: entry.size,
                max,
            });
        }
        let mut data = Vec::with_capacity(entry.size as usize);
        self.open_entry(entry)?
            .read_to_end(&mut data)
            .map_err(|e| match e.downcast::<DataError>() {
                Ok(data) => ZipError::Data(data),
                Err(e) => ZipError::Io(e),
            })?;
        Ok(data)
    }
}
