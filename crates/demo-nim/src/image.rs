//! The picture `/v1/infer` returns: a gradient with a checker overlay, picked
//! deterministically by prompt and seed, encoded as PNG (png crate) and
//! base64 (base64 crate).

use base64::Engine as _;
use std::time::{SystemTime, UNIX_EPOCH};

/// SplitMix64: a tiny, good-enough mixing function.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A seed in 1..=u32::MAX from the clock, for requests with seed 0 or none.
pub fn random_seed() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    mix(nanos) % u64::from(u32::MAX) + 1
}

/// Combines prompt and seed (FNV-1a over the prompt, then mixed).
pub fn pattern_key(prompt: &str, seed: u64) -> u64 {
    let fnv = prompt.bytes().fold(0xCBF2_9CE4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3)
    });
    mix(fnv ^ mix(seed))
}

/// A diagonal gradient between two colours picked by `key`, with a checker
/// overlay whose cell size also depends on `key`. Returns RGB bytes.
pub fn render(w: u32, h: u32, key: u64) -> Vec<u8> {
    let k = key.to_le_bytes();
    let (from, to) = ([k[0], k[1], k[2]], [k[3], k[4], k[5]]);
    let cell = 4 + u32::from(k[6] % 12);
    let span = (w + h).saturating_sub(2).max(1);
    let mut rgb = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let t = (x + y) * 255 / span; // 0..=255 along the diagonal
            let dark = (x / cell + y / cell) % 2 == 0;
            for c in 0..3 {
                let v = (u32::from(from[c]) * (255 - t) + u32::from(to[c]) * t) / 255;
                rgb.push(if dark { (v * 3 / 4) as u8 } else { v as u8 });
            }
        }
    }
    rgb
}

/// Encodes `width` x `height` RGB pixels as an 8-bit RGB PNG.
pub fn encode_png(width: u32, height: u32, rgb: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut encoder = png::Encoder::new(&mut out, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    encoder
        .write_header()
        .and_then(|mut w| w.write_image_data(rgb))
        .expect("an in-memory PNG of matching size encodes");
    out
}

/// The PNG of prompt and seed at `w` x `h`, base64-encoded (standard
/// alphabet, padded) as NIM returns it.
pub fn png_base64(w: u32, h: u32, prompt: &str, seed: u64) -> String {
    let png = encode_png(w, h, &render(w, h, pattern_key(prompt, seed)));
    base64::engine::general_purpose::STANDARD.encode(png)
}

/// Test helper: decodes a base64 PNG into `(width, height, rgb)`.
#[cfg(test)]
pub fn decode_png_base64(text: &str) -> (u32, u32, Vec<u8>) {
    let data = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("valid base64");
    let mut reader = png::Decoder::new(std::io::Cursor::new(data))
        .read_info()
        .expect("a PNG header");
    let mut rgb = vec![0; reader.output_buffer_size().expect("a sane size")];
    let info = reader.next_frame(&mut rgb).expect("a PNG frame");
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight)
    );
    rgb.truncate(info.buffer_size());
    (info.width, info.height, rgb)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_round_trips() {
        let (w, h) = (37, 5);
        let rgb = render(w, h, pattern_key("a fox", 7));
        assert_eq!(rgb.len(), (w * h * 3) as usize);
        let png = encode_png(w, h, &rgb);
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(
            decode_png_base64(&png_base64(w, h, "a fox", 7)),
            (w, h, rgb)
        );
    }

    #[test]
    fn pictures_depend_on_prompt_and_seed() {
        assert_eq!(png_base64(8, 8, "x", 1), png_base64(8, 8, "x", 1));
        assert_ne!(
            render(8, 8, pattern_key("x", 1)),
            render(8, 8, pattern_key("x", 2))
        );
        assert_ne!(
            render(8, 8, pattern_key("x", 1)),
            render(8, 8, pattern_key("y", 1))
        );
        assert!((1..=u64::from(u32::MAX)).contains(&random_seed()));
    }
}
