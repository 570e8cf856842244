//! The end of central directory records and the central directory, read
//! strictly: one end record, at the very end of the file, with its ZIP64
//! record and locator right before it when it needs them, and the central
//! directory right before those, holding exactly the entries they count.

use std::io::{Read, Seek, SeekFrom};

use super::error::{FileKind, ZipError, MAX_DIRECTORY, MAX_ENTRIES};
use super::fields::{zip64_field, ExtraProblem, Fields};
use super::names::check_name;
use super::records::{
    CENTRAL_LEN, CENTRAL_SIG, EOCD_LEN, EOCD_SIG, LOCATOR_LEN, MAX16, MAX32, ZIP64_EOCD_LEN,
    ZIP64_EOCD_REST, ZIP64_EOCD_SIG, ZIP64_LOCATOR_SIG,
};
use super::Compression;

/// The longest comment an end record can announce.
const MAX_COMMENT: u64 = 0xFFFF;

/// General purpose flags: encryption (bit 0), strong encryption (bit 6) and
/// an encrypted central directory (bit 13).
const ENCRYPTED: u16 = 1 | 1 << 6 | 1 << 13;
/// General purpose flag bit 3: sizes and CRC follow the data.
const DATA_DESCRIPTOR: u16 = 1 << 3;
/// General purpose flag bit 11: the name is UTF-8.
pub(super) const UTF8: u16 = 1 << 11;
/// Flags a package entry may have: the deflate level hints (bits 1 and 2)
/// and UTF-8.
const ALLOWED_FLAGS: u16 = 1 << 1 | 1 << 2 | UTF8;
/// "Made by" host number of Unix, whose external attributes hold a mode.
const HOST_UNIX: u16 = 3;
/// The MS-DOS folder attribute.
const DOS_FOLDER: u32 = 0x10;

/// Where the central directory lies, as the end records say.
#[derive(Debug)]
pub(super) struct Directory {
    /// Its first byte.
    pub offset: u64,
    /// Its size.
    pub size: u64,
    /// The entries it holds.
    pub count: u64,
}

/// One central directory record, checked on its own.
#[derive(Debug)]
pub(super) struct CentralRecord {
    /// The name (checked: see [`check_name`]).
    pub name: String,
    /// General purpose flags.
    pub flags: u16,
    /// The compression method's number.
    pub method: u16,
    /// The compression it stands for.
    pub compression: Compression,
    /// CRC-32 of the uncompressed data.
    pub crc32: u32,
    /// Compressed size.
    pub compressed_size: u64,
    /// Uncompressed size.
    pub size: u64,
    /// Offset of the local header.
    pub header_offset: u64,
}

/// Reads the end records of a file of `file_size` bytes.
pub(super) fn read_end(
    file: &mut (impl Read + Seek),
    file_size: u64,
) -> Result<Directory, ZipError> {
    if file_size < EOCD_LEN as u64 {
        return Err(ZipError::NoEndRecord);
    }
    // Enough to see an end record followed by the longest comment.
    let window = file_size.min(EOCD_LEN as u64 + MAX_COMMENT);
    let tail = read_at(file, file_size - window, window as usize)?;
    let eocd_at = tail.len() - EOCD_LEN;
    let mut eocd = Fields::new(&tail[eocd_at..]);
    if eocd.u32() != Some(EOCD_SIG) {
        // An end record further back, whole, is followed by something; one
        // too close to the end to be whole was cut short.
        let signature = EOCD_SIG.to_le_bytes();
        let last = tail.windows(4).rposition(|w| w == signature);
        return Err(match last {
            Some(at) if tail.len() - at > EOCD_LEN => ZipError::TrailingData,
            _ => ZipError::NoEndRecord,
        });
    }
    let [disk, directory_disk, on_disk, count] = [(); 4].map(|()| eocd.u16().unwrap_or(0));
    let size = u64::from(eocd.u32().unwrap_or(0));
    let offset = u64::from(eocd.u32().unwrap_or(0));
    if eocd.u16() != Some(0) {
        return Err(ZipError::TrailingData);
    }
    if disk != 0 || directory_disk != 0 || on_disk != count {
        return Err(ZipError::MultiDisk);
    }
    let count = u64::from(count);
    let eocd_offset = file_size - EOCD_LEN as u64;
    let has_locator = eocd_at >= LOCATOR_LEN
        && tail[eocd_at - LOCATOR_LEN..eocd_at].starts_with(&ZIP64_LOCATOR_SIG.to_le_bytes());
    let (directory, end) = if has_locator {
        let locator = &tail[eocd_at - LOCATOR_LEN + 4..eocd_at];
        let (zip64, record) = read_zip64_end(file, locator, eocd_offset - LOCATOR_LEN as u64)?;
        // The end record holds each value, or its marker when it overflows.
        let agree =
            |narrow: u64, wide: u64, max: u64| narrow == wide || (narrow == max && wide >= max);
        if !(agree(count, zip64.count, MAX16)
            && agree(size, zip64.size, MAX32)
            && agree(offset, zip64.offset, MAX32))
        {
            return Err(ZipError::Zip64Disagrees);
        }
        (zip64, record)
    } else if count == MAX16 || size == MAX32 || offset == MAX32 {
        return Err(ZipError::Zip64Missing);
    } else {
        (
            Directory {
                offset,
                size,
                count,
            },
            eocd_offset,
        )
    };
    if directory.offset.checked_add(directory.size) != Some(end) {
        return Err(ZipError::DirectoryMisplaced);
    }
    if directory.size > MAX_DIRECTORY {
        return Err(ZipError::DirectoryTooLarge {
            size: directory.size,
        });
    }
    if directory.count > MAX_ENTRIES {
        return Err(ZipError::TooManyEntries {
            count: directory.count,
        });
    }
    Ok(directory)
}

/// Reads the ZIP64 end record that `locator` (its fields after the
/// signature) points at; it must end where the locator, at `locator_offset`,
/// begins. Returns the directory it describes and where the record starts.
fn read_zip64_end(
    file: &mut (impl Read + Seek),
    locator: &[u8],
    locator_offset: u64,
) -> Result<(Directory, u64), ZipError> {
    let mut fields = Fields::new(locator);
    let (Some(disk), Some(record_offset), Some(disks)) = (fields.u32(), fields.u64(), fields.u32())
    else {
        return Err(ZipError::Zip64Malformed);
    };
    if disk != 0 || disks != 1 {
        return Err(ZipError::MultiDisk);
    }
    if record_offset.checked_add(ZIP64_EOCD_LEN) != Some(locator_offset) {
        return Err(ZipError::Zip64Malformed);
    }
    let record = read_at(file, record_offset, ZIP64_EOCD_LEN as usize)?;
    let mut fields = Fields::new(&record);
    if fields.u32() != Some(ZIP64_EOCD_SIG) || fields.u64() != Some(ZIP64_EOCD_REST) {
        return Err(ZipError::Zip64Malformed);
    }
    let _versions = fields.take(4);
    let (disk, directory_disk) = (fields.u32(), fields.u32());
    let [on_disk, count, size, offset] = [(); 4].map(|()| fields.u64().unwrap_or(0));
    if disk != Some(0) || directory_disk != Some(0) || on_disk != count {
        return Err(ZipError::MultiDisk);
    }
    Ok((
        Directory {
            offset,
            size,
            count,
        },
        record_offset,
    ))
}

/// Reads and checks every record of the central directory.
pub(super) fn read_records(
    file: &mut (impl Read + Seek),
    directory: &Directory,
) -> Result<Vec<CentralRecord>, ZipError> {
    let bytes = read_at(file, directory.offset, directory.size as usize)?;
    let most = directory.count.min(directory.size / CENTRAL_LEN as u64);
    let mut records = Vec::with_capacity(most as usize);
    let mut fields = Fields::new(&bytes);
    while fields.left() > 0 {
        records.push(read_record(&mut fields, records.len() + 1)?);
    }
    if records.len() as u64 != directory.count {
        return Err(ZipError::CountMismatch {
            said: directory.count,
            found: records.len(),
        });
    }
    Ok(records)
}

/// Reads and checks the central directory record at the start of `fields`,
/// the `index`th (from 1).
fn read_record(fields: &mut Fields<'_>, index: usize) -> Result<CentralRecord, ZipError> {
    let bad = || ZipError::BadCentralRecord { index };
    let mut header = Fields::new(fields.take(CENTRAL_LEN).ok_or_else(bad)?);
    if header.u32() != Some(CENTRAL_SIG) {
        return Err(bad());
    }
    let [made_by, _needed, flags, method, _time, _date] =
        [(); 6].map(|()| header.u16().unwrap_or(0));
    let [crc32, compressed_size, size] = [(); 3].map(|()| header.u32().unwrap_or(0));
    let [name_len, extra_len, comment_len, disk, _internal] =
        [(); 5].map(|()| header.u16().unwrap_or(0));
    let [external, header_offset] = [(); 2].map(|()| header.u32().unwrap_or(0));
    let raw_name = fields.take(name_len.into()).ok_or_else(bad)?;
    let extra = fields.take(extra_len.into()).ok_or_else(bad)?;
    fields.take(comment_len.into()).ok_or_else(bad)?;

    let entry = check_name(raw_name, flags & UTF8 != 0)
        .map_err(|(entry, problem)| ZipError::Name { entry, problem })?;
    check_flags(&entry, flags)?;
    let compression = Compression::from_method(method).ok_or_else(|| ZipError::Method {
        entry: entry.clone(),
        method,
    })?;
    check_file_type(&entry, made_by, external)?;
    if comment_len != 0 {
        return Err(ZipError::Comment { entry });
    }
    if disk != 0 {
        return Err(ZipError::MultiDisk);
    }
    // Only the fields that overflow are in the ZIP64 field, in this order.
    let zip64 = zip64_field(extra).map_err(|p| extra_error(&entry, p))?;
    let mut wide = Fields::new(zip64.unwrap_or_default());
    let mut widen = |narrow: u32| match u64::from(narrow) {
        MAX32 => wide.u64(),
        value => Some(value),
    };
    let (Some(size), Some(compressed_size), Some(header_offset)) =
        (widen(size), widen(compressed_size), widen(header_offset))
    else {
        return Err(ZipError::Zip64Field { entry });
    };
    if wide.left() != 0 {
        return Err(ZipError::Zip64Field { entry });
    }
    if compression == Compression::None && size != compressed_size {
        return Err(ZipError::StoredSizes { entry });
    }
    Ok(CentralRecord {
        name: entry,
        flags,
        method,
        compression,
        crc32,
        compressed_size,
        size,
        header_offset,
    })
}

/// Refuses encryption, data descriptors and flags the reader does not know.
fn check_flags(entry: &str, flags: u16) -> Result<(), ZipError> {
    let entry = entry.to_owned();
    if flags & ENCRYPTED != 0 {
        Err(ZipError::Encrypted { entry })
    } else if flags & DATA_DESCRIPTOR != 0 {
        Err(ZipError::DataDescriptor { entry })
    } else if flags & !ALLOWED_FLAGS != 0 {
        Err(ZipError::Flags { entry, flags })
    } else {
        Ok(())
    }
}

/// Only regular files: a Unix mode (made on Unix, or any mode given) must
/// have no file type or the regular one, and no setuid, setgid or sticky
/// bit; the MS-DOS folder attribute is refused too.
fn check_file_type(entry: &str, made_by: u16, external: u32) -> Result<(), ZipError> {
    let mode = external >> 16;
    let kind = if external & DOS_FOLDER != 0 {
        Some(FileKind::Folder)
    } else if made_by >> 8 == HOST_UNIX || mode != 0 {
        match mode & 0o170000 {
            0 | 0o100000 => None,
            0o120000 => Some(FileKind::Symlink),
            0o020000 => Some(FileKind::CharDevice),
            0o060000 => Some(FileKind::BlockDevice),
            0o010000 => Some(FileKind::Fifo),
            0o140000 => Some(FileKind::Socket),
            0o040000 => Some(FileKind::Folder),
            other => Some(FileKind::Unknown(other)),
        }
    } else {
        None
    };
    if let Some(kind) = kind {
        return Err(ZipError::NotRegular {
            entry: entry.to_owned(),
            kind,
        });
    }
    if mode & 0o7000 != 0 {
        return Err(ZipError::SpecialMode {
            entry: entry.to_owned(),
            mode,
        });
    }
    Ok(())
}

/// The error for refused extra fields of `entry`.
pub(super) fn extra_error(entry: &str, problem: ExtraProblem) -> ZipError {
    let entry = entry.to_owned();
    match problem {
        ExtraProblem::Malformed => ZipError::MalformedExtra { entry },
        ExtraProblem::Refused(tag) => ZipError::ExtraField { entry, tag },
    }
}

/// Reads `len` bytes at `offset`.
fn read_at(file: &mut (impl Read + Seek), offset: u64, len: usize) -> Result<Vec<u8>, ZipError> {
    let mut bytes = vec![0; len];
    file.seek(SeekFrom::Start(offset))?;
    file.read_exact(&mut bytes)?;
    Ok(bytes)
}
