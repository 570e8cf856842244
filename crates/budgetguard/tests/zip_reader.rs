//! The package reader against hostile files: ZIP archives built byte by byte
//! with one lie each, and packages made consistent again after a change
//! (the manifest re-hashed), each refused with its own one-line message.

mod support;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use budgetguard::package::zip::{
    Compression, DataError, DataProblem, DosTime, ZipError, ZipReader, ZipWriter,
};
use budgetguard::package::{layout, EntryProblem, Package, PackageError};
use budgetguard::progress::Silent;
use support::hostile::{central_record, Archive, Entry, EOCD_COUNT};
use support::package::Contents;

fn path_of(bytes: &[u8]) -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hostile.zip");
    std::fs::write(&path, bytes).unwrap();
    (dir, path)
}

/// Why the reader refuses `bytes`.
fn refusal(bytes: &[u8]) -> ZipError {
    let (_dir, path) = path_of(bytes);
    ZipReader::open(&path).expect_err("the reader refuses it")
}

fn two() -> Vec<Entry> {
    vec![
        Entry::stored("a.txt", b"alpha"),
        Entry::stored("b.txt", b"bravo"),
    ]
}

fn with(change: impl FnOnce(&mut Vec<Entry>)) -> Vec<u8> {
    let mut entries = two();
    change(&mut entries);
    Archive::new(entries).bytes()
}

fn patched(bytes: Vec<u8>, at: usize, value: &[u8]) -> Vec<u8> {
    let mut bytes = bytes;
    bytes[at..at + value.len()].copy_from_slice(value);
    bytes
}

/// Each hostile archive, and the message it must be refused with.
fn corpus() -> Vec<(&'static str, Vec<u8>, &'static str)> {
    let good = Archive::new(two()).bytes();
    let eocd = good.len() - 22;
    let mut zip64 = Archive::new(two());
    zip64.zip64_end = true;
    let zip64 = zip64.bytes();
    let zip64_record = zip64.len() - 22 - 20 - 56;
    let mode = |mode: u32| with(|e| e[1] = Entry::stored("b.txt", b"bravo").with_mode(mode));
    vec![
        ("duplicate", with(|e| e[1].name = b"a.txt".to_vec()), "entry `a.txt` appears twice"),
        (
            "case",
            with(|e| e[1].name = b"A.TXT".to_vec()),
            "entries `A.TXT` and `a.txt` differ only in case, and are one file on Windows and macOS",
        ),
        (
            "file and folder",
            with(|e| e[1].name = b"a.txt/b".to_vec()),
            "entry `a.txt/b` lies in `a.txt`, which is a file entry too",
        ),
        (
            "local name",
            with(|e| e[1].local.name = Some(b"b.exe".to_vec())),
            "entry `b.txt` has a local header whose name disagrees with the central directory",
        ),
        (
            "local method",
            with(|e| e[1].local.method = Some(8)),
            "entry `b.txt` has a local header whose compression method disagrees",
        ),
        (
            "local size",
            with(|e| e[1].local.size = Some(4)),
            "entry `b.txt` has a local header whose size disagrees",
        ),
        (
            "local CRC",
            with(|e| e[1].local.crc = Some(7)),
            "entry `b.txt` has a local header whose CRC-32 disagrees",
        ),
        (
            "no local header",
            patched(good.clone(), 0, b"PK\x07\x08"),
            "entry `a.txt` has no local header where the central directory points",
        ),
        (
            "same data twice",
            with(|e| e[1].points_at = Some(0)),
            "entry `b.txt` overlaps entry `a.txt`",
        ),
        (
            "gap",
            with(|e| e[1].gap_before = 7),
            "it holds 7 bytes at offset 60 that belong to no entry",
        ),
        (
            "prepended",
            with(|e| e[0].gap_before = 100),
            "it holds 100 bytes at offset 0 that belong to no entry",
        ),
        (
            "data into the central directory",
            with(|e| {
                e[1].size = 30;
                e[1].compressed_size = 30;
            }),
            "entry `b.txt` has data that runs into the central directory",
        ),
        (
            "data past the end",
            with(|e| {
                e[1].size = 0xF000_0000;
                e[1].compressed_size = 0xF000_0000;
            }),
            "entry `b.txt` has data that runs past the end of the file",
        ),
        (
            "header in the central directory",
            patched(
                good.clone(),
                central_record(&good, 1) + 42,
                &(support::hostile::central_directory(&good) as u32).to_le_bytes(),
            ),
            "entry `b.txt` has its local header inside the central directory or past the end of the file",
        ),
        ("symlink", mode(0o120777), "entry `b.txt` is a symbolic link, not a regular file"),
        ("character device", mode(0o020644), "entry `b.txt` is a character device"),
        ("block device", mode(0o060644), "entry `b.txt` is a block device"),
        ("FIFO", mode(0o010644), "entry `b.txt` is a FIFO"),
        ("socket", mode(0o140644), "entry `b.txt` is a socket"),
        ("folder mode", mode(0o040755), "entry `b.txt` is a folder, not a regular file"),
        (
            "MS-DOS folder",
            with(|e| {
                e[1].made_by = 0;
                e[1].external = 0x10;
            }),
            "entry `b.txt` is a folder",
        ),
        (
            "folder name",
            with(|e| e[1].name = b"b/".to_vec()),
            "entry `b/` names a folder (it ends in `/`), which packages do not have",
        ),
        ("setuid", mode(0o104755), "entry `b.txt` has mode 104755, with the setuid, setgid or sticky bit"),
        ("encrypted", with(|e| e[1].flags = 1), "entry `b.txt` is encrypted"),
        (
            "data descriptor",
            with(|e| e[1].flags = 8),
            "entry `b.txt` keeps its sizes in a data descriptor after its data",
        ),
        (
            "unknown flag",
            with(|e| e[1].flags = 0x10),
            "entry `b.txt` has general purpose flags 0x0010, which this reader does not take",
        ),
        (
            "method",
            with(|e| e[1].method = 12),
            "entry `b.txt` uses unsupported compression method 12",
        ),
        (
            "unicode path",
            with(|e| e[1].extra = [&[0x75, 0x70, 9, 0, 1][..], &crc_of(b"b.txt"), b"../x"].concat()),
            "entry `b.txt` has an extra field of type 0x7075, which this reader does not take",
        ),
        (
            "malformed extra",
            with(|e| e[1].extra = vec![0x55, 0x54, 9, 0, 1]),
            "entry `b.txt` has malformed extra fields",
        ),
        (
            "ZIP64 field",
            with(|e| e[1].extra = [&[1, 0, 8, 0][..], &5u64.to_le_bytes()].concat()),
            "entry `b.txt` has a ZIP64 extra field that does not match its header",
        ),
        (
            "stored sizes",
            with(|e| e[1].compressed_size = 4),
            "entry `b.txt` is stored uncompressed, but its two sizes differ",
        ),
        (
            "control character",
            with(|e| e[1].name = b"b\x1b[2J.txt".to_vec()),
            "entry `b\\u{1b}[2J.txt` has a control character in its name",
        ),
        (
            "C1 control",
            with(|e| e[1].name = "b\u{9b}31m".as_bytes().to_vec()),
            "entry `b\\u{9b}31m` has a control character in its name",
        ),
        ("not UTF-8", with(|e| e[1].name = b"caf\xe9".to_vec()), "entry `caf\u{fffd}` has a name that is not UTF-8"),
        (
            "unflagged UTF-8",
            with(|e| e[1].name = "café".as_bytes().to_vec()),
            "entry `café` has a non-ASCII name without the UTF-8 flag",
        ),
        ("leaves", with(|e| e[1].name = b"../b.txt".to_vec()), "entry `../b.txt` has a name that leaves the package"),
        ("absolute", with(|e| e[1].name = b"/etc/cron.d/x".to_vec()), "entry `/etc/cron.d/x` has a name that leaves the package"),
        ("long name", with(|e| e[1].name = vec![b'n'; 600]), "has a name of 600 bytes, more than the 512 allowed"),
        ("trailing dot", with(|e| e[1].name = b"b.txt.".to_vec()), "entry `b.txt.` has a name part that ends in a dot or a space"),
        (
            "truncated",
            good[..good.len() - 10].to_vec(),
            "it has no end of central directory record: it is not a ZIP file, or it was cut short",
        ),
        (
            "comment",
            [&patched(good.clone(), eocd + 20, &[3, 0])[..], b"hi!"].concat(),
            "it has a comment or other bytes after its end of central directory record",
        ),
        (
            "count too high",
            patched(good.clone(), eocd + EOCD_COUNT - 2, &[3, 0, 3, 0]),
            "its end record counts 3 entries, but its central directory holds 2",
        ),
        (
            "count too low",
            patched(good.clone(), eocd + EOCD_COUNT - 2, &[1, 0, 1, 0]),
            "its end record counts 1 entries, but its central directory holds 2",
        ),
        ("disks", patched(good.clone(), eocd + 4, &[1]), "it claims to span several disks"),
        (
            "ZIP64 missing",
            patched(good.clone(), eocd + EOCD_COUNT - 2, &[0xff; 4]),
            "its end record needs a ZIP64 end record, which is missing",
        ),
        (
            "ZIP64 disagrees",
            patched(zip64.clone(), zip64_record + 24, &[&3u64.to_le_bytes()[..], &3u64.to_le_bytes()].concat()),
            "its ZIP64 end record disagrees with its end record",
        ),
        (
            "ZIP64 locator",
            patched(zip64.clone(), zip64.len() - 22 - 12, &1u64.to_le_bytes()),
            "its ZIP64 end record is misplaced or malformed",
        ),
        (
            "directory misplaced",
            patched(good.clone(), eocd + 16, &(support::hostile::central_directory(&good) as u32 - 1).to_le_bytes()),
            "its central directory does not end where its end record begins",
        ),
        (
            "central record",
            patched(good.clone(), central_record(&good, 1), b"PK\x09\x09"),
            "record 2 of its central directory is cut short or malformed",
        ),
    ]
}

fn crc_of(data: &[u8]) -> [u8; 4] {
    crc32fast::hash(data).to_le_bytes()
}

#[test]
fn hostile_archives_are_refused_each_with_its_own_message() {
    for (case, bytes, expected) in corpus() {
        let message = refusal(&bytes).to_string();
        assert!(
            message.contains(expected),
            "{case}: expected `{expected}` in `{message}`"
        );
        assert!(
            !message.contains('\n') && message.len() < 300,
            "{case}: {message}"
        );
    }
}

#[test]
fn the_archives_the_corpus_breaks_are_accepted_whole() {
    let mut zip64 = Archive::new(two());
    zip64.zip64_end = true;
    let mut plain = Archive::new(vec![
        Entry::stored("a.txt", b"alpha"),
        Entry::deflated("images/b", &b"bravo".repeat(1000)),
    ]);
    plain.local_zip64 = false;
    let mut utf8 = Entry::stored("café.txt", b"x");
    utf8.flags = 0x800;
    let mut timed = Entry::stored("t.txt", b"time");
    timed.extra = vec![0x55, 0x54, 5, 0, 1, 0, 0, 0, 0];
    for archive in [
        Archive::new(two()),
        zip64,
        plain,
        Archive::new(vec![utf8, timed]),
    ] {
        let (_dir, path) = path_of(&archive.bytes());
        let reader = ZipReader::open(&path).unwrap();
        for (entry, expected) in reader.entries().iter().zip(&archive.entries) {
            let data = reader.read_small(entry, 1 << 20).unwrap();
            assert_eq!(data.len() as u64, expected.size);
            assert_eq!(entry.name.as_bytes(), expected.name);
        }
    }
}

#[test]
fn a_long_name_full_of_control_characters_is_shown_escaped_and_short() {
    let name: Vec<u8> = b"\x1b]0;owned\x07\x1b[2J".repeat(800);
    assert!(name.len() > 10_000);
    let message = refusal(&with(|e| e[1].name = name)).to_string();
    assert!(message.contains("\\u{1b}]0;owned\\u{7}"), "{message}");
    assert!(message.contains('…') && message.len() < 300, "{message}");
    assert!(!message.chars().any(|c| c.is_control()), "{message}");
}

fn read_entry(bytes: &[u8], name: &str) -> std::io::Result<Vec<u8>> {
    let (_dir, path) = path_of(bytes);
    let reader = ZipReader::open(&path).unwrap();
    let mut data = Vec::new();
    reader
        .open_entry(reader.entry(name).unwrap())?
        .read_to_end(&mut data)?;
    Ok(data)
}

fn data_problem(error: std::io::Error) -> (String, DataProblem) {
    let error = error.downcast::<DataError>().expect("a typed data error");
    (error.entry, error.problem)
}

/// Tells one kind of data problem.
type IsProblem = fn(&DataProblem) -> bool;

#[test]
fn entry_data_that_lies_fails_with_a_typed_error() {
    let bomb = |e: &mut Vec<Entry>| {
        e[1] = Entry::deflated("b.txt", &[0; 100_000]);
        e[1].size = 1000;
    };
    let cases: Vec<(Vec<u8>, IsProblem, &str)> = vec![
        (
            with(|e| e[1].crc ^= 1),
            |p| matches!(p, DataProblem::Crc),
            "does not match its CRC-32",
        ),
        (
            with(bomb),
            |p| matches!(p, DataProblem::Longer),
            "holds more data than its recorded size",
        ),
        (
            with(|e| {
                e[1] = Entry::deflated("b.txt", b"bravo");
                e[1].size = 6;
            }),
            |p| matches!(p, DataProblem::Shorter),
            "ends before its recorded size",
        ),
        (
            with(|e| {
                e[1] = Entry::deflated("b.txt", b"bravo");
                e[1].data = vec![0xff; e[1].data.len()];
            }),
            |p| matches!(p, DataProblem::Undecodable(_)),
            "cannot be decompressed",
        ),
    ];
    for (bytes, is, text) in cases {
        let (entry, problem) = data_problem(read_entry(&bytes, "b.txt").unwrap_err());
        assert_eq!(entry, "b.txt");
        assert!(is(&problem), "{problem:?}");
        assert!(problem.to_string().contains(text), "{problem}");
    }
    assert_eq!(read_entry(&with(|_| {}), "b.txt").unwrap(), b"bravo");
}

fn package_error(contents: &Contents, edit: impl FnOnce(&mut serde_json::Value)) -> PackageError {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.zip");
    contents.write(&path, edit);
    match Package::open(&path) {
        Ok(package) => package
            .verify(&Silent, &Default::default())
            .expect_err("verify refuses it"),
        Err(e) => e,
    }
}

fn open_and_verify(path: &Path) -> Result<(), PackageError> {
    Package::open(path)?.verify(&Silent, &Default::default())?;
    Ok(())
}

#[test]
fn a_consistent_package_opens_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.zip");
    support::package::demo().write(&path, |_| {});
    open_and_verify(&path).unwrap();
    // Two nodes may name one image in two spellings.
    let mut contents = support::package::demo();
    contents.images[0]
        .references
        .push("docker.io/budgetguard/test:1".into());
    *contents.file_mut(layout::OCI_INDEX) = layout::oci_index(&contents.images);
    *contents.file_mut(layout::DOCKER_MANIFEST) = layout::docker_manifest(&contents.images);
    contents.write(&path, |_| {});
    open_and_verify(&path).unwrap();
}

#[test]
fn a_second_manifest_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.zip");
    support::package::demo().write(&good, |_| {});
    let reader = ZipReader::open(&good).unwrap();
    let bad = dir.path().join("bad.zip");
    let time = DosTime::from_utc(time::OffsetDateTime::now_utc());
    let mut writer = ZipWriter::new(std::fs::File::create(&bad).unwrap(), time);
    for entry in reader.entries() {
        let data = reader.read_small(entry, 1 << 20).unwrap();
        writer
            .write_entry(&entry.name, Compression::None, &data)
            .unwrap();
    }
    writer
        .write_entry(layout::MANIFEST, Compression::None, b"{}")
        .unwrap();
    writer.finish().unwrap();
    let message = Package::open(&bad).unwrap_err().to_string();
    assert!(
        message.contains("is not a valid install package (entry `budgetguard-package.json` appears twice); copy the file again"),
        "{message}"
    );
}

/// The package's `SHA256SUMS` with `edit` applied to its lines.
fn sums_edited(edit: impl FnOnce(&mut Vec<String>)) -> Contents {
    let mut contents = support::package::demo();
    let mut lines: Vec<String> = contents
        .files
        .iter()
        .map(|(name, data)| {
            use sha2::Digest;
            format!("{}  {name}", hex::encode(sha2::Sha256::digest(data)))
        })
        .collect();
    edit(&mut lines);
    contents.sums = Some(lines.iter().map(|l| format!("{l}\n")).collect());
    contents
}

/// The package with its only image document `name` replaced by `value`.
fn document_edited(name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> Contents {
    let mut contents = support::package::demo();
    let data = contents.file_mut(name);
    let mut value: serde_json::Value = serde_json::from_slice(data).unwrap();
    edit(&mut value);
    *data = serde_json::to_vec_pretty(&value).unwrap();
    contents
}

fn mismatch_of(error: PackageError) -> (String, EntryProblem, String) {
    let message = error.to_string();
    match error {
        PackageError::Mismatch { entry, problem, .. } => (entry, problem, message),
        other => panic!("not a mismatch: {other}"),
    }
}

#[test]
fn fallback_files_that_disagree_with_the_manifest_are_refused_by_verify() {
    let sums = layout::SHA256SUMS;
    let docker = layout::DOCKER_MANIFEST;
    let index = layout::OCI_INDEX;
    let cases: Vec<(Contents, &str, &str)> = vec![
        (
            sums_edited(|l| {
                l.remove(1);
            }),
            sums,
            "does not list `install/install.sh`, which the manifest lists",
        ),
        (
            sums_edited(|l| l.push(l[0].clone())),
            sums,
            "lists `compose/demo/docker-compose.yml` twice",
        ),
        (
            sums_edited(|l| l[0] = format!("{}  {}", "0".repeat(64), &l[0][66..])),
            sums,
            "lists `compose/demo/docker-compose.yml` with another SHA-256 than the manifest",
        ),
        (
            sums_edited(|l| l.push(format!("{}  evil.sh", "0".repeat(64)))),
            sums,
            "lists `evil.sh`, which the manifest does not list",
        ),
        (
            sums_edited(|l| l.push(format!("{}  SHA256SUMS", "0".repeat(64)))),
            sums,
            "lists itself",
        ),
        (
            sums_edited(|l| l.insert(0, "# comment".into())),
            sums,
            "has line 1, which is not a `<sha256>  <entry>` line",
        ),
        (
            document_edited(docker, |v| v[0]["RepoTags"][0] = "evil/other:1".into()),
            docker,
            "describes image `budgetguard/test:1` otherwise than the manifest",
        ),
        (
            document_edited(docker, |v| v[0]["Layers"].as_array_mut().unwrap().reverse()),
            docker,
            "describes image `budgetguard/test:1` otherwise than the manifest",
        ),
        (
            document_edited(docker, |v| v[0]["LayerSources"] = serde_json::json!({})),
            docker,
            "is not the JSON it should be: unknown field `LayerSources`",
        ),
        (
            document_edited(docker, |v| v[0]["Config"] = "blobs/sha256/0".into()),
            docker,
            "names an image the manifest does not have: `blobs/sha256/0`",
        ),
        (
            document_edited(docker, |v| *v = serde_json::json!([])),
            docker,
            "does not name image `budgetguard/test:1` as the manifest does",
        ),
        (
            document_edited(index, |v| {
                v["manifests"][0]["annotations"]["io.containerd.image.name"] =
                    "docker.io/evil/x:1".into()
            }),
            index,
            "names an image the manifest does not have: `docker.io/evil/x:1`",
        ),
        (
            document_edited(index, |v| {
                v["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] = "2".into()
            }),
            index,
            "describes image `budgetguard/test:1` otherwise than the manifest",
        ),
        (
            document_edited(index, |v| v["manifests"] = serde_json::json!([])),
            index,
            "does not name image `budgetguard/test:1` as the manifest does",
        ),
        (
            document_edited(index, |v| {
                v["manifests"][0]["urls"] = serde_json::json!(["http://x"])
            }),
            index,
            "unknown field `urls`",
        ),
        (
            document_edited(index, |v| v["schemaVersion"] = 3.into()),
            index,
            "is not an OCI image index of schema version 2",
        ),
        (
            // What install.sh would run: a privileged container, not the node's.
            {
                let mut contents = support::package::demo();
                contents
                    .file_mut("compose/demo/docker-compose.yml")
                    .extend_from_slice(b"    privileged: true\n");
                contents
            },
            "compose/demo/docker-compose.yml",
            "is not the Compose file its node's settings give",
        ),
    ];
    for (contents, entry, expected) in cases {
        let (refused, _, message) = mismatch_of(package_error(&contents, |_| {}));
        assert_eq!(refused, entry, "{message}");
        assert!(
            message.contains(expected),
            "expected `{expected}` in {message}"
        );
        assert!(message
            .ends_with("the package is damaged or was altered; copy it again, or make a new one"));
    }
    let mut missing = support::package::demo();
    missing.files.retain(|(name, _)| name != index);
    let (entry, problem, _) = mismatch_of(package_error(&missing, |_| {}));
    assert_eq!(entry, index);
    assert!(matches!(problem, EntryProblem::NeededByFallback));
}

#[test]
fn an_image_manifest_blob_naming_other_layers_is_refused_by_verify() {
    let mut contents = support::package::demo();
    let image = &contents.images[0];
    let mut layers = image.layers.clone();
    layers.reverse();
    let swapped = layout::oci_manifest(&image.config, &layers);
    let old = layout::blob_entry(layout::hex_of(&image.manifest.digest));
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(&swapped))
    };
    contents.images[0].manifest = budgetguard::package::manifest::Blob::plain(
        format!("sha256:{digest}"),
        swapped.len() as u64,
    );
    let new_name = layout::blob_entry(&digest);
    for (name, data) in &mut contents.files {
        if *name == old {
            *name = new_name.clone();
            *data = swapped.clone();
        }
    }
    *contents.file_mut(layout::OCI_INDEX) = layout::oci_index(&contents.images);
    let (entry, problem, message) = mismatch_of(package_error(&contents, |_| {}));
    assert_eq!(entry, new_name);
    assert!(matches!(problem, EntryProblem::LayersDiffer), "{message}");
}

#[test]
fn manifests_that_disagree_with_themselves_are_refused_on_open() {
    let demo = support::package::demo;
    let message = package_error(&demo(), |m| {
        m["source_engine"] = "Docker \u{1b}[31mred".into()
    })
    .to_string();
    assert!(
        message.contains("its manifest holds a control character in `Docker \\u{1b}[31mred`"),
        "{message}"
    );
    let mut stray = demo();
    stray.files.push((
        "compose/evil/docker-compose.yml".into(),
        b"services: {}".to_vec(),
    ));
    let (entry, problem, _) = mismatch_of(package_error(&stray, |_| {}));
    assert_eq!(entry, "compose/evil/docker-compose.yml");
    assert!(matches!(problem, EntryProblem::ComposeOfNoNode));
    let message = package_error(&demo(), |m| {
        let image = m["images"][0].clone();
        m["images"].as_array_mut().unwrap().push(image);
    })
    .to_string();
    assert!(
        message.contains("its manifest lists image `sha256:"),
        "{message}"
    );
    // A second image with no name: no node runs it, yet a load would keep it.
    let message = package_error(&demo(), |m| {
        let mut image = m["images"][0].clone();
        image["id"] = format!("sha256:{}", "e".repeat(64)).into();
        image["references"] = serde_json::json!([]);
        m["images"].as_array_mut().unwrap().push(image);
    })
    .to_string();
    assert!(
        message.contains("which has no name and no node of the package runs"),
        "{message}"
    );
    let message = package_error(&demo(), |m| {
        m["nodes"][0]["name"] = "-".repeat(10_000).into()
    })
    .to_string();
    assert!(
        message.len() < 600 && message.contains("is not valid"),
        "{message}"
    );
}

#[test]
fn update_packages_and_compressed_layers_are_checked_on_open() {
    let demo = support::package::demo;
    let layer = demo().images[0].layers[0].clone();
    let entry = layout::blob_entry(layout::hex_of(&layer.digest));
    let without_layer = || {
        let mut contents = demo();
        contents.files.retain(|(name, _)| *name != entry);
        contents
    };
    let base = |blobs: serde_json::Value| {
        move |m: &mut serde_json::Value| {
            m["format_version"] = 3.into();
            m["base"] = serde_json::json!({"package_id": "ab".repeat(32), "blobs": blobs});
        }
    };
    let left_out = serde_json::json!([{"digest": layer.digest, "size": layer.size}]);
    // A layer the base holds may be left out; the rest verifies.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("update.zip");
    without_layer().write(&path, base(left_out.clone()));
    open_and_verify(&path).unwrap();
    assert!(!Package::open(&path).unwrap().carries(&entry));
    // Not listed as left out: missing.
    let (missing, problem, _) = mismatch_of(package_error(&without_layer(), |_| {}));
    assert_eq!(missing, entry);
    assert!(matches!(problem, EntryProblem::BlobMissing));
    let refusals = [
        (
            package_error(&demo(), base(left_out.clone())),
            "its base leaves out `sha256:",
            "which it carries too",
        ),
        (
            package_error(
                &without_layer(),
                base(serde_json::json!([
                    {"digest": layer.digest, "size": layer.size},
                    {"digest": format!("sha256:{}", "0".repeat(64)), "size": 1},
                ])),
            ),
            "its base leaves out `sha256:0000",
            "which none of its images or model caches uses",
        ),
        (
            package_error(&without_layer(), |m| {
                base(left_out.clone())(m);
                m["base"]["package_id"] = "../old".into();
            }),
            "its base has an id",
            "that is not a SHA-256",
        ),
        (
            package_error(&demo(), |m| {
                m["images"][0]["layers"][0]["media_type"] =
                    "application/vnd.oci.image.layer.v1.tar+zstd".into();
            }),
            "its image `budgetguard/test:1` has a blob of type",
            "`application/vnd.oci.image.layer.v1.tar+zstd`, which this tool does not load",
        ),
        (
            package_error(&demo(), |m| {
                m["images"][0]["diff_ids"] = serde_json::json!([layer.digest]);
            }),
            "its image `budgetguard/test:1` lists diff IDs",
            "that do not fit its layers",
        ),
        (
            package_error(&demo(), |m| m["images"][0]["id"] = "sha256:../x".into()),
            "its image `budgetguard/test:1` has an ID or a blob digest that is no digest",
            "`sha256:../x` is not a `sha256:` digest",
        ),
        (
            package_error(&demo(), |m| {
                let digest = m["images"][0]["layers"][0]["digest"].as_str().unwrap();
                m["images"][0]["layers"][0]["digest"] = digest["sha256:".len()..].into();
            }),
            "its image `budgetguard/test:1` has an ID or a blob digest",
            "is not a `sha256:` digest of 64 lowercase hex digits",
        ),
    ];
    for (error, first, second) in refusals {
        let message = error.to_string();
        assert!(message.contains(first), "{first}: {message}");
        assert!(message.contains(second), "{second}: {message}");
    }
}

/// A copy of `path` with one byte of entry `name` flipped, and the CRC-32 of
/// both its headers fixed to match when `fix_crc`.
fn tampered(path: &Path, name: &str, fix_crc: bool) -> PathBuf {
    let reader = ZipReader::open(path).unwrap();
    let entry = reader.entry(name).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    let start = entry.data_start as usize;
    bytes[start] ^= 1;
    if fix_crc {
        let crc = crc32fast::hash(&bytes[start..start + entry.size as usize]).to_le_bytes();
        let old = entry.crc32.to_le_bytes();
        let mut at = 0;
        while let Some(found) = bytes[at..].windows(4).position(|w| w == old) {
            bytes[at + found..at + found + 4].copy_from_slice(&crc);
            at += found + 4;
        }
    }
    let out = path.with_extension(if fix_crc { "crc.zip" } else { "flip.zip" });
    std::fs::write(&out, bytes).unwrap();
    out
}

#[test]
fn damaged_data_comes_back_as_a_typed_mismatch() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.zip");
    support::package::demo().write(&path, |_| {});
    let layer = support::package::demo().files[5].0.clone();
    assert!(layer.starts_with(layout::BLOBS_DIR));
    let flipped = Package::open(&tampered(&path, &layer, false)).unwrap();
    let (entry, problem, message) =
        mismatch_of(flipped.verify(&Silent, &Default::default()).unwrap_err());
    assert_eq!(entry, layer);
    assert!(
        matches!(problem, EntryProblem::Data(DataProblem::Crc)),
        "{message}"
    );
    let fixed = Package::open(&tampered(&path, &layer, true)).unwrap();
    let (entry, problem, message) =
        mismatch_of(fixed.verify(&Silent, &Default::default()).unwrap_err());
    assert_eq!(entry, layer);
    assert!(matches!(problem, EntryProblem::Sha256), "{message}");
    assert!(
        message.contains(&format!("entry `{layer}` of `"))
            && message.contains("does not match its SHA-256 in the manifest")
    );
}

/// Writes a package of `count` one-byte entries with the project's writer.
fn many_entries(path: &Path, count: usize) {
    use sha2::Digest;
    let time = DosTime::from_utc(time::OffsetDateTime::now_utc());
    let mut zip = ZipWriter::new(std::fs::File::create(path).unwrap(), time);
    let mut entries = Vec::with_capacity(count);
    for i in 0..count {
        let name = format!("d/{i:06}");
        let data = [i as u8];
        zip.write_entry(&name, Compression::None, &data).unwrap();
        let sha256 = hex::encode(sha2::Sha256::digest(data));
        entries.push(serde_json::json!({"name": name, "size": 1, "sha256": sha256}));
    }
    let manifest = serde_json::json!({
        "format": "budgetguard-install-package", "format_version": 1, "tool_version": "0.1.0",
        "created": "2026-11-27T12:00:00Z", "source_engine": "Docker test", "compression": "none",
        "nodes": [], "images": [], "entries": entries,
    });
    zip.write_entry(
        layout::MANIFEST,
        Compression::None,
        &serde_json::to_vec(&manifest).unwrap(),
    )
    .unwrap();
    zip.list_first(layout::MANIFEST);
    zip.finish().unwrap();
}

/// The shortest of two openings of a package of `count` entries.
fn time_to_open(count: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.zip");
    many_entries(&path, count);
    (0..2)
        .map(|_| {
            let started = Instant::now();
            let package = Package::open(&path).unwrap();
            let took = started.elapsed();
            assert_eq!(package.manifest().entries.len(), count);
            took
        })
        .min()
        .unwrap()
}

/// Opening takes time in proportion to the entries: four times the entries
/// take about four times as long (a quadratic step would take sixteen).
#[test]
fn opening_time_grows_linearly_with_the_entries() {
    let small = time_to_open(10_000);
    let large = time_to_open(40_000);
    eprintln!("opened 10 000 entries in {small:?}, 40 000 in {large:?}");
    assert!(
        large < small * 8,
        "10 000 in {small:?}, 40 000 in {large:?}"
    );
}

/// The shortest of two openings of an update package whose image has
/// `layers` layers, every one left out (its base holds them).
fn time_to_open_update(layers: usize) -> Duration {
    use budgetguard::package::manifest::Blob;
    use sha2::Digest;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("update.zip");
    let mut contents = support::package::demo();
    let left_out: Vec<Blob> = (0..layers)
        .map(|i| {
            let digest = hex::encode(sha2::Sha256::digest(i.to_le_bytes()));
            Blob::plain(format!("sha256:{digest}"), 1000)
        })
        .collect();
    contents.images[0].layers = left_out.clone();
    contents.write(&path, |manifest| {
        manifest["format_version"] = 3.into();
        manifest["base"] = serde_json::json!({
            "package_id": "0".repeat(64),
            "blobs": left_out,
        });
    });
    (0..2)
        .map(|_| {
            let started = Instant::now();
            let package = Package::open(&path).unwrap();
            let took = started.elapsed();
            assert_eq!(package.manifest().images[0].layers.len(), layers);
            took
        })
        .min()
        .unwrap()
}

/// An update manifest that leaves out many layers opens in time in
/// proportion to them: a hostile one cannot make the check of what its
/// base holds quadratic.
#[test]
fn opening_an_update_grows_linearly_with_the_layers_left_out() {
    let small = time_to_open_update(5_000);
    let large = time_to_open_update(20_000);
    eprintln!("opened 5 000 left-out layers in {small:?}, 20 000 in {large:?}");
    assert!(large < small * 8, "5 000 in {small:?}, 20 000 in {large:?}");
}
