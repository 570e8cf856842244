//! Split packages: the Demo package written as 7 MiB parts (by
//! `create-install-package --split-size` and by `split-package`) joins with
//! `cat` into the very package an unsplit create writes, which `unzip`,
//! Python and the tool read, with the same package id and signature.

use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::Digest;

use testkit::engines::{self, TestEngine};
use testkit::model_server::ModelServer;

use crate::install_errors::{assert_untouched, engine_state, error_text, install, package_traces};
use crate::models::model_catalog;
use crate::support::*;

testkit::tests![
    the_demo_package_in_parts_joins_into_the_unsplit_package,
    split_package_keeps_a_signed_package_and_its_signature,
    a_split_package_is_checked_part_by_part_and_installed_in_place,
    a_split_package_installs_in_place_on_each_engine,
];

/// A fixed package time, so two creates write the same bytes.
const EPOCH: &str = "1767225600";

/// `budgetguard-techops` with the Demo's model server and a fixed time.
fn demo(engine: &TestEngine, home: &Path, server: &ModelServer) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command
        .env("NGC_API_KEY", "demo-token")
        .env("DEMO_NIM_MODEL_SERVER", server.url())
        .env("SOURCE_DATE_EPOCH", EPOCH);
    command
}

/// The files `<package>.001`, `.002`, … beside `package`, in order.
fn parts_of(package: &Path) -> Vec<PathBuf> {
    let name = package.file_name().unwrap().to_string_lossy().into_owned();
    (1..)
        .map(|n| package.with_file_name(format!("{name}.{n:03}")))
        .take_while(|p| p.exists())
        .collect()
}

/// Whether `error` says an entry is in part `number` of `count` (alone,
/// or in a range of parts).
fn names_part(error: &str, number: usize, count: usize) -> bool {
    let Some((_, rest)) = error.split_once("it is in part") else {
        return false;
    };
    let words: Vec<&str> = rest.trim_start_matches('s').split_whitespace().collect();
    let number_at = |i: usize| words.get(i).and_then(|w| w.parse::<usize>().ok());
    let (first, last, of) = match words.get(1) {
        Some(&"to") => (number_at(0), number_at(2), number_at(4)),
        _ => (number_at(0), number_at(0), number_at(2)),
    };
    matches!((first, last, of), (Some(a), Some(b), Some(c)) if a <= number && number <= b && c == count)
}

/// The parts joined, as `cat` joins them, into `into`.
fn join(parts: &[PathBuf], into: &Path) {
    let bytes: Vec<u8> = parts
        .iter()
        .flat_map(|p| std::fs::read(p).unwrap())
        .collect();
    std::fs::write(into, bytes).unwrap();
}

fn the_demo_package_in_parts_joins_into_the_unsplit_package() {
    let engine = engines::require_primary();
    let _copy = demo_copy(&engine, "demo-split");
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::demo(32 << 20);
    server.set_token(Some("demo-token"));
    let whole = home.path().join("demo.zip");
    run(demo(&engine, home.path(), &server)
        .args(["create-install-package", "--nodes", "Demo", "--output"])
        .arg(&whole))
    .success();

    let split = home.path().join("parts").join("demo.zip");
    std::fs::create_dir(split.parent().unwrap()).unwrap();
    let made = run(demo(&engine, home.path(), &server)
        .args(["create-install-package", "--json", "--nodes", "Demo"])
        .args(["--split-size", "7MiB", "--output"])
        .arg(&split))
    .success()
    .json();
    assert!(!split.exists(), "a split create writes no whole package");
    let parts = parts_of(&split);
    let size = std::fs::metadata(&whole).unwrap().len();
    assert_eq!(parts.len() as u64, size.div_ceil(7 << 20), "{parts:?}");
    assert!(parts.len() >= 4, "the Demo fills at least 4 parts of 7 MiB");
    for part in &parts[..parts.len() - 1] {
        assert_eq!(std::fs::metadata(part).unwrap().len(), 7 << 20);
    }
    assert_eq!(
        made["parts"]["parts"].as_array().unwrap().len(),
        parts.len()
    );
    assert_eq!(made["package_id"].as_str().unwrap(), package_id_of(&whole));
    let list: serde_json::Value =
        serde_json::from_slice(&std::fs::read(split.with_file_name("demo.zip.parts")).unwrap())
            .unwrap();
    assert_eq!(list, made["parts"]);
    assert!(
        files_in(split.parent().unwrap())
            .iter()
            .all(|n| !n.ends_with(".partial")),
        "no partial file is left"
    );

    let joined = home.path().join("joined.zip");
    join(&parts, &joined);
    assert!(
        std::fs::read(&joined).unwrap() == std::fs::read(&whole).unwrap(),
        "cat of the parts is the unsplit package, byte for byte"
    );
    real_zip_readers_accept(&joined);
    verify_package(home.path(), &joined);

    // `split-package` of the unsplit package writes the same parts.
    let again = home.path().join("again");
    std::fs::create_dir(&again).unwrap();
    let copy = again.join("demo.zip");
    std::fs::copy(&whole, &copy).unwrap();
    run(bin(home.path(), None)
        .args(["split-package", "--size", "7MiB", "--package"])
        .arg(&copy))
    .success();
    for (ours, theirs) in parts_of(&copy).iter().zip(&parts) {
        assert!(std::fs::read(ours).unwrap() == std::fs::read(theirs).unwrap());
    }
    assert_eq!(
        std::fs::read(again.join("demo.zip.parts")).unwrap(),
        std::fs::read(split.with_file_name("demo.zip.parts")).unwrap()
    );
    // The parts exist: a second split refuses, as a second create does.
    let refused = run(bin(home.path(), None)
        .args(["split-package", "--size", "7MiB", "--package"])
        .arg(&copy));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("already exists"),
        "{}",
        refused.stderr
    );
}

fn split_package_keeps_a_signed_package_and_its_signature() {
    let engine = engines::require_primary();
    let _copy = demo_copy(&engine, "demo-split-signed");
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::demo(4 << 20);
    server.set_token(Some("demo-token"));
    let key = home.path().join("techops.key");
    run(bin(home.path(), None)
        .args(["keygen", "--no-password", "--output"])
        .arg(&key))
    .success();
    let signed = home.path().join("signed.zip");
    run(demo(&engine, home.path(), &server)
        .args(["create-install-package", "--nodes", "Demo", "--sign"])
        .arg(&key)
        .arg("--output")
        .arg(&signed))
    .success();
    let split = run(bin(home.path(), None)
        .args(["split-package", "--json", "--size", "7MiB", "--package"])
        .arg(&signed))
    .success()
    .json();
    assert_eq!(
        split["package_id"].as_str().unwrap(),
        package_id_of(&signed)
    );
    let joined = home.path().join("joined.zip");
    join(&parts_of(&signed), &joined);
    assert!(std::fs::read(&joined).unwrap() == std::fs::read(&signed).unwrap());
    let dir = home.path().join("workstation");
    let public = PathBuf::from(format!("{}.pub", key.display()));
    run(bin(home.path(), None)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .arg("trust-key")
        .arg(&public))
    .success();
    let verified = run(bin(home.path(), None)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["verify-package", "--json", "--package"])
        .arg(&joined))
    .success()
    .json();
    assert_eq!(verified["signer"]["signature"], "trusted", "{verified}");

    // Split again with the part list signed: minisign itself accepts the
    // list's signature, verify-package from the parts says who signed it,
    // and a list changed afterwards is refused, naming it.
    run(bin(home.path(), None)
        .env("BUDGETGUARD_KEY_PASSWORD", "")
        .args(["split-package", "--force", "--size", "7MiB", "--sign"])
        .arg(&key)
        .arg("--package")
        .arg(&signed))
    .success();
    let list = home.path().join("signed.zip.parts");
    let checked = run(Command::new("minisign")
        .args(["-V", "-p"])
        .arg(&public)
        .arg("-m")
        .arg(&list));
    assert_eq!(checked.code, 0, "minisign: {}", checked.stderr);
    let from_parts = || {
        run(bin(home.path(), None)
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .args(["verify-package", "--json", "--package"])
            .arg(home.path().join("signed.zip.001")))
    };
    let verified = from_parts().success().json();
    assert_eq!(
        verified["parts_signer"]["signature"], "trusted",
        "{verified}"
    );
    let text = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, text.replacen("  ", "   ", 1)).unwrap();
    let refused = from_parts();
    assert_ne!(refused.code, 0);
    assert!(
        refused
            .stderr
            .contains("does not match its signature by key"),
        "{}",
        refused.stderr
    );
    // Split once more without a key: the old signature goes with the old list.
    run(bin(home.path(), None)
        .args(["split-package", "--force", "--size", "7MiB", "--package"])
        .arg(&signed))
    .success();
    assert!(!home.path().join("signed.zip.parts.minisig").exists());
    let verified = from_parts().success().json();
    assert_eq!(
        verified["parts_signer"]["signature"], "unsigned",
        "{verified}"
    );
}

fn a_split_package_is_checked_part_by_part_and_installed_in_place() {
    let engine = engines::require_primary();
    let (image, _copy) = demo_copy(&engine, "demo-split-install");
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::demo(32 << 20);
    server.set_token(Some("demo-token"));
    let port = free_port();
    let catalog = model_catalog(
        home.path(),
        &image,
        &format!("split{port}"),
        &[("Split Demo", port, "base")],
    );
    let create = |output: &Path, epoch: &str| {
        run(demo(&engine, home.path(), &server)
            .env("SOURCE_DATE_EPOCH", epoch)
            .args(["create-install-package", "--json", "--no-pull"])
            .args(["--nodes", "Split Demo", "--split-size", "7MiB", "--output"])
            .arg(output)
            .arg("--catalog")
            .arg(&catalog))
        .success()
        .json()
    };
    let package = home.path().join("demo.zip");
    let made = create(&package, EPOCH);
    let parts = parts_of(&package);
    let count = parts.len();
    assert!(count >= 4, "{count} parts");
    let other = home.path().join("other");
    std::fs::create_dir(&other).unwrap();
    create(&other.join("demo.zip"), "1767225700");
    let other_first = std::fs::read(other.join("demo.zip.001")).unwrap();

    // The tool reads the parts in place: given the first part, the name
    // beside them or any part.
    let verified = run(bin(home.path(), None)
        .args(["verify-package", "--json", "--package"])
        .arg(&parts[0]))
    .success()
    .json();
    assert_eq!(verified["package_id"], made["package_id"]);
    let inspected = run(bin(home.path(), None)
        .args(["inspect-package", "--json", "--package"])
        .arg(&package))
    .success()
    .json();
    assert_eq!(inspected["package_id"], made["package_id"]);

    // Each bad copy is refused before any change, naming the part; the
    // joined file is never needed.
    let dir = home.path().join("workstation");
    let traces = package_traces(&{
        let joined = home.path().join("joined.zip");
        join(&parts, &joined);
        joined
    });
    let refused = |context: &str, expected: &str| {
        let before = engine_state(&engine);
        let run = install(home.path(), &engine.host, &dir, &parts[0], &[]);
        let text = error_text(&run);
        assert!(
            text.starts_with(&format!("error: {expected}")),
            "{context}: {text}"
        );
        assert_untouched(&engine, &before, &traces, context);
        assert!(
            !dir.join("nodes").exists(),
            "{context}: no node was written"
        );
        let verify = run_verify(home.path(), &parts[0]);
        assert!(
            verify.starts_with(&format!("error: {expected}")),
            "{context}: verify-package: {verify}"
        );
    };
    let third = std::fs::read(&parts[2]).unwrap();
    let mut flipped = third.clone();
    flipped[third.len() / 2] ^= 0x20;
    std::fs::write(&parts[2], &flipped).unwrap();
    refused("a flipped byte", &format!("part 3 of {count} is damaged"));
    // With its list changed to match (the list is unsigned): the parts
    // pass their check, the entry holding the byte does not, and is named
    // with its part; the install takes back what it began.
    let list_path = home.path().join("demo.zip.parts");
    let list = std::fs::read_to_string(&list_path).unwrap();
    let mut forged: serde_json::Value = serde_json::from_str(&list).unwrap();
    forged["parts"][2]["sha256"] = hex::encode(sha2::Sha256::digest(&flipped)).into();
    std::fs::write(&list_path, serde_json::to_vec_pretty(&forged).unwrap()).unwrap();
    let verify = run_verify(home.path(), &parts[0]);
    assert!(
        verify.starts_with("error: entry `") && names_part(&verify, 3, count),
        "verify-package: {verify}"
    );
    let before = engine_state(&engine);
    let installed = install(home.path(), &engine.host, &dir, &parts[0], &[]);
    let text = error_text(&installed);
    assert!(names_part(&text, 3, count), "install: {text}");
    assert_untouched(&engine, &before, &traces, "a forged list");
    std::fs::write(&list_path, list).unwrap();
    std::fs::write(&parts[2], &third).unwrap();

    let last = std::fs::read(&parts[count - 1]).unwrap();
    std::fs::remove_file(&parts[count - 1]).unwrap();
    refused(
        "a missing last part",
        &format!("part {count} of {count} is missing"),
    );
    std::fs::write(&parts[count - 1], &last).unwrap();

    let first = std::fs::read(&parts[0]).unwrap();
    std::fs::write(&parts[0], &other_first).unwrap();
    refused(
        "a part of another package",
        &format!("part 1 of {count} is damaged"),
    );

    let second = std::fs::read(&parts[1]).unwrap();
    std::fs::write(&parts[0], &second).unwrap();
    std::fs::write(&parts[1], &first).unwrap();
    refused("swapped parts", &format!("part 1 of {count} holds part 2"));
    std::fs::write(&parts[0], &first).unwrap();
    std::fs::write(&parts[1], &second).unwrap();

    // Parts in several folders are given one by one.
    let elsewhere = home.path().join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    let moved = elsewhere.join(parts[count - 1].file_name().unwrap());
    std::fs::rename(&parts[count - 1], &moved).unwrap();
    run(bin(home.path(), None)
        .args(["verify-package", "--package"])
        .arg(&parts[0])
        .arg("--package")
        .arg(&moved))
    .success();
    std::fs::rename(&moved, &parts[count - 1]).unwrap();

    // Restored, any part installs the package, read in place.
    let done = install(home.path(), &engine.host, &dir, &parts[2], &["--json"])
        .success()
        .json();
    assert_eq!(done["package_id"], made["package_id"], "{done}");
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["uninstall", "--all"]))
    .success();
}

/// `verify-package` of `package`, which must fail: its error.
fn run_verify(home: &Path, package: &Path) -> String {
    error_text(&run(bin(home, None)
        .args(["verify-package", "--package"])
        .arg(package)))
}

fn a_split_package_installs_in_place_on_each_engine() {
    let engines = engines::require_available();
    let primary = engines::require_primary();
    let (image, _copy) = demo_copy(&primary, "demo-split-engines");
    let home = tempfile::tempdir().unwrap();
    let package = make_split(&primary, home.path(), &image);
    let parts = parts_of(&package);
    assert!(parts.len() >= 2, "{parts:?}");
    for engine in &engines {
        let dir = home.path().join(format!("on-{}", engine.name));
        let done = install(home.path(), &engine.host, &dir, &parts[0], &["--json"])
            .success()
            .json();
        assert_eq!(
            done["package_id"].as_str().unwrap(),
            package_id_of(&{
                let joined = home.path().join("joined.zip");
                join(&parts, &joined);
                joined
            })
        );
        run(bin(home.path(), Some(&engine.host))
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .args(["uninstall", "--all"]))
        .success();
    }
}

/// A package of one Demo node of `image` with its models, made on
/// `engine` and split into 7 MiB parts in `home`.
fn make_split(engine: &TestEngine, home: &Path, image: &str) -> PathBuf {
    let server = ModelServer::demo(16 << 20);
    server.set_token(Some("demo-token"));
    let port = free_port();
    let catalog = model_catalog(
        home,
        image,
        &format!("engines{port}"),
        &[("Split Engines", port, "base")],
    );
    let output = home.join("engines.zip");
    run(demo(engine, home, &server)
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Split Engines",
        ])
        .args(["--split-size", "7MiB", "--output"])
        .arg(&output)
        .arg("--catalog")
        .arg(&catalog))
    .success();
    output
}
