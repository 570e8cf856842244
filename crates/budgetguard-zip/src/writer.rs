//! A streaming ZIP writer made for install packages.
//!
//! It writes entries one after the other straight to a file, with ZIP64 records
//! wherever a size or an offset needs them. Three things the `zip` crate cannot
//! do are why it exists: an entry's name can be settled after its data is
//! written (a layer's digest is known only once it has streamed through); an
//! entry written last can be listed first in the central directory (the
//! package manifest, which holds the checksums of everything before it).

use std::fs::File;
use std::io::{self, BufWriter, Seek, SeekFrom, Write};

use super::records::{
    CENTRAL_SIG, EOCD_SIG, EXTRA_HEAD_LEN, LOCAL_SIG, MAX16, MAX32, ZIP64_EOCD_REST,
    ZIP64_EOCD_SIG, ZIP64_EXTRA, ZIP64_LOCAL_DATA_LEN, ZIP64_LOCAL_EXTRA_LEN, ZIP64_LOCATOR_SIG,
};
use super::{Compression, DosTime};

/// Made by: Unix (3), specification 6.3.
const VERSION_MADE_BY: u16 = (3 << 8) | 63;
/// Regular file, mode 0644, in the high half of the external attributes.
const EXTERNAL_ATTRIBUTES: u32 = 0o100644 << 16;
const BUFFER_SIZE: usize = 1 << 20;

/// Where an archive is written: a file, or the parts of a split package.
/// The writer goes back to complete each entry's local header, and cuts a
/// discarded entry off the end.
pub trait ZipOutput: Write + Seek {
    /// Cuts the output back to its first `len` bytes.
    fn truncate(&mut self, len: u64) -> io::Result<()>;
}

impl ZipOutput for File {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        self.set_len(len)
    }
}

impl<T: ZipOutput + ?Sized> ZipOutput for Box<T> {
    fn truncate(&mut self, len: u64) -> io::Result<()> {
        (**self).truncate(len)
    }
}

/// What the central directory needs to know of one written entry.
#[derive(Debug, Clone)]
struct EntryRecord {
    name: String,
    compression: Compression,
    crc32: u32,
    compressed_size: u64,
    size: u64,
    header_offset: u64,
}

/// Writes a ZIP archive entry by entry. Call [`ZipWriter::finish`] at the end;
/// dropping it earlier leaves an incomplete archive.
pub struct ZipWriter<W: ZipOutput = File> {
    out: CountingWriter<BufWriter<W>>,
    entries: Vec<EntryRecord>,
    time: DosTime,
}

/// What [`ZipWriter::finish`] returns.
#[derive(Debug)]
pub struct Finished<W = File> {
    /// The archive file.
    pub file: W,
    /// Its size in bytes.
    pub size: u64,
}

impl<W: ZipOutput> ZipWriter<W> {
    /// Starts an archive at the current position of `file` (normally an empty
    /// file); every entry gets the modification time `time`.
    pub fn new(file: W, time: DosTime) -> Self {
        Self {
            out: CountingWriter::new(BufWriter::with_capacity(BUFFER_SIZE, file)),
            entries: Vec::new(),
            time,
        }
    }

    /// Lists the entry called `name` first in the central directory, whatever
    /// its place in the file.
    pub fn list_first(&mut self, name: &str) {
        if let Some(index) = self.entries.iter().position(|e| e.name == name) {
            let record = self.entries.remove(index);
            self.entries.insert(0, record);
        }
    }

    /// Writes a whole entry from memory.
    pub fn write_entry(
        &mut self,
        name: &str,
        compression: Compression,
        data: &[u8],
    ) -> io::Result<()> {
        let mut entry = self.start_entry(name, compression)?;
        entry.write_all(data)?;
        entry.finish(None)
    }

    /// Starts an entry whose data is then written through the returned
    /// [`EntryWriter`]. Its local header reserves ZIP64 sizes, so the entry
    /// may be of any size.
    pub fn start_entry(
        &mut self,
        name: &str,
        compression: Compression,
    ) -> io::Result<EntryWriter<'_, W>> {
        let header_offset = self.out.count;
        let record = EntryRecord {
            name: name.to_owned(),
            compression,
            crc32: 0,
            compressed_size: 0,
            size: 0,
            header_offset,
        };
        write_local_header(&mut self.out, &record, self.time)?;
        let data_start = self.out.count;
        let encoder = Encoder::new(compression)?;
        Ok(EntryWriter {
            zip: self,
            record,
            data_start,
            encoder,
            hasher: crc32fast::Hasher::new(),
        })
    }

    /// Writes the central directory and flushes.
    pub fn finish(mut self) -> io::Result<Finished<W>> {
        let cd_start = self.out.count;
        for record in &self.entries {
            write_central_header(&mut self.out, record, self.time)?;
        }
        let cd_size = self.out.count - cd_start;
        let count = self.entries.len() as u64;
        if count >= MAX16 || cd_start >= MAX32 || cd_size >= MAX32 {
            let zip64_eocd = self.out.count;
            let mut w = LittleEndian(&mut self.out);
            w.u32(ZIP64_EOCD_SIG)?;
            w.u64(ZIP64_EOCD_REST)?;
            w.u16(VERSION_MADE_BY)?;
            w.u16(45)?;
            w.u32(0)?; // this disk
            w.u32(0)?; // disk with the central directory
            w.u64(count)?;
            w.u64(count)?;
            w.u64(cd_size)?;
            w.u64(cd_start)?;
            w.u32(ZIP64_LOCATOR_SIG)?;
            w.u32(0)?;
            w.u64(zip64_eocd)?;
            w.u32(1)?;
        }
        let mut w = LittleEndian(&mut self.out);
        w.u32(EOCD_SIG)?;
        w.u16(0)?;
        w.u16(0)?;
        w.u16(count.min(MAX16) as u16)?;
        w.u16(count.min(MAX16) as u16)?;
        w.u32(cd_size.min(MAX32) as u32)?;
        w.u32(cd_start.min(MAX32) as u32)?;
        w.u16(0)?; // comment length
        let size = self.out.count;
        let file = self.out.inner.into_inner().map_err(|e| e.into_error())?;
        Ok(Finished { file, size })
    }
}

/// Receives one entry's uncompressed data; [`EntryWriter::finish`] completes it.
/// Dropping it unfinished leaves the archive unusable.
pub struct EntryWriter<'a, W: ZipOutput = File> {
    zip: &'a mut ZipWriter<W>,
    record: EntryRecord,
    data_start: u64,
    encoder: Encoder,
    hasher: crc32fast::Hasher,
}

impl<W: ZipOutput> EntryWriter<'_, W> {
    /// Uncompressed bytes written to this entry so far.
    pub fn size(&self) -> u64 {
        self.record.size
    }

    /// Ends the entry: writes its CRC and sizes into its local header and, when
    /// `final_name` is given, replaces its name with one of the same length.
    pub fn finish(mut self, final_name: Option<&str>) -> io::Result<()> {
        self.encoder.finish(&mut self.zip.out)?;
        let end = self.zip.out.count;
        self.record.compressed_size = end - self.data_start;
        self.record.crc32 = self.hasher.clone().finalize();
        if let Some(name) = final_name {
            if name.len() != self.record.name.len() {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("entry `{}` cannot be renamed to `{name}`", self.record.name),
                ));
            }
            self.record.name = name.to_owned();
        }
        let inner = &mut self.zip.out.inner;
        inner.seek(SeekFrom::Start(self.record.header_offset))?;
        write_local_header(inner, &self.record, self.zip.time)?;
        inner.seek(SeekFrom::Start(end))?;
        self.zip.entries.push(self.record);
        Ok(())
    }

    /// Drops the entry: the archive is cut back to where it began.
    pub fn discard(self) -> io::Result<()> {
        let out = &mut self.zip.out;
        out.inner.flush()?;
        out.inner.get_mut().truncate(self.record.header_offset)?;
        out.inner.seek(SeekFrom::Start(self.record.header_offset))?;
        out.count = self.record.header_offset;
        Ok(())
    }
}

impl<W: ZipOutput> Write for EntryWriter<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.encoder.write_all(&mut self.zip.out, buf)?;
        self.hasher.update(buf);
        self.record.size += buf.len() as u64;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// The compressor of one entry; it writes into the archive as data arrives.
enum Encoder {
    Stored,
    Deflate(flate2::Compress, Vec<u8>),
    Zstd(zstd::stream::raw::Encoder<'static>, Vec<u8>),
}

impl Encoder {
    fn new(compression: Compression) -> io::Result<Self> {
        Ok(match compression {
            Compression::None => Encoder::Stored,
            Compression::Deflate => Encoder::Deflate(
                flate2::Compress::new(flate2::Compression::fast(), false),
                vec![0; 256 * 1024],
            ),
            Compression::Zstd => {
                use zstd::zstd_safe::CParameter;
                let mut encoder = zstd::stream::raw::Encoder::new(1)?;
                let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
                encoder.set_parameter(CParameter::NbWorkers(threads as u32))?;
                Encoder::Zstd(encoder, vec![0; 256 * 1024])
            }
        })
    }

    fn write_all(&mut self, out: &mut impl Write, mut input: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Stored => out.write_all(input),
            Encoder::Deflate(compress, buf) => {
                while !input.is_empty() {
                    let before_in = compress.total_in();
                    let before_out = compress.total_out();
                    compress
                        .compress(input, buf, flate2::FlushCompress::None)
                        .map_err(io::Error::other)?;
                    let consumed = (compress.total_in() - before_in) as usize;
                    let produced = (compress.total_out() - before_out) as usize;
                    out.write_all(&buf[..produced])?;
                    input = &input[consumed..];
                }
                Ok(())
            }
            Encoder::Zstd(encoder, buf) => {
                use zstd::stream::raw::{InBuffer, Operation, OutBuffer};
                let mut src = InBuffer::around(input);
                while src.pos < input.len() {
                    let mut dst = OutBuffer::around(&mut buf[..]);
                    encoder.run(&mut src, &mut dst)?;
                    let produced = dst.pos();
                    out.write_all(&buf[..produced])?;
                }
                Ok(())
            }
        }
    }

    fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        match self {
            Encoder::Stored => Ok(()),
            Encoder::Deflate(compress, buf) => loop {
                let before_out = compress.total_out();
                let status = compress
                    .compress(&[], buf, flate2::FlushCompress::Finish)
                    .map_err(io::Error::other)?;
                let produced = (compress.total_out() - before_out) as usize;
                out.write_all(&buf[..produced])?;
                if status == flate2::Status::StreamEnd {
                    return Ok(());
                }
            },
            Encoder::Zstd(encoder, buf) => loop {
                use zstd::stream::raw::{Operation, OutBuffer};
                let mut dst = OutBuffer::around(&mut buf[..]);
                let remaining = encoder.finish(&mut dst, true)?;
                let produced = dst.pos();
                out.write_all(&buf[..produced])?;
                if remaining == 0 {
                    return Ok(());
                }
            },
        }
    }
}

fn write_local_header<W: Write>(w: &mut W, r: &EntryRecord, time: DosTime) -> io::Result<()> {
    let mut w = LittleEndian(w);
    w.u32(LOCAL_SIG)?;
    w.u16(version_needed(r))?;
    w.u16(0)?; // flags
    w.u16(r.compression.method())?;
    w.u16(time.time)?;
    w.u16(time.date)?;
    w.u32(r.crc32)?;
    // Sizes always go into a ZIP64 extra field: they are written before the
    // entry's size is known.
    w.u32(u32::MAX)?;
    w.u32(u32::MAX)?;
    w.u16(r.name.len() as u16)?;
    w.u16(ZIP64_LOCAL_EXTRA_LEN)?;
    w.0.write_all(r.name.as_bytes())?;
    w.u16(ZIP64_EXTRA)?;
    w.u16(ZIP64_LOCAL_DATA_LEN)?;
    w.u64(r.size)?;
    w.u64(r.compressed_size)?;
    Ok(())
}

fn write_central_header<W: Write>(w: &mut W, r: &EntryRecord, time: DosTime) -> io::Result<()> {
    // Only the fields that overflow go into the ZIP64 extra field, in this order.
    let mut extra = Vec::new();
    for value in [r.size, r.compressed_size, r.header_offset] {
        if value >= MAX32 {
            extra.extend_from_slice(&value.to_le_bytes());
        }
    }
    let clamp = |v: u64| v.min(MAX32) as u32;
    let mut w = LittleEndian(w);
    w.u32(CENTRAL_SIG)?;
    w.u16(VERSION_MADE_BY)?;
    w.u16(version_needed(r))?;
    w.u16(0)?;
    w.u16(r.compression.method())?;
    w.u16(time.time)?;
    w.u16(time.date)?;
    w.u32(r.crc32)?;
    w.u32(clamp(r.compressed_size))?;
    w.u32(clamp(r.size))?;
    w.u16(r.name.len() as u16)?;
    w.u16(if extra.is_empty() {
        0
    } else {
        EXTRA_HEAD_LEN + extra.len() as u16
    })?;
    w.u16(0)?; // comment length
    w.u16(0)?; // disk number
    w.u16(0)?; // internal attributes
    w.u32(EXTERNAL_ATTRIBUTES)?;
    w.u32(clamp(r.header_offset))?;
    w.0.write_all(r.name.as_bytes())?;
    if !extra.is_empty() {
        w.u16(ZIP64_EXTRA)?;
        w.u16(extra.len() as u16)?;
        w.0.write_all(&extra)?;
    }
    Ok(())
}

fn version_needed(r: &EntryRecord) -> u16 {
    match r.compression {
        Compression::Zstd => 63,
        _ => 45,
    }
}

/// Little-endian integer writes.
struct LittleEndian<W>(W);

impl<W: Write> LittleEndian<W> {
    fn u16(&mut self, v: u16) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    fn u32(&mut self, v: u32) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
    fn u64(&mut self, v: u64) -> io::Result<()> {
        self.0.write_all(&v.to_le_bytes())
    }
}

/// Counts what goes through it, so offsets need no `seek` on the hot path.
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W> CountingWriter<W> {
    fn new(inner: W) -> Self {
        Self { inner, count: 0 }
    }
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
