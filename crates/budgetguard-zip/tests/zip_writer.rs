//! The package's own ZIP writer, read back by an independent reader (the
//! `zip` crate, which checks every entry's CRC-32 as it reads) and by the
//! package's own strict [`ZipReader`]: a fixed archive, random entry sets
//! (proptest, also with entry counts around the ZIP64 limit), and the
//! ZIP64 boundaries that cost no 4 GiB of disk:
//!
//! - 65 534, 65 535 and 65 536 entries: the entry count of the end record
//!   overflows at 65 535, the ZIP64 end record must appear exactly there;
//! - an entry of 4 GiB − 1 bytes of zeros, zstd-compressed to a few KiB:
//!   its size is the 32-bit field's "see ZIP64" marker, so it must go into
//!   the ZIP64 extra field, while its offset and compressed size stay small.
//!
//! Offsets and compressed sizes past 4 GiB need 4 GiB of real bytes in the
//! file: `tests/zip_format.rs` writes them, and `unzip` and Python read them.

use std::collections::HashSet;
use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use budgetguard_zip::{Compression, DosTime, ZipReader, ZipWriter};
use proptest::prelude::*;

const U32_MAX: u64 = u32::MAX as u64;
const EOCD: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
const ZIP64_EOCD: [u8; 4] = [0x50, 0x4b, 0x06, 0x06];
const ZIP64_LOCATOR: [u8; 4] = [0x50, 0x4b, 0x06, 0x07];
const CENTRAL: [u8; 4] = [0x50, 0x4b, 0x01, 0x02];

fn time() -> DosTime {
    DosTime::from_utc(time::macros::datetime!(2026-11-29 12:00:00 UTC))
}

/// One entry as a test writes it.
#[derive(Debug, Clone)]
struct Spec {
    name: String,
    data: Vec<u8>,
    compression: Compression,
    /// Written under a placeholder of the same length, renamed on finish.
    renamed: bool,
    /// Started, written, then discarded: not in the archive.
    discarded: bool,
    /// The size of each `write` call.
    chunk: usize,
}

/// Writes `specs` in order, lists `first` first, and returns the entries
/// expected in the central directory, in its order.
fn write_archive(path: &Path, specs: &[Spec], first: Option<&str>) -> Vec<Spec> {
    let mut zip = ZipWriter::new(File::create(path).unwrap(), time());
    for spec in specs {
        let placeholder = "?".repeat(spec.name.len());
        let started_as = if spec.renamed {
            &placeholder
        } else {
            &spec.name
        };
        let mut entry = zip.start_entry(started_as, spec.compression).unwrap();
        for chunk in spec.data.chunks(spec.chunk.max(1)) {
            entry.write_all(chunk).unwrap();
        }
        assert_eq!(entry.size(), spec.data.len() as u64);
        if spec.discarded {
            entry.discard().unwrap();
        } else {
            entry
                .finish(spec.renamed.then_some(spec.name.as_str()))
                .unwrap();
        }
    }
    if let Some(first) = first {
        zip.list_first(first);
    }
    let finished = zip.finish().unwrap();
    assert_eq!(finished.size, std::fs::metadata(path).unwrap().len());
    let mut kept: Vec<Spec> = specs.iter().filter(|s| !s.discarded).cloned().collect();
    if let Some(i) = first.and_then(|f| kept.iter().position(|s| s.name == f)) {
        let listed_first = kept.remove(i);
        kept.insert(0, listed_first);
    }
    kept
}

/// The `zip` crate's method for a setting.
fn zip_method(compression: Compression) -> zip::CompressionMethod {
    match compression {
        Compression::None => zip::CompressionMethod::Stored,
        Compression::Deflate => zip::CompressionMethod::Deflated,
        Compression::Zstd => zip::CompressionMethod::Zstd,
    }
}

/// Reads the archive with the `zip` crate and with [`ZipReader`]: the same
/// entries, in the same order, with the same bytes; the CRC-32 each records
/// is the data's, and reading to the end checks it again.
fn reads_back(path: &Path, expected: &[Spec]) {
    let mut archive = zip::ZipArchive::new(File::open(path).unwrap()).unwrap();
    assert_eq!(archive.len(), expected.len());
    for (i, spec) in expected.iter().enumerate() {
        let mut file = archive.by_index(i).unwrap();
        assert_eq!(file.name().unwrap(), spec.name);
        assert_eq!(file.size(), spec.data.len() as u64, "{}", spec.name);
        assert_eq!(file.compression(), zip_method(spec.compression));
        assert_eq!(file.crc32(), crc32fast::hash(&spec.data), "{}", spec.name);
        let mut data = Vec::with_capacity(spec.data.len());
        file.read_to_end(&mut data)
            .unwrap_or_else(|e| panic!("{}: {e}", spec.name));
        assert!(data == spec.data, "{}: other bytes", spec.name);
    }
    let reader = ZipReader::open(path).unwrap();
    let names: Vec<&str> = reader.entries().iter().map(|e| e.name.as_str()).collect();
    let wanted: Vec<&str> = expected.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, wanted);
    for spec in expected {
        let entry = reader.entry(&spec.name).unwrap();
        assert_eq!(entry.compression, spec.compression);
        assert_eq!(entry.crc32, crc32fast::hash(&spec.data));
        let data = reader.read_small(entry, 1 << 30).unwrap();
        assert!(data == spec.data, "{}: other bytes", spec.name);
    }
}

fn spec(name: &str, data: Vec<u8>, compression: Compression) -> Spec {
    Spec {
        name: name.to_owned(),
        data,
        compression,
        renamed: false,
        discarded: false,
        chunk: 64 * 1024,
    }
}

#[test]
fn every_kind_of_entry_reads_back_with_the_zip_crate() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("kinds.zip");
    let text: Vec<u8> = (0..200_000u32)
        .flat_map(|i| (i % 97).to_le_bytes())
        .collect();
    let noise: Vec<u8> = (0..300_000u64)
        .map(|i| (i.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 56) as u8)
        .collect();
    let mut specs = vec![
        spec(
            "images/blobs/sha256/stored",
            noise.clone(),
            Compression::None,
        ),
        spec(
            "images/blobs/sha256/deflated",
            text.clone(),
            Compression::Deflate,
        ),
        spec("images/blobs/sha256/zstd", text.clone(), Compression::Zstd),
        spec("empty-stored", Vec::new(), Compression::None),
        spec("empty-deflate", Vec::new(), Compression::Deflate),
        spec("empty-zstd", Vec::new(), Compression::Zstd),
        spec("dropped", noise.clone(), Compression::Deflate),
        spec("blob-????", noise, Compression::Zstd),
        spec(
            "budgetguard-package.json",
            b"{\"last\":1}".to_vec(),
            Compression::None,
        ),
    ];
    specs[6].discarded = true;
    specs[7].renamed = true;
    specs[7].name = "blob-0001".into();
    specs[1].chunk = 1;
    let expected = write_archive(&path, &specs, Some("budgetguard-package.json"));
    assert_eq!(expected[0].name, "budgetguard-package.json");
    assert_eq!(expected.len(), 8);
    reads_back(&path, &expected);
}

/// Names the strict reader takes: distinct, ASCII (the writer sets no UTF-8
/// flag, and the reader refuses unflagged non-ASCII names), no part ending
/// in a dot, no folder entries, no case collisions (hence the index prefix).
fn entry_name() -> impl Strategy<Value = String> {
    let part = proptest::collection::vec(
        prop_oneof![
            proptest::char::range('a', 'z'),
            proptest::char::range('0', '9'),
            Just('-'),
            Just('_'),
        ],
        1..16,
    )
    .prop_map(|chars| chars.into_iter().collect::<String>());
    (part.clone(), proptest::option::of(part)).prop_map(|(stem, extension)| match extension {
        Some(extension) => format!("{stem}.{extension}"),
        None => stem,
    })
}

/// Data that compresses well, badly, or not at all.
fn entry_data() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..4096),
        (any::<u8>(), 0usize..200_000).prop_map(|(byte, len)| vec![byte; len]),
        (any::<u64>(), 0usize..100_000).prop_map(|(seed, len)| {
            (0..len as u64)
                .map(|i| ((i ^ seed).wrapping_mul(0x2545_f491_4f6c_dd1d) >> 60) as u8)
                .collect()
        }),
    ]
}

fn compression() -> impl Strategy<Value = Compression> {
    prop_oneof![
        Just(Compression::None),
        Just(Compression::Deflate),
        Just(Compression::Zstd)
    ]
}

fn entry_specs() -> impl Strategy<Value = Vec<Spec>> {
    proptest::collection::vec(
        (
            entry_name(),
            entry_data(),
            compression(),
            any::<bool>(),
            prop::bool::weighted(0.2),
            1usize..100_000,
        ),
        0..12,
    )
    .prop_map(|entries| {
        entries
            .into_iter()
            .enumerate()
            .map(
                |(i, (name, data, compression, renamed, discarded, chunk))| Spec {
                    name: format!("{i:02}/{name}"),
                    data,
                    compression,
                    renamed,
                    discarded,
                    chunk,
                },
            )
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// Any set of entries, renamed or discarded, one of them listed first,
    /// reads back the same with both readers.
    #[test]
    fn random_entry_sets_read_back_with_both_readers(
        specs in entry_specs(),
        first in any::<prop::sample::Index>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("random.zip");
        let kept: Vec<&Spec> = specs.iter().filter(|s| !s.discarded).collect();
        let first = (!kept.is_empty()).then(|| kept[first.index(kept.len())].name.clone());
        let expected = write_archive(&path, &specs, first.as_deref());
        let names: HashSet<&str> = expected.iter().map(|s| s.name.as_str()).collect();
        prop_assert_eq!(names.len(), expected.len());
        reads_back(&path, &expected);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3))]

    /// Random entries among enough small ones that the archive's entry
    /// count falls around the 16-bit limit, where ZIP64 takes over: both
    /// readers read every entry back.
    #[test]
    fn random_entry_sets_around_the_zip64_entry_count_read_back(
        specs in entry_specs(),
        count in 0xFFF0usize..0x1_0010,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("many.zip");
        let kept = specs.iter().filter(|s| !s.discarded).count();
        let mut all = specs;
        all.extend((kept..count).map(|i| Spec {
            name: format!("pad/{i:05x}"),
            data: vec![i as u8],
            compression: Compression::None,
            renamed: false,
            discarded: false,
            chunk: 1,
        }));
        let expected = write_archive(&path, &all, None);
        prop_assert_eq!(expected.len(), count.max(kept));
        reads_back(&path, &expected);
    }
}

/// The offset of the last occurrence of `signature` in `bytes`.
fn last(bytes: &[u8], signature: [u8; 4]) -> Option<usize> {
    bytes.windows(4).rposition(|w| w == signature)
}

fn u16_at(bytes: &[u8], at: usize) -> u16 {
    u16::from_le_bytes(bytes[at..at + 2].try_into().unwrap())
}

fn u64_at(bytes: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(bytes[at..at + 8].try_into().unwrap())
}

#[test]
fn the_zip64_end_record_appears_exactly_when_the_entry_count_overflows() {
    let dir = tempfile::tempdir().unwrap();
    for count in [0xFFFEu64, 0xFFFF, 0x1_0000] {
        let path = dir.path().join(format!("{count}.zip"));
        let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
        for i in 0..count {
            zip.write_entry(&format!("{i:05x}"), Compression::None, &i.to_le_bytes())
                .unwrap();
        }
        zip.finish().unwrap();

        let bytes = std::fs::read(&path).unwrap();
        let eocd = last(&bytes, EOCD).unwrap();
        assert_eq!(
            u64::from(u16_at(&bytes, eocd + 10)),
            count.min(0xFFFF),
            "{count}: the 16-bit count is the count, or the ZIP64 marker"
        );
        let zip64 = last(&bytes, ZIP64_EOCD);
        if count >= 0xFFFF {
            let zip64 = zip64.expect("a ZIP64 end record");
            assert_eq!(u64_at(&bytes, zip64 + 32), count, "the ZIP64 count");
            let locator = last(&bytes, ZIP64_LOCATOR).expect("a ZIP64 locator");
            assert_eq!(u64_at(&bytes, locator + 8), zip64 as u64);
        } else {
            assert_eq!(zip64, None, "{count}: no ZIP64 end record below the limit");
        }

        let mut archive = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
        assert_eq!(archive.len() as u64, count);
        for i in [0, count / 2, count - 1] {
            let mut file = archive.by_index(i as usize).unwrap();
            assert_eq!(file.name().unwrap(), format!("{i:05x}"));
            let mut data = Vec::new();
            file.read_to_end(&mut data).unwrap();
            assert_eq!(data, i.to_le_bytes());
        }
        let reader = ZipReader::open(&path).unwrap();
        assert_eq!(reader.entries().len() as u64, count);
        assert_eq!(
            reader.entries()[(count - 1) as usize].name,
            format!("{:05x}", count - 1)
        );
    }
}

/// An entry of exactly 4 GiB − 1 bytes (zeros, zstd makes them a few KiB):
/// 0xFFFF_FFFF in a 32-bit size field means "see the ZIP64 field", so the
/// size must go there; the offset and compressed size that follow it stay
/// small and in their 32-bit fields. About 12 s of CPU in a debug build.
#[test]
fn a_size_of_exactly_the_32_bit_marker_goes_into_the_zip64_field() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("marker.zip");
    let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
    zip.write_entry("before", Compression::None, b"before")
        .unwrap();
    let mut entry = zip.start_entry("zeros", Compression::Zstd).unwrap();
    let chunk = vec![0u8; 8 << 20];
    let mut left = U32_MAX;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        entry.write_all(&chunk[..n]).unwrap();
        left -= n as u64;
    }
    assert_eq!(entry.size(), U32_MAX);
    entry.finish(None).unwrap();
    zip.write_entry("after", Compression::Deflate, b"after")
        .unwrap();
    zip.finish().unwrap();
    assert!(std::fs::metadata(&path).unwrap().len() < 1 << 20);

    // The central record of `zeros`: both 32-bit sizes hold the marker
    // only for the size; the ZIP64 extra field holds the size alone.
    let bytes = std::fs::read(&path).unwrap();
    let record = bytes
        .windows(4)
        .enumerate()
        .filter(|(_, w)| *w == CENTRAL)
        .map(|(at, _)| at)
        .find(|&at| bytes[at + 46..].starts_with(b"zeros"))
        .expect("the central record of `zeros`");
    let field =
        |at: usize| u32::from_le_bytes(bytes[record + at..record + at + 4].try_into().unwrap());
    assert_eq!(field(24), u32::MAX, "uncompressed size: the marker");
    assert!(field(20) < u32::MAX, "compressed size: in its field");
    assert!(field(42) < u32::MAX, "offset: in its field");
    let extra_len = u16_at(&bytes, record + 30);
    assert_eq!(extra_len, 4 + 8, "a ZIP64 field with the size alone");
    let extra = record + 46 + 5;
    assert_eq!(u16_at(&bytes, extra), 0x0001);
    assert_eq!(u64_at(&bytes, extra + 4), U32_MAX);

    let mut archive = zip::ZipArchive::new(File::open(&path).unwrap()).unwrap();
    let mut zeros = archive.by_index(1).unwrap();
    assert_eq!(zeros.size(), U32_MAX);
    assert_eq!(zeros.crc32(), crc_of_zeros(U32_MAX));
    // Reading to the end checks the CRC-32.
    let read = std::io::copy(&mut zeros, &mut std::io::sink()).unwrap();
    assert_eq!(read, U32_MAX);
    drop(zeros);
    let mut after = String::new();
    archive
        .by_name("after")
        .unwrap()
        .read_to_string(&mut after)
        .unwrap();
    assert_eq!(after, "after");

    let reader = ZipReader::open(&path).unwrap();
    let entry = reader.entry("zeros").unwrap();
    assert_eq!(entry.size, U32_MAX);
    // The package reader checks the CRC-32 too.
    let read = std::io::copy(&mut reader.open_entry(entry).unwrap(), &mut std::io::sink()).unwrap();
    assert_eq!(read, U32_MAX);
}

/// The CRC-32 of `len` zero bytes.
fn crc_of_zeros(len: u64) -> u32 {
    let chunk = vec![0u8; 8 << 20];
    let mut hasher = crc32fast::Hasher::new();
    let mut left = len;
    while left > 0 {
        let n = left.min(chunk.len() as u64) as usize;
        hasher.update(&chunk[..n]);
        left -= n as u64;
    }
    hasher.finalize()
}
