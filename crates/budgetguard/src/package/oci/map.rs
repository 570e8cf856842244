//! The map of a published package: where each large entry's data lies in
//! the package file and which blob holds it. Every other byte of the file
//! is the skeleton's, in order: the file is the skeleton with the pieces'
//! blobs put back in their places. The skeleton ends with a copy of the
//! file's last bytes (its *tail*), which the ZIP reader reads first: they
//! come from memory even where a piece reaches into them.

use serde::{Deserialize, Serialize};

use crate::reference::is_sha256_digest;

/// The map format this tool writes and reads.
pub const MAP_VERSION: u32 = 1;
/// Entries whose data is shorter than this stay in the skeleton: they come
/// with it, with no request of their own.
pub const SMALL_ENTRY: u64 = 64 << 10;
/// The largest map read.
pub const MAX_MAP: u64 = 64 << 20;
/// The largest skeleton read (it is held in memory).
pub const MAX_SKELETON: u64 = 1 << 30;
/// The tail copied into the skeleton: the end record and the longest
/// comment one may have, where a ZIP reader looks first.
pub const TAIL: u64 = 22 + 0xFFFF;

/// The map, the artifact's config.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PackageMap {
    /// [`MAP_VERSION`].
    pub version: u32,
    /// The package id (the SHA-256 of its manifest entry, in hex).
    pub package_id: String,
    /// The package file's size.
    pub size: u64,
    /// The length of the copy of the file's last bytes that ends the
    /// skeleton.
    pub tail: u64,
    /// The pieces, in the order of the file.
    pub pieces: Vec<Piece>,
}

/// A stretch of the package file that one blob holds whole.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Piece {
    /// Its first byte's offset in the file.
    pub at: u64,
    /// Its length: the blob's size.
    pub size: u64,
    /// The blob (`sha256:<hex>`).
    pub digest: String,
}

/// Where a stretch of the file comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum From {
    /// The skeleton, from this offset in it.
    Skeleton(u64),
    /// The piece of this index.
    Piece(usize),
}

/// One stretch of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Segment {
    /// Its first byte's offset in the file.
    pub at: u64,
    /// Its length.
    pub len: u64,
    /// Where its bytes are.
    pub from: From,
}

impl PackageMap {
    /// Checks that it describes one file with a skeleton of
    /// `skeleton_size` bytes: a known version, pieces in order, apart and
    /// inside the file, each a non-empty SHA-256 blob, the skeleton the
    /// rest and the tail. Returns what is wrong.
    pub fn check(&self, skeleton_size: u64) -> Result<(), String> {
        if self.version != MAP_VERSION {
            return Err(format!(
                "map version {} (this tool reads {MAP_VERSION}); update budgetguard-techops",
                self.version
            ));
        }
        if self.package_id.len() != 64 || !self.package_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("its package id is no SHA-256".into());
        }
        let mut end = 0u64;
        let mut in_pieces = 0u64;
        for piece in &self.pieces {
            if !is_sha256_digest(&piece.digest) {
                return Err(format!("`{}` is no SHA-256 digest", piece.digest));
            }
            if piece.size == 0 || piece.at < end {
                return Err(format!(
                    "the piece at {} overlaps another or is empty",
                    piece.at
                ));
            }
            end = piece
                .at
                .checked_add(piece.size)
                .filter(|e| *e <= self.size)
                .ok_or_else(|| format!("the piece at {} ends past the file", piece.at))?;
            in_pieces += piece.size;
        }
        if self.tail > self.size {
            return Err(format!(
                "a tail of {} bytes is longer than the file",
                self.tail
            ));
        }
        match in_pieces.checked_add(skeleton_size) {
            Some(total) if Some(total) == self.size.checked_add(self.tail) => Ok(()),
            _ => Err(format!(
                "a skeleton of {skeleton_size} bytes and pieces of {in_pieces} make no file of {} with a tail of {}",
                self.size, self.tail
            )),
        }
    }

    /// The file's stretches in order (of a checked map): the pieces and
    /// the skeleton's bytes between them up to the tail, then the tail.
    pub(super) fn segments(&self) -> Vec<Segment> {
        let before_tail = self.size - self.tail;
        let mut segments = Vec::with_capacity(self.pieces.len() * 2 + 2);
        let (mut at, mut skeleton) = (0, 0);
        for (i, piece) in self.pieces.iter().enumerate() {
            if piece.at > at {
                let len = piece.at - at;
                if at < before_tail {
                    segments.push(Segment {
                        at,
                        len: len.min(before_tail - at),
                        from: From::Skeleton(skeleton),
                    });
                }
                skeleton += len;
            }
            if piece.at < before_tail {
                segments.push(Segment {
                    at: piece.at,
                    len: piece.size.min(before_tail - piece.at),
                    from: From::Piece(i),
                });
            }
            at = piece.at + piece.size;
        }
        if before_tail > at {
            segments.push(Segment {
                at,
                len: before_tail - at,
                from: From::Skeleton(skeleton),
            });
        }
        let gaps = skeleton + self.size - at;
        if self.tail > 0 {
            segments.push(Segment {
                at: before_tail,
                len: self.tail,
                from: From::Skeleton(gaps),
            });
        }
        segments
    }
}

/// The index in `segments` of the one holding byte `offset` (`None` at or
/// past the end).
pub(super) fn segment_at(segments: &[Segment], offset: u64) -> Option<usize> {
    let i = segments.partition_point(|s| s.at + s.len <= offset);
    (i < segments.len()).then_some(i)
}
