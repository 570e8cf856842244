//! The bytes of a remote package held for positioned reads: its end
//! records and central directory, fetched at open, and the spans of the
//! local headers the ZIP reader announced. Entries never pass through here:
//! each streams from its own range request.

use std::collections::BTreeMap;

/// Fetched spans of the package, by first byte; no two overlap.
#[derive(Debug, Default)]
pub(super) struct Blocks {
    spans: BTreeMap<u64, Vec<u8>>,
}

impl Blocks {
    /// Copies what is held from `offset` on into `buf` (up to the end of the
    /// span that holds `offset`); `None` when no span holds it.
    pub(super) fn read(&self, offset: u64, buf: &mut [u8]) -> Option<usize> {
        let (start, bytes) = self.spans.range(..=offset).next_back()?;
        let at = usize::try_from(offset - start).ok()?;
        let held = bytes.get(at..).filter(|rest| !rest.is_empty())?;
        let n = held.len().min(buf.len());
        buf[..n].copy_from_slice(&held[..n]);
        Some(n)
    }

    /// The first byte held after `offset`, if any: a fetch from `offset`
    /// stops there.
    pub(super) fn next_held(&self, offset: u64) -> Option<u64> {
        self.spans
            .range(offset.saturating_add(1)..)
            .next()
            .map(|(start, _)| *start)
    }

    /// Whether no byte of `start..end` is held.
    pub(super) fn holds_none(&self, start: u64, end: u64) -> bool {
        let mut probe = [0];
        self.read(start, &mut probe).is_none()
            && self.next_held(start).is_none_or(|next| next >= end)
    }

    /// Holds `bytes` from `start` on. The caller fetched only bytes not
    /// held, so spans never overlap; an empty one is not kept.
    pub(super) fn insert(&mut self, start: u64, bytes: Vec<u8>) {
        if !bytes.is_empty() {
            self.spans.insert(start, bytes);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_stop_at_the_end_of_what_is_held() {
        let mut blocks = Blocks::default();
        blocks.insert(100, (0..50).collect());
        blocks.insert(300, vec![9; 10]);
        let mut buf = [0; 80];
        assert_eq!(blocks.read(99, &mut buf), None);
        assert_eq!(blocks.read(120, &mut buf), Some(30));
        assert_eq!(buf[0], 20);
        assert_eq!(blocks.read(150, &mut buf), None);
        assert_eq!(blocks.read(305, &mut buf[..2]), Some(2));
        assert_eq!(blocks.next_held(120), Some(300));
        assert_eq!(blocks.next_held(300), None);
        assert!(blocks.holds_none(150, 300));
        assert!(!blocks.holds_none(150, 301));
        assert!(!blocks.holds_none(149, 151));
    }
}
