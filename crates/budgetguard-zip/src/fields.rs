//! Little-endian fields of ZIP records, read with bounds checks, and the
//! extra fields of a header.

use super::records::ZIP64_EXTRA;

/// Reads little-endian fields one after the other; `None` past the end.
pub(super) struct Fields<'a> {
    bytes: &'a [u8],
}

impl<'a> Fields<'a> {
    /// Starts at the first byte of `bytes`.
    pub(super) fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The next `n` bytes.
    pub(super) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if n > self.bytes.len() {
            return None;
        }
        let (head, rest) = self.bytes.split_at(n);
        self.bytes = rest;
        Some(head)
    }

    pub(super) fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_le_bytes([b[0], b[1]]))
    }

    pub(super) fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")))
    }

    pub(super) fn u64(&mut self) -> Option<u64> {
        self.take(8)
            .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
    }

    /// Bytes not read yet.
    pub(super) fn left(&self) -> usize {
        self.bytes.len()
    }
}

/// Extra field types a package may carry besides ZIP64: file times and
/// owners, which change nothing about where an entry goes or what it holds.
/// Anything else is refused, above all the Info-ZIP Unicode path (0x7075),
/// which makes `unzip` write an entry under another name than its header's.
const HARMLESS: [u16; 3] = [0x000a, 0x5455, 0x7875];

/// Why an entry's extra fields are refused.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum ExtraProblem {
    /// They do not parse into whole fields, or one type appears twice.
    Malformed,
    /// A field of this type.
    Refused(u16),
}

/// Checks the extra fields of a header and returns the ZIP64 field's data,
/// if there is one.
pub(super) fn zip64_field(extra: &[u8]) -> Result<Option<&[u8]>, ExtraProblem> {
    let mut fields = Fields::new(extra);
    let mut zip64 = None;
    let mut seen = Vec::new();
    while fields.left() > 0 {
        let (Some(tag), Some(len)) = (fields.u16(), fields.u16()) else {
            return Err(ExtraProblem::Malformed);
        };
        let data = fields.take(len.into()).ok_or(ExtraProblem::Malformed)?;
        if seen.contains(&tag) {
            return Err(ExtraProblem::Malformed);
        }
        seen.push(tag);
        if tag == ZIP64_EXTRA {
            zip64 = Some(data);
        } else if !HARMLESS.contains(&tag) {
            return Err(ExtraProblem::Refused(tag));
        }
    }
    Ok(zip64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_fields_parse_whole_and_only_known_types_pass() {
        assert_eq!(zip64_field(&[]), Ok(None));
        let zip64 = [1, 0, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(zip64_field(&zip64), Ok(Some(&zip64[4..])));
        let time = [0x55, 0x54, 1, 0, 9];
        assert_eq!(
            zip64_field(&[&time[..], &zip64[..]].concat()),
            Ok(Some(&zip64[4..]))
        );
        assert_eq!(zip64_field(&[1, 0, 9, 0, 1]), Err(ExtraProblem::Malformed));
        assert_eq!(zip64_field(&[1, 0, 0]), Err(ExtraProblem::Malformed));
        assert_eq!(
            zip64_field(&[&time[..], &time[..]].concat()),
            Err(ExtraProblem::Malformed)
        );
        assert_eq!(
            zip64_field(&[0x75, 0x70, 0, 0]),
            Err(ExtraProblem::Refused(0x7075))
        );
    }
}
