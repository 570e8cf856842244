//! Generated file contents: bytes from `(size, seed)`, any range on its own,
//! and their SHA-256 by streaming.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use sha2::{Digest, Sha256};

use super::lock;

/// SplitMix64's finaliser.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Fills `buf` with the generated content of `seed` from byte `offset` on.
/// Word `i` (bytes `8i..8i+8`) depends only on `(seed, i)`, so any range can
/// be generated without the bytes before it.
pub fn fill(seed: u64, offset: u64, buf: &mut [u8]) {
    let key = mix(seed);
    let mut pos = offset;
    let mut i = 0;
    while i < buf.len() {
        let word = mix(key ^ (pos / 8)).to_le_bytes();
        let from = (pos % 8) as usize;
        let n = (8 - from).min(buf.len() - i);
        buf[i..i + n].copy_from_slice(&word[from..from + n]);
        i += n;
        pos += n as u64;
    }
}

/// The SHA-256 of the generated content `(size, seed)`, computed by
/// streaming once per process.
pub fn content_sha256(size: u64, seed: u64) -> String {
    static KNOWN: OnceLock<Mutex<HashMap<(u64, u64), String>>> = OnceLock::new();
    let known = KNOWN.get_or_init(Default::default);
    if let Some(sha) = lock(known).get(&(size, seed)) {
        return sha.clone();
    }
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < size {
        let n = (size - pos).min(buf.len() as u64) as usize;
        fill(seed, pos, &mut buf[..n]);
        hasher.update(&buf[..n]);
        pos += n as u64;
    }
    let sha = hex::encode(hasher.finalize());
    lock(known).insert((size, seed), sha.clone());
    sha
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_content_is_seekable_and_seeded() {
        let mut whole = vec![0u8; 100];
        fill(7, 0, &mut whole);
        for start in [0, 1, 7, 8, 13, 99] {
            let mut part = vec![0u8; 100 - start];
            fill(7, start as u64, &mut part);
            assert_eq!(part, whole[start..]);
        }
        let mut other = vec![0u8; 100];
        fill(8, 0, &mut other);
        assert_ne!(other, whole);
        assert_eq!(content_sha256(100, 7), hex::encode(Sha256::digest(&whole)));
    }
}
