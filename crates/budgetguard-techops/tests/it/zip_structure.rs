//! Packages whose ZIP structure lies, made from a real package by a real ZIP
//! tool (Python's `zipfile`) or by patching one header: every command that
//! reads a package refuses them with one escaped line and exit code 1, and
//! changes nothing. Packages whose fallback files (`SHA256SUMS`, the Docker
//! `manifest.json`) disagree with the manifest, re-hashed to match it, are
//! refused by `verify-package`.

use std::path::{Path, PathBuf};
use std::process::Command;

use budgetguard::package::zip::ZipReader;
use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageSpec, Layer};

use crate::support::*;

testkit::tests![
    packages_whose_zip_structure_lies_are_refused_by_every_command,
    fallback_files_that_disagree_with_the_manifest_are_refused_by_verify,
];

/// Rewrites the package `from` into `to` with Python's `zipfile`: the
/// manifest first, then every other entry, then what `change` (Python code)
/// adds. `listed(name, data)` lists an added entry in the manifest with its
/// size and SHA-256, and `replace(name, data)` changes an entry and re-hashes
/// it in the manifest and `SHA256SUMS`, so that the flaw under test is the
/// only one.
fn python_rewrite(from: &Path, to: &Path, change: &str) {
    let script = format!(
        r#"
import sys, zipfile, json, hashlib
zin = zipfile.ZipFile(sys.argv[1])
manifest = json.loads(zin.read('budgetguard-package.json'))
files = [(i, zin.read(i.filename)) for i in zin.infolist() if i.filename != 'budgetguard-package.json']
added = []
late = []
def listed(name, data):
    manifest['entries'].append({{'name': name, 'size': len(data), 'sha256': hashlib.sha256(data).hexdigest()}})
def put(name, data):
    global files
    files = [(i, data if i.filename == name else d) for i, d in files]
    for e in manifest['entries']:
        if e['name'] == name:
            e['size'] = len(data)
            e['sha256'] = hashlib.sha256(data).hexdigest()
def replace(name, data):
    put(name, data)
    if name != 'SHA256SUMS':
        line = (hashlib.sha256(data).hexdigest() + '  ' + name).encode()
        sums = dict((i.filename, d) for i, d in files)['SHA256SUMS'].splitlines()
        sums = [line if l.endswith(b'  ' + name.encode()) else l for l in sums]
        put('SHA256SUMS', b''.join(l + b'\n' for l in sums))
def entry(name, mode):
    info = zipfile.ZipInfo(name, date_time=(2026, 11, 27, 12, 0, 0))
    info.create_system = 3
    info.external_attr = mode << 16
    return info
{change}
with zipfile.ZipFile(sys.argv[2], 'w') as zout:
    zout.writestr('budgetguard-package.json', json.dumps(manifest))
    for info, data in files + added:
        zout.writestr(info, data)
    for name, data in late:
        zout.writestr(name, data)
"#
    );
    let out = Command::new("python3")
        .args(["-c", &script])
        .arg(from)
        .arg(to)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A copy of `from` whose local header of `entry` names `renamed` (same
/// length) while the central directory keeps the real name.
fn local_name_patched(from: &Path, to: &Path, entry: &str, renamed: &str) {
    let reader = ZipReader::open(from).unwrap();
    let data_start = reader.entry(entry).unwrap().data_start as usize;
    let mut bytes = std::fs::read(from).unwrap();
    // The writer's local header: 30 bytes, the name, a 20-byte ZIP64 field.
    let name_at = data_start - 20 - entry.len();
    assert_eq!(&bytes[name_at..name_at + entry.len()], entry.as_bytes());
    bytes[name_at..name_at + entry.len()].copy_from_slice(renamed.as_bytes());
    std::fs::write(to, bytes).unwrap();
}

/// The error line of a refused run; panics unless it is exactly one line
/// (hint lines may follow), exit code 1, without a raw control character.
fn refusal(run: &Run, context: &str) -> String {
    assert_eq!(
        run.code, 1,
        "{context}: stdout {}\nstderr {}",
        run.stdout, run.stderr
    );
    let start = run
        .stderr
        .find("error: ")
        .unwrap_or_else(|| panic!("{context}: no error in {}", run.stderr));
    let rest = run.stderr[start..].trim_end();
    let error = rest.lines().next().unwrap_or_default().to_owned();
    assert!(
        rest.lines().skip(1).all(|l| l.starts_with("hint: ")),
        "{context}: one line: {rest}"
    );
    assert!(
        !run.stderr.chars().any(|c| c.is_control() && c != '\n'),
        "{context}: a raw control character reached the terminal: {:?}",
        run.stderr
    );
    error
}

/// Runs `verify-package`, `inspect-package` and `install-package` on each
/// package of `corpus`, each expecting its error, and checks that nothing
/// changed on the engine or in the install folder.
fn refused_by_every_command(
    home: &Path,
    engine: &TestEngine,
    reference: &str,
    corpus: &[(PathBuf, String)],
) {
    let dir = home.join("install");
    for (package, expected) in corpus {
        let runs = [
            run(bin(home, Some(&engine.host))
                .args(["verify-package", "--package"])
                .arg(package)),
            run(bin(home, None)
                .args(["inspect-package", "--package"])
                .arg(package)),
            run(bin(home, Some(&engine.host))
                .env("BUDGETGUARD_INSTALL_DIR", &dir)
                .args(["install-package", "--package"])
                .arg(package)),
        ];
        for (command, run) in ["verify", "inspect", "install"].iter().zip(&runs) {
            let context = format!("{command} {}", package.display());
            let error = refusal(run, &context);
            assert!(
                error.contains(expected),
                "{context}: expected `{expected}` in {error}"
            );
            assert!(error.len() < 600, "{context}: short: {error}");
        }
        assert!(
            !dir.exists(),
            "{}: the install folder was touched",
            package.display()
        );
        assert!(
            !engine
                .image_ids()
                .iter()
                .any(|line| line.contains(reference)),
            "{}: the image was loaded",
            package.display()
        );
    }
}

/// A real package of one small synthetic image, whose image is then removed
/// from the engine again.
fn real_package(engine: &TestEngine, home: &Path) -> (PathBuf, String) {
    let spec = ImageSpec {
        reference: images::unique_reference("zipstructure"),
        layers: vec![Layer::Random(200_000, 91), Layer::Compressible(50_000, 92)],
    };
    let guard = images::load(engine, std::slice::from_ref(&spec));
    let package = make_package(
        engine,
        home,
        "good.zip",
        &[("Structure", &spec.reference, free_port())],
    );
    drop(guard);
    (package, spec.reference)
}

fn verify(home: &Path, engine: &TestEngine, package: &Path) -> Run {
    run(bin(home, Some(&engine.host))
        .args(["verify-package", "--package"])
        .arg(package))
}

fn packages_whose_zip_structure_lies_are_refused_by_every_command() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (good, reference) = real_package(&engine, home.path());
    let _cleanup = images::ImageGuard::new(&engine, vec![reference.clone()]);
    let path = |name: &str| home.path().join(name);

    // The rewrite alone makes a package that verifies: each refusal below
    // comes from its flaw.
    python_rewrite(&good, &path("rewritten.zip"), "");
    verify(home.path(), &engine, &path("rewritten.zip")).success();

    let mut corpus: Vec<(PathBuf, String)> = Vec::new();
    python_rewrite(
        &good,
        &path("second-manifest.zip"),
        "evil = dict(manifest, nodes=[])\nlate.append(('budgetguard-package.json', json.dumps(evil)))",
    );
    corpus.push((
        path("second-manifest.zip"),
        "is not a valid install package (entry `budgetguard-package.json` appears twice)".into(),
    ));
    python_rewrite(
        &good,
        &path("symlink.zip"),
        "listed('images/passwd', b'/etc/passwd')\nadded.append((entry('images/passwd', 0o120777), b'/etc/passwd'))",
    );
    corpus.push((
        path("symlink.zip"),
        "entry `images/passwd` is a symbolic link, not a regular file".into(),
    ));
    python_rewrite(
        &good,
        &path("device.zip"),
        "listed('images/sda', b'')\nadded.append((entry('images/sda', 0o060660), b''))",
    );
    corpus.push((
        path("device.zip"),
        "entry `images/sda` is a block device".into(),
    ));
    python_rewrite(
        &good,
        &path("folder.zip"),
        "added.append((entry('images/extra/', 0o040755), b''))",
    );
    corpus.push((
        path("folder.zip"),
        "entry `images/extra/` names a folder (it ends in `/`)".into(),
    ));
    python_rewrite(
        &good,
        &path("control.zip"),
        "name = 'README\\x1b[2J\\x1b]0;pwned\\x07.txt'\nlisted(name, b'x')\nadded.append((entry(name, 0o100644), b'x'))",
    );
    corpus.push((
        path("control.zip"),
        "entry `README\\u{1b}[2J\\u{1b}]0;pwned\\u{7}.txt` has a control character in its name"
            .into(),
    ));
    local_name_patched(&good, &path("local-name.zip"), "README.txt", "README.sh.");
    corpus.push((
        path("local-name.zip"),
        "entry `README.txt` has a local header whose name disagrees with the central directory"
            .into(),
    ));

    refused_by_every_command(home.path(), &engine, &reference, &corpus);
}

fn fallback_files_that_disagree_with_the_manifest_are_refused_by_verify() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (good, reference) = real_package(&engine, home.path());
    let _cleanup = images::ImageGuard::new(&engine, vec![reference.clone()]);
    let path = |name: &str| home.path().join(name);

    python_rewrite(
        &good,
        &path("sums.zip"),
        "sums = b''.join(l + b'\\n' for l in zin.read('SHA256SUMS').splitlines() if not l.endswith(b'README.txt'))\nreplace('SHA256SUMS', sums)",
    );
    python_rewrite(
        &good,
        &path("docker-manifest.zip"),
        "doc = json.loads(zin.read('images/manifest.json'))\ndoc[0]['RepoTags'] = ['evil/other:1']\nreplace('images/manifest.json', json.dumps(doc).encode())",
    );
    for (package, entry, detail) in [
        (
            path("sums.zip"),
            "entry `SHA256SUMS` of `".to_owned(),
            "does not list `README.txt`, which the manifest lists".to_owned(),
        ),
        (
            path("docker-manifest.zip"),
            "entry `images/manifest.json` of `".to_owned(),
            format!("describes image `{reference}` otherwise than the manifest"),
        ),
    ] {
        // The package opens: only the full verification finds the flaw.
        run(bin(home.path(), None)
            .args(["inspect-package", "--package"])
            .arg(&package))
        .success();
        let error = refusal(&verify(home.path(), &engine, &package), "verify");
        for part in [entry, detail] {
            assert!(error.contains(&part), "expected `{part}` in {error}");
        }
        assert!(error
            .ends_with("the package is damaged or was altered; copy it again, or make a new one"));
    }
}
