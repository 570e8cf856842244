//! An entry's uncompressed data as it streams: stopped at its recorded size,
//! and checked against its CRC-32 at the end.

use std::io::{self, Read};

use super::error::{DataError, DataProblem};

/// Reads an entry's uncompressed data from `inner`; fails with a
/// [`DataError`] inside the `io::Error` on data beyond the recorded size (a
/// ZIP bomb), short of it, undecodable, or not matching the CRC-32.
pub(super) struct EntryData<R> {
    inner: R,
    left: u64,
    crc: crc32fast::Hasher,
    expected_crc: u32,
    name: String,
    checked: bool,
    compressed: bool,
}

impl<R: Read> EntryData<R> {
    /// Reads `size` bytes of `name` from `inner` (a decompressor when
    /// `compressed`), which must have the CRC-32 `crc32`.
    pub(super) fn new(inner: R, name: &str, size: u64, crc32: u32, compressed: bool) -> Self {
        Self {
            inner,
            left: size,
            crc: crc32fast::Hasher::new(),
            expected_crc: crc32,
            name: name.to_owned(),
            checked: false,
            compressed,
        }
    }

    fn error(&self, problem: DataProblem) -> io::Error {
        DataError {
            entry: self.name.clone(),
            problem,
        }
        .into_io()
    }

    fn read_inner(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| match e.kind() {
            // Decoders report damaged data as errors of any kind; the file's
            // own read errors are handed on as they are.
            io::ErrorKind::Interrupted => e,
            _ if self.compressed => self.error(DataProblem::Undecodable(e)),
            _ => e,
        })
    }
}

impl<R: Read> Read for EntryData<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        if self.left == 0 {
            if self.checked {
                return Ok(0);
            }
            // One probe byte tells an exact end from data that goes on.
            let mut probe = [0u8; 1];
            if self.read_inner(&mut probe)? != 0 {
                return Err(self.error(DataProblem::Longer));
            }
            self.checked = true;
            if self.crc.clone().finalize() != self.expected_crc {
                return Err(self.error(DataProblem::Crc));
            }
            return Ok(0);
        }
        let max = buf.len().min(self.left.min(usize::MAX as u64) as usize);
        let n = self.read_inner(&mut buf[..max])?;
        if n == 0 {
            return Err(self.error(DataProblem::Shorter));
        }
        self.crc.update(&buf[..n]);
        self.left -= n as u64;
        Ok(n)
    }
}
