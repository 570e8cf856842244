//! Local headers and data ranges. Each entry's local header must repeat its
//! central record, and the entries, in file order, must tile the file from
//! its first byte to the central directory: no gap where other content could
//! hide, no two entries sharing bytes (which would let a small file make a
//! reader read far more than its size).

use std::io::{BufReader, Read, Seek, SeekFrom};

use super::directory::{extra_error, CentralRecord};
use super::error::{HeaderField, ZipError};
use super::fields::{zip64_field, Fields};
use super::records::{LOCAL_LEN, LOCAL_SIG, ZIP64_LOCAL_DATA_LEN};

/// A 32-bit size that is in the ZIP64 field.
const MAX32: u32 = super::records::MAX32 as u32;

/// Checks the local header of every record against it and the layout of the
/// entries in `file` (`file_size` bytes, central directory at `directory`).
/// Returns where each record's data starts, in the order of `records`.
pub(super) fn check_local_headers(
    mut file: impl Read + Seek,
    records: &[CentralRecord],
    directory: u64,
    file_size: u64,
) -> Result<Vec<u64>, ZipError> {
    let mut order: Vec<usize> = (0..records.len()).collect();
    order.sort_by_key(|&i| records[i].header_offset);
    file.seek(SeekFrom::Start(0))?;
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut starts = vec![0; records.len()];
    // Where the next entry must begin, and the entry that ends there.
    let mut next = 0;
    let mut previous: Option<&CentralRecord> = None;
    let mut rest = Vec::new();
    for index in order {
        let record = &records[index];
        let entry = || record.name.clone();
        if record.header_offset.saturating_add(LOCAL_LEN as u64) > directory {
            return Err(ZipError::HeaderOutside { entry: entry() });
        }
        match (record.header_offset.cmp(&next), previous) {
            (std::cmp::Ordering::Less, Some(other)) => {
                return Err(ZipError::Overlap {
                    entry: entry(),
                    other: other.name.clone(),
                })
            }
            (std::cmp::Ordering::Greater, _) => {
                return Err(ZipError::Gap {
                    offset: next,
                    len: record.header_offset - next,
                })
            }
            _ => {}
        }
        // The reader stands at `next`, which is this header.
        let data_start = read_local_header(&mut reader, record, directory, &mut rest)?;
        let data_end = data_start
            .checked_add(record.compressed_size)
            .filter(|&end| end <= file_size)
            .ok_or_else(|| ZipError::DataPastEnd { entry: entry() })?;
        if data_end > directory {
            return Err(ZipError::DataIntoDirectory { entry: entry() });
        }
        reader.seek_relative(record.compressed_size as i64)?;
        starts[index] = data_start;
        next = data_end;
        previous = Some(record);
    }
    if next != directory {
        return Err(ZipError::Gap {
            offset: next,
            len: directory - next,
        });
    }
    Ok(starts)
}

/// Reads the local header the reader stands at and compares it with
/// `record` (`rest` holds its name and extra fields); returns where its data
/// starts.
fn read_local_header(
    reader: &mut impl Read,
    record: &CentralRecord,
    directory: u64,
    rest: &mut Vec<u8>,
) -> Result<u64, ZipError> {
    let entry = || record.name.clone();
    let mut fixed = [0; LOCAL_LEN];
    reader.read_exact(&mut fixed)?;
    let mut header = Fields::new(&fixed);
    if header.u32() != Some(LOCAL_SIG) {
        return Err(ZipError::NoLocalHeader { entry: entry() });
    }
    let [_needed, flags, method, _time, _date] = [(); 5].map(|()| header.u16().unwrap_or(0));
    let [crc32, compressed_size, size] = [(); 3].map(|()| header.u32().unwrap_or(0));
    let [name_len, extra_len] = [(); 2].map(|()| usize::from(header.u16().unwrap_or(0)));
    let data_start = record.header_offset + (LOCAL_LEN + name_len + extra_len) as u64;
    if data_start > directory {
        return Err(ZipError::HeaderOutside { entry: entry() });
    }
    rest.resize(name_len + extra_len, 0);
    reader.read_exact(rest)?;
    let (name, extra) = rest.split_at(name_len);
    let differs = |field| ZipError::LocalHeader {
        entry: entry(),
        field,
    };
    if name != record.name.as_bytes() {
        return Err(differs(HeaderField::Name));
    }
    if flags != record.flags {
        return Err(differs(HeaderField::Flags));
    }
    if method != record.method {
        return Err(differs(HeaderField::Method));
    }
    if crc32 != record.crc32 {
        return Err(differs(HeaderField::Crc));
    }
    // A ZIP64 field in a local header holds both sizes, and both header
    // fields then say so; without one, neither may.
    let sizes = match zip64_field(extra).map_err(|p| extra_error(&record.name, p))? {
        Some(wide)
            if wide.len() == usize::from(ZIP64_LOCAL_DATA_LEN)
                && size == MAX32
                && compressed_size == MAX32 =>
        {
            let mut wide = Fields::new(wide);
            (wide.u64(), wide.u64())
        }
        None if size != MAX32 && compressed_size != MAX32 => {
            (Some(size.into()), Some(compressed_size.into()))
        }
        _ => return Err(ZipError::Zip64Field { entry: entry() }),
    };
    if sizes != (Some(record.size), Some(record.compressed_size)) {
        return Err(differs(HeaderField::Sizes));
    }
    Ok(data_start)
}
