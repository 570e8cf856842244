//! The parts writer and reader together: a ZIP written into parts is the
//! one written into a file, byte for byte, and reads back in place.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use super::*;
use crate::package::zip::PackageSource;
use crate::package::zip::{Compression, DosTime, ZipOutput, ZipWriter};
use crate::progress::Silent;

/// Writes the same entries, one of them discarded, into `out`: about
/// 3.5 MiB, across part boundaries, with a local header completed in an
/// earlier part than its data ends in, and whole parts of data (hashed
/// while the entry is written) cut off with the discarded entry and
/// written again.
fn write_zip<W: ZipOutput>(out: W) {
    let mut zip = ZipWriter::new(out, DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH));
    let data: Vec<u8> = (0..(1 << 20) + 777).map(|i| (i * 7 % 251) as u8).collect();
    zip.write_entry("a", Compression::None, b"small").unwrap();
    let mut big = zip.start_entry("bbbb", Compression::None).unwrap();
    big.write_all(&data).unwrap();
    big.write_all(&data).unwrap();
    big.finish(Some("cccc")).unwrap();
    let mut dropped = zip.start_entry("d", Compression::None).unwrap();
    for _ in 0..3 {
        dropped.write_all(&data).unwrap();
    }
    dropped.discard().unwrap();
    zip.write_entry("e", Compression::Deflate, &data).unwrap();
    zip.write_entry("f", Compression::None, &data[..1000])
        .unwrap();
    zip.write_entry("g", Compression::None, &data).unwrap();
    zip.finish().unwrap();
}

/// Splits the same ZIP into 1 MiB parts in `dir`, as `p.zip`; returns the
/// unsplit file.
fn split_in(dir: &Path) -> PathBuf {
    let whole = dir.join("whole.zip");
    write_zip(std::fs::File::create(&whole).unwrap());
    let parts = PartsWriter::new(dir, "p.zip", "1MiB".parse().unwrap());
    write_zip(parts.clone());
    parts.finish(&"ab".repeat(32), false, None).unwrap();
    whole
}

fn joined(dir: &Path, count: usize) -> Vec<u8> {
    (1..=count)
        .flat_map(|n| std::fs::read(dir.join(part_name("p.zip", n))).unwrap())
        .collect()
}

#[test]
fn parts_join_into_the_unsplit_file_and_read_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let whole = std::fs::read(split_in(dir.path())).unwrap();
    let parts = SplitParts::open(&[dir.path().join("p.zip.002")]).unwrap();
    let count = parts.list().count();
    assert_eq!(count as u64, (whole.len() as u64).div_ceil(1 << 20));
    assert_eq!(joined(dir.path(), count), whole);
    assert!(!std::fs::read_dir(dir.path()).unwrap().any(|e| e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .ends_with(".partial")));
    parts.check(&Silent, &Default::default()).unwrap();
    parts.check_package(&"ab".repeat(32)).unwrap();
    assert!(parts.check_package(&"cd".repeat(32)).is_err());

    let mut buf = vec![0; 3000];
    let at = (1 << 20) - 1000;
    assert_eq!(parts.read_at(at, &mut buf).unwrap(), 3000);
    assert_eq!(buf, whole[at as usize..at as usize + 3000]);
    let mut range = Vec::new();
    parts
        .open_range(5, (2 << 20) + 10)
        .unwrap()
        .read_to_end(&mut range)
        .unwrap();
    assert_eq!(range, whole[5..(2 << 20) + 15]);
    for given in ["p.zip", "p.zip.parts", "p.zip.001"] {
        let again = SplitParts::open(&[dir.path().join(given)]).unwrap();
        assert_eq!(again.size(), whole.len() as u64);
    }
}

#[test]
fn a_bad_part_is_named_before_the_package_is_read() {
    let dir = tempfile::tempdir().unwrap();
    split_in(dir.path());
    let part = |n| dir.path().join(part_name("p.zip", n));
    let open = || SplitParts::open(&[part(1)]).map(|_| ());
    assert_eq!(SplitParts::open(&[part(1)]).unwrap().list().count(), 4);
    let check = || {
        SplitParts::open(&[part(1)])
            .unwrap()
            .check(&Silent, &Default::default())
            .unwrap_err()
            .to_string()
    };

    let good = std::fs::read(part(3)).unwrap();
    let mut flipped = good.clone();
    flipped[1234] ^= 1;
    std::fs::write(part(3), &flipped).unwrap();
    assert!(check().starts_with("part 3 of 4 is damaged"), "{}", check());
    // Parts are checked at once; of two damaged, the first is named.
    let fourth = std::fs::read(part(4)).unwrap();
    let mut damaged = fourth.clone();
    damaged[10] ^= 1;
    std::fs::write(part(4), &damaged).unwrap();
    for _ in 0..5 {
        assert!(check().starts_with("part 3 of 4 is damaged"), "{}", check());
    }
    std::fs::write(part(4), &fourth).unwrap();
    // A list written before parts had a CRC-32: checked by SHA-256.
    let list_path = dir.path().join("p.zip.parts");
    let list = std::fs::read(&list_path).unwrap();
    let mut old: serde_json::Value = serde_json::from_slice(&list).unwrap();
    for part in old["parts"].as_array_mut().unwrap() {
        part.as_object_mut().unwrap().remove("crc32").unwrap();
    }
    std::fs::write(&list_path, serde_json::to_vec(&old).unwrap()).unwrap();
    assert!(check().starts_with("part 3 of 4 is damaged"), "{}", check());
    std::fs::write(&list_path, list).unwrap();
    std::fs::write(part(3), &good).unwrap();

    let (one, two) = (
        std::fs::read(part(1)).unwrap(),
        std::fs::read(part(2)).unwrap(),
    );
    std::fs::write(part(1), &two).unwrap();
    std::fs::write(part(2), &one).unwrap();
    assert!(
        check().starts_with("part 1 of 4 holds part 2"),
        "{}",
        check()
    );
    std::fs::write(part(1), &one).unwrap();
    std::fs::write(part(2), &two).unwrap();

    let last = std::fs::read(part(4)).unwrap();
    std::fs::remove_file(part(4)).unwrap();
    let missing = open().unwrap_err().to_string();
    assert!(missing.starts_with("part 4 of 4 is missing"), "{missing}");
    std::fs::write(part(4), &last[1..]).unwrap();
    let short = open().unwrap_err().to_string();
    assert!(short.starts_with("part 4 of 4 is damaged"), "{short}");
    std::fs::write(part(4), &last).unwrap();

    std::fs::write(part(5), b"stray").unwrap();
    let extra = open().unwrap_err().to_string();
    assert!(
        extra.contains("is not a part of this package, which has 4 parts"),
        "{extra}"
    );
    std::fs::remove_file(part(5)).unwrap();
    open().unwrap();
}

#[test]
fn a_create_that_fails_leaves_no_part() {
    let dir = tempfile::tempdir().unwrap();
    let parts = PartsWriter::new(dir.path(), "p.zip", "1MiB".parse().unwrap());
    write_zip(parts.clone());
    drop(parts);
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn a_part_hashed_while_written_and_then_written_again_is_hashed_anew() {
    use std::io::{Seek, SeekFrom};
    let dir = tempfile::tempdir().unwrap();
    let mut parts = PartsWriter::new(dir.path(), "p.zip", "1MiB".parse().unwrap());
    let data: Vec<u8> = (0..3 << 20).map(|i| (i % 253) as u8).collect();
    // Parts 2 and 3 are data alone, hashed as soon as each is full.
    parts.write_all(&data).unwrap();
    // A write into part 2, and part 3 cut in half.
    parts.seek(SeekFrom::Start((1 << 20) + 5)).unwrap();
    parts.write_all(b"again").unwrap();
    // Part 3's hash is done before it is cut.
    std::thread::sleep(std::time::Duration::from_millis(300));
    ZipOutput::truncate(&mut parts, (5 << 20) / 2).unwrap();
    let list = parts.finish(&"ab".repeat(32), false, None).unwrap();
    for record in &list.parts {
        let bytes = std::fs::read(dir.path().join(&record.name)).unwrap();
        assert_eq!(record.size, bytes.len() as u64, "{}", record.name);
        assert_eq!(
            record.sha256,
            hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&bytes)),
            "{}",
            record.name
        );
    }
    assert_eq!(list.parts.len(), 3);
}
