//! The package ZIP writer against real ZIP readers: `unzip -t`, Python's
//! `zipfile`, and the package's own reader.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use budgetguard_zip::{Compression, DosTime, ZipReader, ZipWriter};

fn time() -> DosTime {
    DosTime::from_utc(time::macros::datetime!(2026-11-27 12:00:00 UTC))
}

fn unzip_t(path: &Path) {
    let out = Command::new("unzip")
        .arg("-t")
        .arg(path)
        .output()
        .expect("unzip runs");
    assert!(
        out.status.success(),
        "unzip -t failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Python's `zipfile` test of every entry; returns the names it read.
fn python_names(path: &Path) -> Vec<String> {
    let script = "import sys, zipfile\n\
        z = zipfile.ZipFile(sys.argv[1])\n\
        bad = z.testzip()\n\
        assert bad is None, bad\n\
        print('\\n'.join(i.filename + ' ' + str(i.file_size) for i in z.infolist()))";
    let out = Command::new("python3")
        .args(["-c", script])
        .arg(path)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python zipfile failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn read_entry(reader: &ZipReader, name: &str) -> Vec<u8> {
    let entry = reader.entry(name).expect("the entry exists");
    let mut data = Vec::new();
    reader
        .open_entry(entry)
        .unwrap()
        .read_to_end(&mut data)
        .unwrap();
    data
}

#[test]
fn renamed_discarded_and_reordered_entries_read_back_everywhere() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("a.zip");
    let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
    for (name, compression) in [
        ("blob-s", Compression::None),
        ("blob-d", Compression::Deflate),
    ] {
        let mut entry = zip.start_entry("blob-?", compression).unwrap();
        assert!(entry.size() == 0);
        for i in 0..300u32 {
            entry.write_all(&i.to_le_bytes().repeat(1000)).unwrap();
        }
        entry.finish(Some(name)).unwrap();
    }
    let mut dropped = zip.start_entry("dropped", Compression::None).unwrap();
    dropped.write_all(b"gone").unwrap();
    dropped.discard().unwrap();
    zip.write_entry("empty", Compression::Deflate, b"").unwrap();
    let manifest = br#"{"written":"last"}"#.to_vec();
    zip.write_entry("first.json", Compression::None, &manifest)
        .unwrap();
    zip.list_first("first.json");
    let finished = zip.finish().unwrap();

    assert_eq!(finished.size, std::fs::metadata(&path).unwrap().len());
    unzip_t(&path);
    let names = python_names(&path);
    assert_eq!(
        names,
        [
            "first.json 18",
            "blob-s 1200000",
            "blob-d 1200000",
            "empty 0"
        ]
    );
    let reader = ZipReader::open(&path).unwrap();
    assert_eq!(read_entry(&reader, "first.json"), manifest);
    assert_eq!(read_entry(&reader, "blob-s"), read_entry(&reader, "blob-d"));
    assert!(reader.entry("blob-d").unwrap().compressed_size < 1_200_000 / 10);
}

#[test]
fn zstd_entries_read_back_with_the_package_reader() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("z.zip");
    let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
    let data: Vec<u8> = (0..3_000_000u32).map(|i| (i % 251) as u8).collect();
    zip.write_entry("z", Compression::Zstd, &data).unwrap();
    zip.finish().unwrap();
    let reader = ZipReader::open(&path).unwrap();
    assert_eq!(reader.entry("z").unwrap().compression, Compression::Zstd);
    assert_eq!(read_entry(&reader, "z"), data);
}

#[test]
fn a_reader_refuses_data_beyond_the_recorded_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bomb.zip");
    let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
    zip.write_entry("big", Compression::Deflate, &vec![0u8; 1 << 20])
        .unwrap();
    zip.finish().unwrap();
    // Shrink the recorded size in the central directory: the data now expands
    // beyond what the directory promises, as in a ZIP bomb.
    let mut bytes = std::fs::read(&path).unwrap();
    let cd = bytes
        .windows(4)
        .rposition(|w| w == [0x50, 0x4b, 0x01, 0x02])
        .unwrap();
    bytes[cd + 24..cd + 28].copy_from_slice(&1000u32.to_le_bytes());
    // The local header's ZIP64 field (after the 30-byte header and the name
    // `big`) must say the same: the reader refuses headers that disagree.
    bytes[37..45].copy_from_slice(&1000u64.to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let reader = ZipReader::open(&path).unwrap();
    let entry = reader.entry("big").unwrap();
    let mut sink = Vec::new();
    let err = reader
        .open_entry(entry)
        .unwrap()
        .read_to_end(&mut sink)
        .unwrap_err();
    assert!(
        err.to_string().contains("more data than its recorded size"),
        "{err}"
    );
    assert!(sink.len() <= 1000);
}

/// An entry past 4 GiB needs ZIP64 sizes and offsets; both real readers
/// must accept it. Writes about 4.1 GiB to the temp folder.
#[test]
fn entries_past_4_gib_use_zip64() {
    let dir = tempfile::tempdir_in(
        std::env::var_os("CARGO_TARGET_TMPDIR").unwrap_or_else(|| "/tmp".into()),
    )
    .unwrap();
    let path = dir.path().join("big.zip");
    let mut zip = ZipWriter::new(File::create(&path).unwrap(), time());
    zip.write_entry("small-before", Compression::None, b"before")
        .unwrap();
    let size: u64 = (4 << 30) + (64 << 20);
    let mut entry = zip.start_entry("huge", Compression::None).unwrap();
    let chunk = vec![7u8; 8 << 20];
    let mut written = 0;
    while written < size {
        entry.write_all(&chunk).unwrap();
        written += chunk.len() as u64;
    }
    entry.finish(None).unwrap();
    zip.write_entry("small-after", Compression::Deflate, b"after")
        .unwrap();
    zip.finish().unwrap();

    unzip_t(&path);
    let names = python_names(&path);
    assert_eq!(names[1], format!("huge {size}"));
    let reader = ZipReader::open(&path).unwrap();
    assert_eq!(reader.entry("huge").unwrap().size, size);
    assert_eq!(read_entry(&reader, "small-after"), b"after");
}
