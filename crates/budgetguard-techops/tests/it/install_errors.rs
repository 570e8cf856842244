//! Bad packages and bad moments: each refused with its own one-line error
//! (or one line per preflight problem), the engine's images and layers and
//! the install folder exactly as they were.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use budgetguard::package::zip::{Compression, DosTime, ZipReader, ZipWriter};
use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageSpec, Layer};
use testkit::proxy::CuttingProxy;

use crate::support::*;

testkit::tests![
    bad_packages_are_refused_each_with_its_own_error_and_change_nothing,
    the_preflight_names_every_problem_before_anything_changes,
    an_interrupted_load_changes_nothing_and_a_rerun_completes,
    a_connection_lost_mid_load_changes_nothing_and_a_rerun_completes,
    fifos_devices_and_oversized_keys_are_refused_at_once,
];

/// The engine's image and layer lists, to compare before and after.
pub(crate) fn engine_state(engine: &TestEngine) -> (Vec<String>, Vec<String>) {
    (engine.image_ids(), engine.layer_ids())
}

/// What a load of `package` would add to an engine's lists: its image
/// reference, its layers' chain IDs (classic store) and its blob digests
/// (containerd store).
pub(crate) fn package_traces(package: &Path) -> Vec<String> {
    use sha2::{Digest, Sha256};
    let manifest = manifest_of(package);
    let mut traces = Vec::new();
    for image in manifest["images"].as_array().unwrap() {
        traces.extend(
            image["references"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r.as_str().unwrap().to_owned()),
        );
        let mut chain = String::new();
        for layer in image["layers"].as_array().unwrap() {
            let digest = layer["digest"].as_str().unwrap();
            chain = if chain.is_empty() {
                digest.to_owned()
            } else {
                format!(
                    "sha256:{}",
                    hex::encode(Sha256::digest(format!("{chain} {digest}")))
                )
            };
            traces.push(chain.trim_start_matches("sha256:").to_owned());
            traces.push(digest.trim_start_matches("sha256:").to_owned());
        }
        for blob in [&image["config"], &image["manifest"]] {
            traces.push(
                blob["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
                    .to_owned(),
            );
        }
    }
    traces
}

/// Compares the engine's lists before and after a refused install: nothing of
/// the package may have appeared. (Other tests change the same engine at the
/// same time, so the lists are compared on what this package would add.)
pub(crate) fn assert_untouched(
    engine: &TestEngine,
    before: &(Vec<String>, Vec<String>),
    traces: &[String],
    context: &str,
) {
    let after = engine_state(engine);
    let new: Vec<&String> = after
        .0
        .iter()
        .chain(&after.1)
        .filter(|line| !before.0.contains(line) && !before.1.contains(line))
        .filter(|line| traces.iter().any(|t| line.contains(t.as_str())))
        // Another test's tag of the same image (the Demo's copies share
        // one ID) is not this package's.
        .filter(|line| match line.split_once(' ') {
            Some((_, reference)) if reference != "<none>:<none>" => {
                traces.iter().any(|t| t == reference)
            }
            _ => true,
        })
        .collect();
    assert!(new.is_empty(), "{context}: the engine gained {new:?}");
}

pub(crate) fn install(home: &Path, host: &str, dir: &Path, package: &Path, extra: &[&str]) -> Run {
    run(bin(home, Some(host))
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .args(["install-package", "--package"])
        .arg(package)
        .args(extra))
}

/// Installs `package` into `dir` for real, then removes it again: proof that
/// a refusal came from the flaw under test alone.
pub(crate) fn install_and_remove(home: &Path, engine: &TestEngine, dir: &Path, package: &Path) {
    install(home, &engine.host, dir, package, &[]).success();
    run(bin(home, Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .args(["uninstall", "--all"]))
    .success();
}

pub(crate) fn error_text(run: &Run) -> String {
    assert_eq!(
        run.code, 1,
        "stdout: {}\nstderr: {}",
        run.stdout, run.stderr
    );
    let start = run
        .stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("no error in {}", run.stderr));
    run.stderr[start..].to_owned()
}

/// Copies a package entry by entry, letting `change` rewrite, drop or add.
pub(crate) fn rewrite(
    from: &Path,
    to: &Path,
    mut change: impl FnMut(&str, Vec<u8>) -> Vec<(String, Vec<u8>)>,
) {
    let reader = ZipReader::open(from).unwrap();
    let mut writer = ZipWriter::new(
        File::create(to).unwrap(),
        DosTime::from_utc(time::OffsetDateTime::now_utc()),
    );
    for entry in reader.entries() {
        let mut data = Vec::new();
        reader
            .open_entry(entry)
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        for (name, data) in change(&entry.name, data) {
            writer.write_entry(&name, Compression::None, &data).unwrap();
        }
    }
    writer.finish().unwrap();
}

/// Edits the manifest JSON of a package.
pub(crate) fn with_manifest(from: &Path, to: &Path, edit: impl Fn(&mut serde_json::Value)) {
    rewrite(from, to, |name, data| {
        if name == "budgetguard-package.json" {
            let mut manifest: serde_json::Value = serde_json::from_slice(&data).unwrap();
            edit(&mut manifest);
            vec![(name.to_owned(), serde_json::to_vec(&manifest).unwrap())]
        } else {
            vec![(name.to_owned(), data)]
        }
    });
}

pub(crate) fn flip_byte(from: &Path, to: &Path, entry: &str, offset: u64) {
    let reader = ZipReader::open(from).unwrap();
    let start = reader.entry(entry).unwrap().data_start;
    let mut bytes = std::fs::read(from).unwrap();
    bytes[(start + offset) as usize] ^= 0x01;
    std::fs::write(to, bytes).unwrap();
}

/// The largest layer entry of a package.
fn largest_blob(package: &Path) -> (String, u64) {
    let reader = ZipReader::open(package).unwrap();
    let entry = reader
        .entries()
        .iter()
        .filter(|e| e.name.starts_with("images/blobs/"))
        .max_by_key(|e| e.size)
        .unwrap();
    (entry.name.clone(), entry.size)
}

/// A deflate entry that expands to far more than the central directory says.
fn zip_bomb(from: &Path, to: &Path, victim: &str, victim_size: u64) {
    let reader = ZipReader::open(from).unwrap();
    let mut writer = ZipWriter::new(
        File::create(to).unwrap(),
        DosTime::from_utc(time::OffsetDateTime::now_utc()),
    );
    for entry in reader.entries() {
        if entry.name == victim {
            let mut bomb = writer.start_entry(victim, Compression::Deflate).unwrap();
            let zeros = vec![0u8; 1 << 20];
            for _ in 0..64 {
                std::io::Write::write_all(&mut bomb, &zeros).unwrap();
            }
            bomb.finish(None).unwrap();
        } else {
            let mut data = Vec::new();
            reader
                .open_entry(entry)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            writer
                .write_entry(&entry.name, Compression::None, &data)
                .unwrap();
        }
    }
    writer.finish().unwrap();
    // The central directory now claims the original size.
    let mut bytes = std::fs::read(to).unwrap();
    let name = victim.as_bytes();
    let record = (0..bytes.len() - 46)
        .rev()
        .find(|&i| bytes[i..i + 4] == [0x50, 0x4b, 0x01, 0x02] && bytes[i + 46..].starts_with(name))
        .unwrap();
    bytes[record + 24..record + 28].copy_from_slice(&(victim_size as u32).to_le_bytes());
    // Its local header's ZIP64 field too: the reader refuses headers that disagree.
    let header = u32::from_le_bytes(bytes[record + 42..record + 46].try_into().unwrap()) as usize;
    let size = header + 30 + name.len() + 4;
    bytes[size..size + 8].copy_from_slice(&victim_size.to_le_bytes());
    std::fs::write(to, bytes).unwrap();
}

fn bad_packages_are_refused_each_with_its_own_error_and_change_nothing() {
    let all = engines::require_available();
    let engine = &all[0];
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("corpus"),
        layers: vec![Layer::Random(300_000, 51), Layer::Compressible(100_000, 52)],
    };
    let guard = images::load(engine, std::slice::from_ref(&spec));
    let good = make_package(
        engine,
        home.path(),
        "good.zip",
        &[("Corpus", &spec.reference, free_port())],
    );
    drop(guard);
    let (layer, layer_size) = largest_blob(&good);
    let compose = "compose/corpus/docker-compose.yml".to_owned();
    let bad = |name: &str| home.path().join(name);

    let mut corpus: Vec<(PathBuf, String)> = Vec::new();
    let bytes = std::fs::read(&good).unwrap();
    std::fs::write(bad("truncated.zip"), &bytes[..bytes.len() - 200]).unwrap();
    corpus.push((
        bad("truncated.zip"),
        "is not a valid install package".into(),
    ));
    flip_byte(&good, &bad("layer.zip"), &layer, layer_size / 2);
    corpus.push((bad("layer.zip"), format!("entry `{layer}` of")));
    flip_byte(&good, &bad("compose.zip"), &compose, 10);
    corpus.push((bad("compose.zip"), format!("entry `{compose}` of")));
    rewrite(&good, &bad("extra.zip"), |name, data| {
        let mut out = vec![(name.to_owned(), data)];
        if name == "README.txt" {
            out.push(("images/blobs/sha256/extra".into(), b"smuggled".to_vec()));
        }
        out
    });
    corpus.push((bad("extra.zip"), "entry `images/blobs/sha256/extra`".into()));
    rewrite(&good, &bad("escape.zip"), |name, data| {
        let mut out = vec![(name.to_owned(), data)];
        if name == "README.txt" {
            out.push(("../../etc/evil".into(), b"x".to_vec()));
        }
        out
    });
    corpus.push((
        bad("escape.zip"),
        "has a name that leaves the package".into(),
    ));
    let lying_layer = layer.clone();
    with_manifest(&good, &bad("size.zip"), |m| {
        for entry in m["entries"].as_array_mut().unwrap() {
            if entry["name"] == lying_layer.as_str() {
                entry["size"] = serde_json::json!(layer_size + 1);
            }
        }
    });
    corpus.push((
        bad("size.zip"),
        format!(
            "is {layer_size} bytes, the manifest says {}",
            layer_size + 1
        ),
    ));
    with_manifest(&good, &bad("future.zip"), |m| {
        m["format_version"] = serde_json::json!(99)
    });
    corpus.push((
        bad("future.zip"),
        format!(
            "uses package format 99, this tool reads up to {}; install a newer budgetguard-techops",
            budgetguard::package::manifest::FORMAT_VERSION
        ),
    ));
    let renamed_layer = layer.clone();
    with_manifest(&good, &bad("digest.zip"), |m| {
        for entry in m["entries"].as_array_mut().unwrap() {
            if entry["name"] == renamed_layer.as_str() {
                entry["sha256"] = serde_json::json!("0".repeat(64));
            }
        }
    });
    corpus.push((
        bad("digest.zip"),
        "is listed with another digest than its name".into(),
    ));
    with_manifest(&good, &bad("node.zip"), |m| {
        m["nodes"][0]["name"] = serde_json::json!("../..")
    });
    corpus.push((bad("node.zip"), "catalog node `../..` is not valid".into()));
    zip_bomb(&good, &bad("bomb.zip"), &layer, layer_size);
    corpus.push((
        bad("bomb.zip"),
        "holds more data than its recorded size".into(),
    ));

    let traces = package_traces(&good);
    for engine in &all {
        let _cleanup = images::ImageGuard::new(engine, vec![spec.reference.clone()]);
        let before = engine_state(engine);
        let mut seen = Vec::new();
        let dir = home.path().join(format!("install-{}", engine.name));
        for (package, expected) in &corpus {
            let run = install(home.path(), &engine.host, &dir, package, &[]);
            let context = format!("{} on {}", package.display(), engine.name);
            let error = error_text(&run);
            assert!(
                error.contains(expected),
                "{context}: expected `{expected}` in {error}"
            );
            assert_eq!(
                error.lines().filter(|l| !l.starts_with("hint: ")).count(),
                1,
                "one line: {error}"
            );
            assert!(!dir.exists(), "{context}: the install folder was touched");
            assert_untouched(engine, &before, &traces, &context);
            seen.push(error);
        }
        seen.sort();
        seen.dedup();
        assert_eq!(
            seen.len(),
            corpus.len(),
            "every bad package has its own error"
        );
        install_and_remove(home.path(), engine, &dir, &good);
    }
}

fn the_preflight_names_every_problem_before_anything_changes() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("gpu"),
        layers: vec![Layer::Random(20_000, 61)],
    };
    let guard = images::load(&engine, std::slice::from_ref(&spec));
    let held = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let catalog = home.path().join("catalog.json");
    std::fs::write(
        &catalog,
        serde_json::json!({"nodes": [{
            "name": "Gpu Node", "image": spec.reference, "host_port": port, "gpu": true,
            "credentials": ["NGC_API_KEY", "HF_TOKEN"]
        }]})
        .to_string(),
    )
    .unwrap();
    let package = home.path().join("gpu.zip");
    run(bin(home.path(), Some(&engine.host))
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Gpu Node",
            "--output",
        ])
        .arg(&package)
        .arg("--catalog")
        .arg(&catalog))
    .success();
    drop(guard);
    let _cleanup = images::ImageGuard::new(&engine, vec![spec.reference.clone()]);
    let before = engine_state(&engine);
    let dir = home.path().join("install");

    let run = install(home.path(), &engine.host, &dir, &package, &["--start"]);
    let error = error_text(&run);
    for expected in [
        "error: nothing was changed, because:",
        "node `Gpu Node` needs NGC_API_KEY and HF_TOKEN in",
        "run `budgetguard-techops install-credentials`",
        "node `Gpu Node` needs an NVIDIA GPU, but the Docker engine does not run a GPU container here (could not select device driver",
        &format!("port 127.0.0.1:{port} for node `Gpu Node` is already in use"),
    ] {
        assert!(error.contains(expected), "expected `{expected}` in {error}");
    }
    let traces = package_traces(&package);
    assert_untouched(&engine, &before, &traces, "preflight");
    assert!(!dir.exists());

    let no_compose = crate::support::run(
        bin(home.path(), Some(&engine.host))
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .env("BUDGETGUARD_COMPOSE", "no-such-compose")
            .args(["install-package", "--package"])
            .arg(&package),
    );
    assert!(
        error_text(&no_compose).contains("Docker Compose is not installed"),
        "{}",
        no_compose.stderr
    );
    assert_untouched(&engine, &before, &traces, "no compose");
    drop(held);
}

/// A package of one image with a large layer, made on `engine`.
fn big_package(engine: &TestEngine, home: &Path, mib: u64, seed: u64) -> (PathBuf, String) {
    let spec = ImageSpec {
        reference: images::unique_reference("big"),
        layers: vec![Layer::Random(mib << 20, seed)],
    };
    let guard = images::load(engine, std::slice::from_ref(&spec));
    // A node (and so a container) of its own: tests run side by side.
    let name = format!("Big {seed}");
    let package = make_package(
        engine,
        home,
        "big.zip",
        &[(&name, &spec.reference, free_port())],
    );
    drop(guard);
    (package, spec.reference)
}

/// Ctrl-C, or a SIGTERM (`kill`, a service manager), in the middle of the
/// load: the run takes itself back; a second run completes.
fn an_interrupted_load_changes_nothing_and_a_rerun_completes() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, reference) = big_package(&engine, home.path(), 300, 71);
    let _cleanup = images::ImageGuard::new(&engine, vec![reference.clone()]);
    let before = engine_state(&engine);
    let dir = home.path().join("install");
    for signal in ["INT", "TERM"] {
        let (code, rest) = interrupt_after(
            bin(home.path(), Some(&engine.host))
                .env("BUDGETGUARD_INSTALL_DIR", &dir)
                .args(["install-package", "--package"])
                .arg(&package),
            "Loading images (",
            signal,
        );
        assert_eq!(code, Some(1), "{signal}: {rest}");
        assert!(
            rest.contains("error: interrupted; run the same command again to complete it"),
            "{signal}: {rest}"
        );
        assert_untouched(&engine, &before, &package_traces(&package), signal);
        assert!(!dir.exists(), "{signal}");
    }

    install_and_remove(home.path(), &engine, &dir, &package);
}

fn a_connection_lost_mid_load_changes_nothing_and_a_rerun_completes() {
    let engine = engines::require_primary();
    let Some(socket) = engine.host.strip_prefix("unix://") else {
        engines::skip("the engine is not on a unix socket");
    };
    let home = tempfile::tempdir().unwrap();
    let (package, reference) = big_package(&engine, home.path(), 24, 81);
    let _cleanup = images::ImageGuard::new(&engine, vec![reference.clone()]);
    let before = engine_state(&engine);
    let proxy = CuttingProxy::cut_requests(Path::new(socket), 8 << 20);
    let dir = home.path().join("install");
    let run_cut = install(home.path(), &proxy.host(), &dir, &package, &[]);
    let error = error_text(&run_cut);
    assert!(error.contains("could not load the images"), "{error}");
    assert_untouched(
        &engine,
        &before,
        &package_traces(&package),
        "connection lost",
    );
    assert!(!dir.exists());
    install_and_remove(home.path(), &engine, &dir, &package);
}

/// A named pipe at `path` (its `open` would wait for a writer for ever).
pub(crate) fn mkfifo(path: &Path) {
    assert!(std::process::Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap()
        .success());
}

/// Packages and keys that are a named pipe or a device: each command
/// refuses at once (none waits for a writer or reads for ever), says what
/// the path is, and changes nothing; a key file over 4 KiB is refused too.
fn fifos_devices_and_oversized_keys_are_refused_at_once() {
    use std::os::unix::fs::FileTypeExt;
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("install");
    let fifo = home.path().join("p.zip");
    mkfifo(&fifo);
    let at_once = std::time::Duration::from_secs(30);
    let refused = |run: Run, what: &str, context: &str| {
        assert_eq!(run.code, 1, "{context}: {}", run.stderr);
        let error = error_text(&run);
        assert!(
            error.contains(&format!(
                "it is {what}, not a regular file; name a regular file"
            )),
            "{context}: {error}"
        );
    };
    for (path, what) in [
        (fifo.as_path(), "a named pipe (FIFO)"),
        (Path::new("/dev/null"), "a device"),
        (Path::new("/dev/zero"), "a device"),
    ] {
        for command in ["install-package", "inspect-package", "verify-package"] {
            let run = run_within(
                bin(home.path(), Some(&engine.host))
                    .env("BUDGETGUARD_INSTALL_DIR", &dir)
                    .args([command, "--package"])
                    .arg(path),
                b"",
                at_once,
            );
            refused(run, what, &format!("{command} {}", path.display()));
        }
        let run = run_within(
            bin(home.path(), None)
                .env("BUDGETGUARD_INSTALL_DIR", &dir)
                .arg("trust-key")
                .arg(path),
            b"",
            at_once,
        );
        refused(run, what, &format!("trust-key {}", path.display()));
        let output = home.path().join("signed.zip");
        let run = run_within(
            bin(home.path(), Some(&engine.host))
                .env("BUDGETGUARD_KEY_PASSWORD", "x")
                .args(["create-install-package", "--nodes", "Demo", "--output"])
                .arg(&output)
                .arg("--sign")
                .arg(path),
            b"",
            at_once,
        );
        refused(run, what, &format!("--sign {}", path.display()));
        assert!(!output.exists());
    }
    // A key file far larger than any key.
    let big = home.path().join("big.pub");
    std::fs::write(&big, "untrusted comment: x\n".repeat(400)).unwrap();
    let run = run_within(
        bin(home.path(), None)
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .arg("trust-key")
            .arg(&big),
        b"",
        at_once,
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    let error = error_text(&run);
    assert!(
        error.contains("big.pub` is not a minisign public key (it is 8.2 KiB, larger than the 4.0 KiB allowed)"),
        "{error}"
    );
    assert!(!dir.join("trusted-keys").exists(), "nothing is trusted");
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
}
