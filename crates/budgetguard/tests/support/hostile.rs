//! ZIP files written byte by byte, so that a test can make every field lie.

use std::io::Write;

const LOCAL_SIG: u32 = 0x0403_4b50;
const CENTRAL_SIG: u32 = 0x0201_4b50;
const EOCD_SIG: u32 = 0x0605_4b50;
const ZIP64_EOCD_SIG: u32 = 0x0606_4b50;
const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
/// Made by Unix, specification 6.3.
pub const MADE_BY_UNIX: u16 = (3 << 8) | 63;
/// A regular file, mode 0644.
pub const REGULAR: u32 = 0o100644 << 16;
/// Where the total entry count lies inside the end record.
pub const EOCD_COUNT: usize = 10;

/// One entry: its headers say what the fields say, whatever the data is.
#[derive(Debug, Clone)]
pub struct Entry {
    /// The name in both headers.
    pub name: Vec<u8>,
    /// The bytes stored in the file (compressed already for other methods).
    pub data: Vec<u8>,
    /// Compression method.
    pub method: u16,
    /// General purpose flags.
    pub flags: u16,
    /// CRC-32 in both headers.
    pub crc: u32,
    /// Uncompressed size in both headers.
    pub size: u64,
    /// Compressed size in both headers.
    pub compressed_size: u64,
    /// "Made by" of the central record.
    pub made_by: u16,
    /// External attributes of the central record.
    pub external: u32,
    /// Extra fields of both headers.
    pub extra: Vec<u8>,
    /// Local header fields that differ from the central record's.
    pub local: Local,
    /// Junk bytes written before the local header.
    pub gap_before: usize,
    /// The central record points at the local header of this entry instead.
    pub points_at: Option<usize>,
}

/// Local header fields that lie.
#[derive(Debug, Clone, Default)]
pub struct Local {
    /// Another name.
    pub name: Option<Vec<u8>>,
    /// Another method.
    pub method: Option<u16>,
    /// Another CRC-32.
    pub crc: Option<u32>,
    /// Another uncompressed size.
    pub size: Option<u64>,
}

impl Entry {
    /// A stored regular file.
    pub fn stored(name: &str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes().to_vec(),
            data: data.to_vec(),
            method: 0,
            flags: 0,
            crc: crc32fast::hash(data),
            size: data.len() as u64,
            compressed_size: data.len() as u64,
            made_by: MADE_BY_UNIX,
            external: REGULAR,
            extra: Vec::new(),
            local: Local::default(),
            gap_before: 0,
            points_at: None,
        }
    }

    /// A deflated regular file.
    pub fn deflated(name: &str, data: &[u8]) -> Self {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(data).unwrap();
        let compressed = encoder.finish().unwrap();
        Self {
            method: 8,
            compressed_size: compressed.len() as u64,
            data: compressed,
            ..Self::stored(name, data)
        }
    }

    /// This entry with the Unix mode `mode` (type bits included).
    pub fn with_mode(mut self, mode: u32) -> Self {
        self.external = mode << 16;
        self
    }
}

/// A whole archive.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Its entries, in file and central directory order.
    pub entries: Vec<Entry>,
    /// Local headers carry the sizes in a ZIP64 field, as the package writer
    /// does.
    pub local_zip64: bool,
    /// A ZIP64 end record and locator precede the end record.
    pub zip64_end: bool,
}

impl Archive {
    /// An archive of `entries`, local headers as the package writer makes them.
    pub fn new(entries: Vec<Entry>) -> Self {
        Self {
            entries,
            local_zip64: true,
            zip64_end: false,
        }
    }

    /// The archive's bytes.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut offsets = Vec::new();
        for entry in &self.entries {
            out.extend(std::iter::repeat_n(0xAA, entry.gap_before));
            offsets.push(out.len() as u64);
            self.local_header(&mut out, entry);
            out.extend_from_slice(&entry.data);
        }
        let cd_start = out.len() as u64;
        for (i, entry) in self.entries.iter().enumerate() {
            let offset = offsets[entry.points_at.unwrap_or(i)];
            central_header(&mut out, entry, offset);
        }
        let cd_size = out.len() as u64 - cd_start;
        let count = self.entries.len() as u64;
        if self.zip64_end {
            let record = out.len() as u64;
            put32(&mut out, ZIP64_EOCD_SIG);
            put64(&mut out, 44);
            put16(&mut out, MADE_BY_UNIX);
            put16(&mut out, 45);
            put32(&mut out, 0);
            put32(&mut out, 0);
            put64(&mut out, count);
            put64(&mut out, count);
            put64(&mut out, cd_size);
            put64(&mut out, cd_start);
            put32(&mut out, ZIP64_LOCATOR_SIG);
            put32(&mut out, 0);
            put64(&mut out, record);
            put32(&mut out, 1);
        }
        put32(&mut out, EOCD_SIG);
        put16(&mut out, 0);
        put16(&mut out, 0);
        put16(&mut out, count as u16);
        put16(&mut out, count as u16);
        put32(&mut out, cd_size as u32);
        put32(&mut out, cd_start as u32);
        put16(&mut out, 0);
        out
    }

    fn local_header(&self, out: &mut Vec<u8>, entry: &Entry) {
        let name = entry.local.name.as_ref().unwrap_or(&entry.name);
        let size = entry.local.size.unwrap_or(entry.size);
        put32(out, LOCAL_SIG);
        put16(out, 45);
        put16(out, entry.flags);
        put16(out, entry.local.method.unwrap_or(entry.method));
        put16(out, 0);
        put16(out, 0x5b21);
        put32(out, entry.local.crc.unwrap_or(entry.crc));
        let zip64 = if self.local_zip64 { 20 } else { 0 };
        if self.local_zip64 {
            put32(out, u32::MAX);
            put32(out, u32::MAX);
        } else {
            put32(out, entry.compressed_size as u32);
            put32(out, size as u32);
        }
        put16(out, name.len() as u16);
        put16(out, (entry.extra.len() + zip64) as u16);
        out.extend_from_slice(name);
        out.extend_from_slice(&entry.extra);
        if self.local_zip64 {
            put16(out, 1);
            put16(out, 16);
            put64(out, size);
            put64(out, entry.compressed_size);
        }
    }
}

fn central_header(out: &mut Vec<u8>, entry: &Entry, offset: u64) {
    put32(out, CENTRAL_SIG);
    put16(out, entry.made_by);
    put16(out, 45);
    put16(out, entry.flags);
    put16(out, entry.method);
    put16(out, 0);
    put16(out, 0x5b21);
    put32(out, entry.crc);
    put32(out, entry.compressed_size as u32);
    put32(out, entry.size as u32);
    put16(out, entry.name.len() as u16);
    put16(out, entry.extra.len() as u16);
    put16(out, 0);
    put16(out, 0);
    put16(out, 0);
    put32(out, entry.external);
    put32(out, offset as u32);
    out.extend_from_slice(&entry.name);
    out.extend_from_slice(&entry.extra);
}

/// Where the central directory starts, as the end record says.
pub fn central_directory(bytes: &[u8]) -> usize {
    let eocd = bytes.len() - 22;
    u32::from_le_bytes(bytes[eocd + 16..eocd + 20].try_into().unwrap()) as usize
}

/// Where the `index`th record (from 0) of the central directory starts.
pub fn central_record(bytes: &[u8], index: usize) -> usize {
    let mut at = central_directory(bytes);
    for _ in 0..index {
        let len =
            |field: usize| u16::from_le_bytes([bytes[at + field], bytes[at + field + 1]]) as usize;
        at += 46 + len(28) + len(30) + len(32);
    }
    at
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put64(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_le_bytes());
}
