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

    /// Holds `bytes` from `start` on. Two reads at once may each fetch
    /// bytes the other holds by now: only the bytes not held yet are kept,
    /// so spans never overlap (a short span starting inside a longer one
    /// would hide the longer one's later bytes from [`Self::read`]).
    pub(super) fn insert(&mut self, start: u64, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        let end = start + bytes.len() as u64;
        if self.holds_none(start, end) {
            self.spans.insert(start, bytes);
            return;
        }
        let mut at = start;
        while at < end {
            if let Some((held, span)) = self.spans.range(..=at).next_back() {
                let held_end = held + span.len() as u64;
                if held_end > at {
                    at = held_end;
                    continue;
                }
            }
            let gap_end = self.next_held(at).map_or(end, |next| next.min(end));
            let piece = &bytes[(at - start) as usize..(gap_end - start) as usize];
            self.spans.insert(at, piece.to_vec());
            at = gap_end;
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

    #[test]
    fn bytes_fetched_twice_by_reads_at_once_keep_every_byte_readable() {
        let file: Vec<u8> = (0..=255).cycle().take(1000).collect();
        let part = |start: usize, end: usize| (start as u64, file[start..end].to_vec());
        // Each order of two overlapping fetches, one inside the other or
        // crossing it, beside a span held before.
        for fetches in [
            [part(100, 600), part(300, 400), part(650, 900)],
            [part(300, 400), part(100, 600), part(650, 900)],
            [part(650, 900), part(200, 700), part(100, 300)],
            [part(100, 300), part(650, 900), part(200, 950)],
        ] {
            let mut blocks = Blocks::default();
            let mut covered = vec![false; file.len()];
            for (start, bytes) in fetches {
                covered[start as usize..start as usize + bytes.len()].fill(true);
                blocks.insert(start, bytes);
            }
            let mut end = 0;
            for (start, span) in &blocks.spans {
                assert!(*start >= end, "spans overlap: {:?}", blocks.spans.keys());
                end = start + span.len() as u64;
            }
            for (offset, &held) in covered.iter().enumerate() {
                let mut byte = [0];
                let read = blocks.read(offset as u64, &mut byte);
                assert_eq!(read.is_some(), held, "byte {offset}");
                if held {
                    assert_eq!(byte[0], file[offset], "byte {offset}");
                }
            }
        }
    }
}
