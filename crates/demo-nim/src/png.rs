//! A tiny PNG encoder: 8-bit RGB, no filtering, zlib "stored" (uncompressed)
//! deflate blocks. Output is a valid PNG any decoder accepts, just not small.

/// The eight bytes every PNG file starts with.
pub const SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

/// Largest payload of one stored deflate block.
const MAX_STORED: usize = 65_535;

/// Encodes `width` x `height` RGB pixels (3 bytes each, row-major) as a PNG.
///
/// Panics if `rgb` does not hold exactly `width * height * 3` bytes or a
/// dimension is zero (both are programming errors here).
pub fn encode_rgb(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    assert!(width > 0 && height > 0, "PNG dimensions must be non-zero");
    let row = width as usize * 3;
    assert_eq!(rgb.len(), row * height as usize, "pixel buffer size");

    // Raw scanlines: a filter-type byte (0 = None) before each row.
    let mut raw = Vec::with_capacity((row + 1) * height as usize);
    for line in rgb.chunks(row) {
        raw.push(0);
        raw.extend_from_slice(line);
    }

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&width.to_be_bytes());
    ihdr.extend_from_slice(&height.to_be_bytes());
    // bit depth 8, colour type 2 (RGB), compression 0, filter 0, no interlace
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);

    let mut png = SIGNATURE.to_vec();
    write_chunk(&mut png, b"IHDR", &ihdr);
    write_chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    write_chunk(&mut png, b"IEND", &[]);
    png
}

/// Wraps `data` in a zlib stream made of stored (uncompressed) deflate blocks.
pub fn zlib_stored(data: &[u8]) -> Vec<u8> {
    // CMF 0x78 = deflate with a 32 KiB window; FLG 0x01 makes CMF*256+FLG a
    // multiple of 31 (no preset dictionary, "fastest" level).
    let mut out = vec![0x78, 0x01];
    let mut blocks = data.chunks(MAX_STORED).peekable();
    if blocks.peek().is_none() {
        out.extend_from_slice(&[1, 0, 0, 0xFF, 0xFF]); // one empty final block
    }
    while let Some(block) = blocks.next() {
        let last = blocks.peek().is_none();
        let len = block.len() as u16;
        out.push(u8::from(last)); // BFINAL bit, BTYPE = 00 (stored)
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(block);
    }
    out.extend_from_slice(&adler32(data).to_be_bytes());
    out
}

/// Appends one PNG chunk: length, type, data, CRC-32 of type and data.
fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as PNG uses it.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// Adler-32 checksum as zlib uses it.
pub fn adler32(data: &[u8]) -> u32 {
    const MOD: u32 = 65_521;
    let (mut a, mut b) = (1u32, 0u32);
    // 5552 is the largest run for which the sums cannot overflow a u32.
    for chunk in data.chunks(5552) {
        for &x in chunk {
            a += u32::from(x);
            b += a;
        }
        a %= MOD;
        b %= MOD;
    }
    (b << 16) | a
}

/// Test helper: a strict decoder for exactly what [`encode_rgb`] writes.
/// Checks the signature, every chunk CRC, IHDR, the zlib header, the stored
/// blocks and the Adler-32, and returns `(width, height, rgb)`.
#[cfg(test)]
pub fn decode_rgb(png: &[u8]) -> Result<(u32, u32, Vec<u8>), String> {
    let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if png.get(..8) != Some(&SIGNATURE[..]) {
        return Err("bad signature".into());
    }
    let mut pos = 8;
    let mut chunks: Vec<([u8; 4], &[u8])> = Vec::new();
    while pos < png.len() {
        let len = be32(png.get(pos..pos + 4).ok_or("truncated length")?) as usize;
        let body = png.get(pos + 4..pos + 8 + len).ok_or("truncated chunk")?;
        let crc = be32(
            png.get(pos + 8 + len..pos + 12 + len)
                .ok_or("truncated crc")?,
        );
        if crc32(body) != crc {
            return Err(format!("bad CRC in chunk at {pos}"));
        }
        chunks.push(([body[0], body[1], body[2], body[3]], &body[4..]));
        pos += 12 + len;
    }
    let kinds: Vec<&[u8]> = chunks.iter().map(|(k, _)| &k[..]).collect();
    if kinds.first() != Some(&&b"IHDR"[..]) || kinds.last() != Some(&&b"IEND"[..]) {
        return Err(format!("bad chunk order {kinds:?}"));
    }
    let ihdr = chunks[0].1;
    if ihdr.len() != 13 || ihdr[8..] != [8, 2, 0, 0, 0] {
        return Err("unsupported IHDR".into());
    }
    let (w, h) = (be32(&ihdr[0..4]), be32(&ihdr[4..8]));
    let z: Vec<u8> = chunks
        .iter()
        .filter(|(k, _)| k == b"IDAT")
        .flat_map(|(_, d)| d.iter().copied())
        .collect();
    if z.len() < 6 || z[0] & 0x0F != 8 || (u16::from(z[0]) << 8 | u16::from(z[1])) % 31 != 0 {
        return Err("bad zlib header".into());
    }
    // Inflate: only stored blocks are supported (that is all we write).
    let mut raw = Vec::new();
    let mut p = 2;
    loop {
        let hdr = *z.get(p).ok_or("truncated deflate")?;
        if hdr >> 1 != 0 {
            return Err("not a stored block".into());
        }
        let b = z.get(p + 1..p + 5).ok_or("truncated block header")?;
        let len = u16::from_le_bytes([b[0], b[1]]);
        if !len != u16::from_le_bytes([b[2], b[3]]) {
            return Err("LEN/NLEN mismatch".into());
        }
        let data = z
            .get(p + 5..p + 5 + len as usize)
            .ok_or("truncated block")?;
        raw.extend_from_slice(data);
        p += 5 + len as usize;
        if hdr & 1 == 1 {
            break;
        }
    }
    if z.len() != p + 4 || be32(&z[p..]) != adler32(&raw) {
        return Err("bad Adler-32 or trailing data".into());
    }
    let row = w as usize * 3;
    if raw.len() != (row + 1) * h as usize {
        return Err("wrong image data size".into());
    }
    let mut rgb = Vec::with_capacity(row * h as usize);
    for line in raw.chunks(row + 1) {
        if line[0] != 0 {
            return Err("unsupported filter".into());
        }
        rgb.extend_from_slice(&line[1..]);
    }
    Ok((w, h, rgb))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_values() {
        assert_eq!(crc32(b""), 0);
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b"IEND"), 0xAE42_6082);
        assert_eq!(adler32(b""), 1);
        assert_eq!(adler32(b"Wikipedia"), 0x11E6_0398);
        // Long runs of 0xFF exercise the modulo reduction.
        let big = vec![0xFF; 100_000];
        let (mut a, mut b) = (1u64, 0u64);
        for &x in &big {
            a = (a + u64::from(x)) % 65_521;
            b = (b + a) % 65_521;
        }
        assert_eq!(adler32(&big), ((b << 16) | a) as u32);
    }

    #[test]
    fn small_png_has_expected_layout() {
        let png = encode_rgb(1, 1, &[255, 0, 0]);
        assert_eq!(&png[..8], &SIGNATURE);
        assert_eq!(&png[8..16], &[0, 0, 0, 13, b'I', b'H', b'D', b'R']);
        assert_eq!(
            &png[png.len() - 12..],
            &[0, 0, 0, 0, b'I', b'E', b'N', b'D', 0xAE, 0x42, 0x60, 0x82]
        );
        assert_eq!(decode_rgb(&png).unwrap(), (1, 1, vec![255, 0, 0]));
    }

    #[test]
    fn large_png_round_trips_over_several_stored_blocks() {
        let (w, h) = (256u32, 256u32);
        let rgb: Vec<u8> = (0..w * h * 3).map(|i| (i * 7 % 251) as u8).collect();
        let png = encode_rgb(w, h, &rgb);
        // 256 rows of 769 bytes = 196,864 raw bytes: four stored blocks.
        assert!(png.len() > 196_864);
        assert_eq!(decode_rgb(&png).unwrap(), (w, h, rgb));
    }

    #[test]
    fn corruption_is_detected() {
        let mut png = encode_rgb(4, 3, &[9; 36]);
        let n = png.len();
        png[n - 20] ^= 1; // a byte inside IDAT
        assert!(decode_rgb(&png).unwrap_err().contains("CRC"));
    }

    #[test]
    fn empty_zlib_stream_is_valid() {
        assert_eq!(
            zlib_stored(&[]),
            vec![0x78, 0x01, 1, 0, 0, 0xFF, 0xFF, 0, 0, 0, 1]
        );
    }
}
