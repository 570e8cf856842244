//! Signed packages: a key made by `keygen`, a package signed with it and
//! checked by Debian's `minisign`, a workstation that trusts the key and then
//! refuses unsigned packages, packages signed by another key and packages
//! altered after signing, with nothing changed.

use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageSpec, Layer};

use crate::install_errors::{assert_untouched, engine_state, error_text, install, package_traces};
use crate::repack::Repack;
use crate::support::*;

testkit::tests![
    a_signed_package_is_checked_by_minisign_and_by_a_trusting_workstation,
    keys_refuse_wrong_passwords_and_never_overwrite,
    keys_and_signatures_of_the_real_minisign_are_accepted_for_their_package_only,
];

const PASSWORD: &str = "correct horse battery staple";

fn keygen(home: &Path, key: &Path, extra: &[&str]) -> Run {
    run(bin(home, None)
        .env("BUDGETGUARD_KEY_PASSWORD", PASSWORD)
        .args(["keygen", "--output"])
        .arg(key)
        .args(extra))
}

fn create_signed(
    engine: &TestEngine,
    home: &Path,
    catalog: &Path,
    output: &Path,
    key: Option<&Path>,
) {
    let mut command = bin(home, Some(&engine.host));
    command
        .env("BUDGETGUARD_KEY_PASSWORD", PASSWORD)
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Signed",
            "--output",
        ])
        .arg(output)
        .arg("--catalog")
        .arg(catalog);
    if let Some(key) = key {
        command.arg("--sign").arg(key);
    }
    run(&mut command).success();
}

fn trust(home: &Path, dir: &Path, args: &[&str]) -> Run {
    run(bin(home, None)
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .arg("trust-key")
        .args(args))
}

fn a_signed_package_is_checked_by_minisign_and_by_a_trusting_workstation() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("signed"),
        layers: vec![Layer::Random(200_000, 401)],
    };
    let guard = images::load(&engine, std::slice::from_ref(&spec));
    let catalog = write_catalog(home.path(), &[("Signed", &spec.reference, free_port())]);
    let key = home.path().join("techops.key");
    let made = keygen(home.path(), &key, &["--json"]).success().json();
    let key_id = made["key_id"].as_str().unwrap().to_owned();
    let public = PathBuf::from(format!("{}.pub", key.display()));
    let other = home.path().join("other.key");
    keygen(home.path(), &other, &["--no-password"]).success();

    let signed = home.path().join("signed.zip");
    let started = std::time::Instant::now();
    create_signed(&engine, home.path(), &catalog, &signed, Some(&key));
    let signed_time = started.elapsed();
    let unsigned = home.path().join("unsigned.zip");
    create_signed(&engine, home.path(), &catalog, &unsigned, None);
    let by_other = home.path().join("by-other.zip");
    create_signed(&engine, home.path(), &catalog, &by_other, Some(&other));
    drop(guard);
    let _cleanup = images::ImageGuard::new(&engine, vec![spec.reference.clone()]);
    eprintln!("a signed create took {signed_time:?}");
    real_zip_readers_accept(&signed);

    // Debian's minisign accepts the signature of the unzipped manifest, and
    // its trusted comment names the package id.
    let unzipped = home.path().join("unzipped");
    assert!(Command::new("unzip")
        .arg("-q")
        .arg(&signed)
        .arg("-d")
        .arg(&unzipped)
        .status()
        .unwrap()
        .success());
    let out = Command::new("minisign")
        .args(["-V", "-p"])
        .arg(&public)
        .arg("-m")
        .arg(unzipped.join("budgetguard-package.json"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "minisign: {said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(said.contains(&package_id_of(&signed)), "{said}");
    let out = Command::new("minisign")
        .args(["-V", "-p"])
        .arg(format!("{}.pub", other.display()))
        .arg("-m")
        .arg(unzipped.join("budgetguard-package.json"))
        .output()
        .unwrap();
    assert!(!out.status.success(), "another key does not verify it");

    // inspect and verify show the signer.
    let dir = home.path().join("install");
    let inspect = run(bin(home.path(), None)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["inspect-package", "--package"])
        .arg(&signed))
    .success();
    assert!(
        inspect
            .stdout
            .contains(&format!("signed by key {key_id} (not trusted here)")),
        "{}",
        inspect.stdout
    );

    // Without trusted keys: an unsigned package installs, with a warning.
    let installed = install(home.path(), &engine.host, &dir, &unsigned, &[]).success();
    assert!(
        installed
            .stderr
            .contains("warning: the package is not signed; it installs because")
            && installed
                .stderr
                .contains("hint: trust TechOps' public key with `budgetguard-techops trust-key"),
        "{}",
        installed.stderr
    );
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["uninstall", "--all"]))
    .success();

    // Trusting the key: only packages it signed install.
    trust(home.path(), &dir, &[public.to_str().unwrap()]).success();
    let listed = trust(home.path(), &dir, &["--list", "--json"])
        .success()
        .json();
    assert_eq!(listed["trusted"], serde_json::json!([key_id]));
    let verified = run(bin(home.path(), None)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["verify-package", "--package"])
        .arg(&signed))
    .success();
    assert!(
        verified
            .stdout
            .contains(&format!("signed by key {key_id} (trusted here)")),
        "{}",
        verified.stdout
    );

    // An altered package, consistent otherwise (re-hashed), keeps the old
    // signature: it no longer matches.
    let mut altered = Repack::open(&signed);
    altered.manifest["nodes"][0]["environment"] = serde_json::json!({"EVIL": "1"});
    let altered_path = home.path().join("altered.zip");
    altered.write(&altered_path);
    let before = engine_state(&engine);
    let traces = package_traces(&signed);
    for (package, expected) in [
        (&unsigned, format!("the package is not signed, and this workstation installs only packages signed by {key_id}")),
        (&by_other, "this workstation trusts only".to_owned()),
        (&altered_path, format!("signature by key {key_id} does not match its manifest")),
    ] {
        let refused = install(home.path(), &engine.host, &dir, package, &[]);
        let error = error_text(&refused);
        assert!(error.contains(&expected), "{}: {error}", package.display());
        assert_untouched(&engine, &before, &traces, &package.display().to_string());
        assert!(!dir.join("endpoints.json").exists() || std::fs::read_to_string(dir.join("endpoints.json")).unwrap().contains("\"nodes\": []"));
    }
    let verify_altered = run(bin(home.path(), None)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["verify-package", "--package"])
        .arg(&altered_path));
    assert_eq!(verify_altered.code, 1);
    assert!(
        verify_altered
            .stderr
            .contains("does not match its manifest"),
        "{}",
        verify_altered.stderr
    );

    // The signed one installs.
    let done = install(home.path(), &engine.host, &dir, &signed, &["--json"])
        .success()
        .json();
    assert_eq!(done["signer"]["signature"], "trusted");
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["uninstall", "--all"]))
    .success();
    trust(home.path(), &dir, &["--remove", &key_id]).success();
    let gone = trust(home.path(), &dir, &["--remove", &key_id]);
    assert_eq!(gone.code, 1);
}

fn keys_refuse_wrong_passwords_and_never_overwrite() {
    let home = tempfile::tempdir().unwrap();
    let key = home.path().join("k.key");
    keygen(home.path(), &key, &[]).success();
    let secret = std::fs::read(&key).unwrap();
    let again = keygen(home.path(), &key, &[]);
    assert_eq!(again.code, 1);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
    assert_eq!(std::fs::read(&key).unwrap(), secret, "the key is untouched");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
        0o600
    );
    assert!(!String::from_utf8_lossy(&secret).contains(PASSWORD));
    // A wrong password is refused before anything is made.
    let output = home.path().join("x.zip");
    let wrong = run(bin(home.path(), Some("unix:///nonexistent.sock"))
        .env("BUDGETGUARD_KEY_PASSWORD", "wrong")
        .args(["create-install-package", "--nodes", "Demo", "--output"])
        .arg(&output)
        .arg("--sign")
        .arg(&key));
    assert_eq!(wrong.code, 1);
    assert!(
        wrong.stderr.contains("the password does not open the key"),
        "{}",
        wrong.stderr
    );
    assert!(!output.exists());
    // No terminal and no password: a clear refusal.
    let no_password = run(bin(home.path(), None)
        .env_remove("BUDGETGUARD_KEY_PASSWORD")
        .args(["keygen", "--output"])
        .arg(home.path().join("y.key")));
    assert_eq!(no_password.code, 1);
    assert!(
        no_password.stderr.contains("BUDGETGUARD_KEY_PASSWORD"),
        "{}",
        no_password.stderr
    );
    assert!(!home.path().join("y.key").exists());
}

/// `minisign` with `args`, which must succeed; its stdout.
fn minisign(args: &[&std::ffi::OsStr]) -> String {
    let out = Command::new("minisign").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "minisign {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `package`, with its manifest's bytes kept exactly, its signature entry
/// replaced by `signature`, written to `to`.
fn with_signature(package: &Path, signature: &[u8], to: &Path) {
    use budgetguard::package::zip::{Compression, DosTime, ZipReader, ZipWriter};
    use std::io::Read;
    let reader = ZipReader::open(package).unwrap();
    let mut zip = ZipWriter::new(
        std::fs::File::create(to).unwrap(),
        DosTime::from_utc(time::OffsetDateTime::now_utc()),
    );
    for entry in reader.entries() {
        if entry.name == "budgetguard-package.json.minisig" {
            continue;
        }
        let mut data = Vec::new();
        reader
            .open_entry(entry)
            .unwrap()
            .read_to_end(&mut data)
            .unwrap();
        zip.write_entry(&entry.name, Compression::None, &data)
            .unwrap();
    }
    zip.write_entry(
        "budgetguard-package.json.minisig",
        Compression::None,
        signature,
    )
    .unwrap();
    zip.finish().unwrap();
}

/// A key pair made by Debian's `minisign -G -W` (no password) signs
/// packages here and is trusted here; a package signed by `minisign -S`
/// itself, prehashed (the default) or legacy (`-l`), with a trusted comment
/// naming its package id, verifies both with `minisign -V` and here; one
/// whose trusted comment names another package id is refused here.
fn keys_and_signatures_of_the_real_minisign_are_accepted_for_their_package_only() {
    use std::ffi::OsStr;
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("minisign"),
        layers: vec![Layer::Random(100_000, 402)],
    };
    let guard = images::load(&engine, std::slice::from_ref(&spec));
    let catalog = write_catalog(home.path(), &[("Signed", &spec.reference, free_port())]);
    let secret = home.path().join("minisign.key");
    let public = home.path().join("minisign.pub");
    minisign(&[
        OsStr::new("-G"),
        OsStr::new("-W"),
        OsStr::new("-p"),
        public.as_os_str(),
        OsStr::new("-s"),
        secret.as_os_str(),
    ]);
    let signed = home.path().join("signed.zip");
    create_signed(&engine, home.path(), &catalog, &signed, Some(&secret));
    let unsigned = home.path().join("unsigned.zip");
    create_signed(&engine, home.path(), &catalog, &unsigned, None);
    drop(guard);
    let dir = home.path().join("install");
    trust(home.path(), &dir, &[public.to_str().unwrap()]).success();
    let key_id = trust(home.path(), &dir, &["--list", "--json"])
        .success()
        .json()["trusted"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let verify = |package: &Path| {
        run(bin(home.path(), None)
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .args(["verify-package", "--package"])
            .arg(package))
    };

    // Signed here with minisign's key: minisign -V accepts it.
    let unzipped = home.path().join("unzipped");
    unzip(&signed, &unzipped, &["budgetguard-package.json*"]);
    let manifest = unzipped.join("budgetguard-package.json");
    let said = minisign(&[
        OsStr::new("-V"),
        OsStr::new("-p"),
        public.as_os_str(),
        OsStr::new("-m"),
        manifest.as_os_str(),
    ]);
    assert!(said.contains(&package_id_of(&signed)), "{said}");
    let verified = verify(&signed).success();
    assert!(
        verified
            .stdout
            .contains(&format!("signed by key {key_id} (trusted here)")),
        "{}",
        verified.stdout
    );

    // Signed by minisign itself.
    let id = package_id_of(&unsigned);
    let unzipped = home.path().join("unsigned");
    unzip(&unsigned, &unzipped, &["budgetguard-package.json"]);
    let manifest = unzipped.join("budgetguard-package.json");
    let other_id = "0".repeat(64);
    for (name, legacy, names, accepted) in [
        ("prehashed", false, &id, true),
        ("legacy", true, &id, true),
        ("other-id", false, &other_id, false),
    ] {
        let signature = home.path().join(format!("{name}.minisig"));
        let comment = format!("budgetguard-techops package {names}");
        let mut args = vec![
            OsStr::new("-S"),
            OsStr::new("-s"),
            secret.as_os_str(),
            OsStr::new("-m"),
            manifest.as_os_str(),
            OsStr::new("-x"),
            signature.as_os_str(),
            OsStr::new("-t"),
            OsStr::new(&comment),
        ];
        if legacy {
            args.push(OsStr::new("-l"));
        }
        minisign(&args);
        minisign(&[
            OsStr::new("-V"),
            OsStr::new("-p"),
            public.as_os_str(),
            OsStr::new("-m"),
            manifest.as_os_str(),
            OsStr::new("-x"),
            signature.as_os_str(),
        ]);
        let package = home.path().join(format!("{name}.zip"));
        with_signature(&unsigned, &std::fs::read(&signature).unwrap(), &package);
        let run = verify(&package);
        if accepted {
            let run = run.success();
            assert!(
                run.stdout
                    .contains(&format!("signed by key {key_id} (trusted here)")),
                "{name}: {}",
                run.stdout
            );
        } else {
            let error = error_text(&run);
            assert!(
                error.contains(&format!(
                    "the package's signature by key {key_id} does not match its manifest"
                )),
                "{name}: {error}"
            );
        }
    }
}
