//! Packages installed, inspected and verified straight from Debian's nginx
//! on loopback: only what the workstation lacks is downloaded (counted from
//! nginx's access log), a connection cut mid-entry resumes, and a server
//! that ignores `Range`, a tampered byte or plain HTTP to another machine
//! are refused with nothing changed.

use std::path::{Path, PathBuf};

use testkit::engines::{self, TestEngine};
use testkit::http_faults::{Fault, FaultProxy};
use testkit::images::{self, ImageGuard, ImageSpec, Layer};
use testkit::model_cache::write_cache;
use testkit::nginx::Nginx;

use crate::install_errors::{assert_untouched, engine_state, flip_byte, package_traces};
use crate::support::*;

testkit::tests![
    a_package_installs_from_nginx_and_inspect_and_verify_read_its_url,
    an_update_from_a_full_package_downloads_only_the_missing_bytes,
    a_connection_cut_mid_entry_resumes_and_the_install_completes,
    a_server_ignoring_range_or_a_tampered_byte_is_refused_and_nothing_changes,
    plain_http_elsewhere_a_missing_file_and_a_login_in_the_address_say_what_to_do,
    a_server_wanting_a_login_gets_the_one_in_netrc,
];

/// The bytes the ZIP reader reads first from the end of a package: its end
/// record and the longest comment one may have (here it holds the central
/// directory too).
pub(crate) const END_WINDOW: u64 = 22 + 0xFFFF;
/// A mebibyte.
pub(crate) const MIB: u64 = 1 << 20;

/// Two versions of one node, packaged whole (image and model cache each):
/// they share a 2 MiB base layer and a 3 MiB model file, and differ by a
/// 6 MiB layer and a 3 MiB model file. Their images are removed from the
/// engine again, so an install streams them.
pub(crate) struct Versions {
    pub packages: Vec<PathBuf>,
    _images: ImageGuard,
    pub project: String,
}

pub(crate) fn versions(engine: &TestEngine, home: &Path, name: &str) -> Versions {
    let salt = u64::from(std::process::id()) << 20
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    let port = free_port();
    let slug = name.to_lowercase().replace(' ', "-");
    let cache_name = format!("{slug}-{}", std::process::id());
    let specs: Vec<ImageSpec> = [3, 5]
        .iter()
        .map(|seed| ImageSpec {
            reference: images::unique_reference(&slug),
            layers: vec![
                Layer::Random(2 * MIB, salt + 1),
                Layer::Random(6 * MIB, salt + seed),
            ],
        })
        .collect();
    let references: Vec<String> = specs.iter().map(|s| s.reference.clone()).collect();
    let loaded = images::load(engine, &specs);
    let mut packages = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        let cache = home.join(format!("cache-v{}", i + 1));
        let files = [
            (
                "transformer/stable.safetensors".to_owned(),
                3 * MIB,
                salt + 7,
            ),
            (
                "vae/changing.safetensors".to_owned(),
                3 * MIB,
                salt + 21 + 2 * i as u64,
            ),
        ];
        write_cache(&cache, &files).unwrap();
        let catalog = home.join(format!("catalog-v{}.json", i + 1));
        let node = serde_json::json!({ "nodes": [{
            "name": name, "image": reference, "host_port": port,
            "cache_mount": "/opt/nim/.cache",
            "model": { "cache": cache_name, "fill": ["download-to-cache", "--profiles", "{profiles}"] },
        }]});
        std::fs::write(&catalog, node.to_string()).unwrap();
        let package = home.join("served").join(format!("v{}.zip", i + 1));
        std::fs::create_dir_all(package.parent().unwrap()).unwrap();
        run(bin(home, Some(&engine.host))
            .args(["create-install-package", "--no-pull", "--catalog"])
            .arg(&catalog)
            .args(["--nodes", name, "--output"])
            .arg(&package)
            .arg(format!("--model-cache={}", cache.display())))
        .success();
        packages.push(package);
    }
    drop(loaded);
    Versions {
        packages,
        _images: ImageGuard::new(engine, references),
        project: format!("budgetguard-{slug}"),
    }
}

/// Asserts that the bytes served for an update stay within 1 % of the
/// bytes it lacked, plus `overhead` (what the reader reads besides entry
/// data), and prints their ratio; `requests` are shown when they do not.
pub(crate) fn assert_served(
    what: &str,
    (served, missing, overhead): (u64, u64, u64),
    requests: &dyn std::fmt::Debug,
) {
    let allowed = missing + missing / 100 + overhead;
    println!(
        "{what}: {served} bytes served, {missing} missing (allowed {allowed}, ratio {:.4})",
        served as f64 / missing as f64
    );
    assert!(
        served <= allowed,
        "{what}: {served} bytes served for {missing} missing: {requests:?}"
    );
}

/// `install-package --json` of `package` (a file or a URL) into `dir`.
pub(crate) fn install_from(
    home: &Path,
    engine: &TestEngine,
    dir: &Path,
    package: &str,
    extra: &[&str],
) -> Run {
    run(bin(home, Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .args(["install-package", "--json", "--package", package])
        .args(extra))
}

/// `uninstall --all --purge-cache` in `dir`; it must succeed.
pub(crate) fn uninstall(home: &Path, engine: &TestEngine, dir: &Path) {
    run(bin(home, Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .args(["uninstall", "--all", "--purge-cache"]))
    .success();
}

/// The tool's log files in `home`, joined.
pub(crate) fn logs(home: &Path) -> String {
    files_in(&home.join("data/budgetguard-techops/logs"))
        .iter()
        .map(|name| {
            std::fs::read_to_string(home.join("data/budgetguard-techops/logs").join(name))
                .unwrap_or_default()
        })
        .collect()
}

fn a_package_installs_from_nginx_and_inspect_and_verify_read_its_url() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "HTTP Whole");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let package = &versions.packages[0];
    let nginx = Nginx::serve(package.parent().unwrap());
    let url = nginx.url("v1.zip");
    let size = std::fs::metadata(package).unwrap().len();

    // Inspect reads the end, the headers and the manifest: no entry data.
    let inspected =
        run(bin(home.path(), None).args(["inspect-package", "--json", "--package", &url]))
            .success()
            .json();
    assert_eq!(inspected["package_id"], package_id_of(package));
    let inspect_bytes = nginx.bytes_sent();
    assert!(
        inspect_bytes < 200 << 10,
        "inspect read {inspect_bytes} bytes"
    );

    // Verify reads every entry once (the long layer in pieces side by
    // side), with a bearer token that reaches the server and nowhere else.
    let before = nginx.bytes_sent();
    let verified = run(bin(home.path(), None)
        .env("FLEET_TOKEN", "tok-never-shown-4711")
        .args([
            "verify-package",
            "--jobs",
            "3",
            "--token-env",
            "FLEET_TOKEN",
            "--package",
            &url,
        ]))
    .success();
    let verify_bytes = nginx.bytes_sent() - before;
    assert!(
        verify_bytes >= size - END_WINDOW && verify_bytes < size + (200 << 10),
        "verify read {verify_bytes} of {size} bytes"
    );
    assert!(nginx
        .served()
        .iter()
        .any(|s| s.authorization == "Bearer tok-never-shown-4711"));
    for text in [&verified.stdout, &verified.stderr, &logs(home.path())] {
        assert!(!text.contains("tok-never-shown"), "the token shows: {text}");
    }
    assert!(verified.stdout.contains(&url), "{}", verified.stdout);

    let dir = home.path().join("install");
    let report = install_from(home.path(), &engine, &dir, &url, &[])
        .success()
        .json();
    assert_eq!(report["images"][0]["outcome"], "loaded", "{report}");
    // The two model files and the cache's `refs/main`.
    assert_eq!(report["models"]["written"], 3, "{report}");
    assert_eq!(report["package"], url);
    assert!(dir.join("endpoints.json").exists());
    uninstall(home.path(), &engine, &dir);
}

fn an_update_from_a_full_package_downloads_only_the_missing_bytes() {
    // Each store decides what it holds its own way (chains, exact blobs).
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let versions = versions(&engine, home.path(), "HTTP Update");
        let _leftovers = NodeLeftovers::new(&engine, &versions.project);
        let dir = home.path().join("install");
        let v1 = versions.packages[0].to_str().unwrap();
        install_from(home.path(), &engine, &dir, v1, &[]).success();

        let nginx = Nginx::serve(versions.packages[1].parent().unwrap());
        let report = install_from(home.path(), &engine, &dir, &nginx.url("v2.zip"), &[])
            .success()
            .json();
        let missing = report["loaded_bytes"].as_u64().unwrap()
            + report["models"]["written_bytes"].as_u64().unwrap();
        // The new layer (with its image's config and manifest) and the
        // changed model file; the shared layer and model file stay where
        // they are.
        assert!(
            (9 * MIB..9 * MIB + (64 << 10)).contains(&missing),
            "{}: missing {missing}: {report}",
            engine.name
        );
        assert_eq!(report["models"]["written"], 1, "{report}");
        let size = std::fs::metadata(&versions.packages[1]).unwrap().len();
        assert_served(
            &format!("update of a {size} byte package on {}", engine.name),
            (nginx.bytes_sent(), missing, END_WINDOW),
            &nginx.served(),
        );
        uninstall(home.path(), &engine, &dir);
    }
}

fn a_connection_cut_mid_entry_resumes_and_the_install_completes() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "HTTP Resume");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let nginx = Nginx::serve(versions.packages[0].parent().unwrap());
    let proxy = FaultProxy::start(
        nginx.addr(),
        Fault::CutRanges {
            longer_than: MIB,
            after: MIB / 2,
            times: 3,
        },
    );
    let url = format!("http://{}/v1.zip", proxy.host());
    let dir = home.path().join("install");
    let installed = install_from(home.path(), &engine, &dir, &url, &[]).success();
    let report = installed.json();
    assert_eq!(report["images"][0]["outcome"], "loaded", "{report}");
    // Three entries were cut half a MiB in; each went on from there.
    let ranges: Vec<(u64, u64)> = proxy
        .seen()
        .iter()
        .filter_map(|s| s.range_bounds())
        .collect();
    let resumed = ranges
        .iter()
        .filter(|(first, last)| {
            ranges
                .iter()
                .any(|(f, l)| l == last && *f + MIB / 2 == *first)
        })
        .count();
    assert_eq!(resumed, 3, "{ranges:?}");
    assert!(logs(home.path()).contains("range cut: resuming"));
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["status", "--verify"]))
    .success();
    uninstall(home.path(), &engine, &dir);
}

fn a_server_ignoring_range_or_a_tampered_byte_is_refused_and_nothing_changes() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "HTTP Refused");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let package = &versions.packages[0];
    let traces = package_traces(package);
    let before = engine_state(&engine);
    let dir = home.path().join("install");

    let plain = Nginx::serve_without_ranges(package.parent().unwrap());
    let refused = install_from(home.path(), &engine, &dir, &plain.url("v1.zip"), &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("does not answer range requests") && refused.errors() == 1,
        "{}",
        refused.stderr
    );
    // One request, cut short by the tool once it saw a 200.
    assert_eq!(plain.served().len(), 1, "{:?}", plain.served());
    assert!(!dir.join("endpoints.json").exists());
    assert_untouched(&engine, &before, &traces, "no ranges");

    let tampered_dir = home.path().join("tampered");
    std::fs::create_dir(&tampered_dir).unwrap();
    let manifest = manifest_of(package);
    let layer = manifest["images"][0]["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .trim_start_matches("sha256:")
        .to_owned();
    flip_byte(
        package,
        &tampered_dir.join("v1.zip"),
        &format!("images/blobs/sha256/{layer}"),
        4 * MIB,
    );
    let nginx = Nginx::serve(&tampered_dir);
    let refused = install_from(home.path(), &engine, &dir, &nginx.url("v1.zip"), &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains(&layer), "{}", refused.stderr);
    assert!(!dir.join("endpoints.json").exists());
    assert_untouched(&engine, &before, &traces, "tampered");
    let verified =
        run(bin(home.path(), None).args(["verify-package", "--package", &nginx.url("v1.zip")]));
    assert_eq!(verified.code, 1, "{}", verified.stderr);
    assert!(verified.stderr.contains(&layer), "{}", verified.stderr);
}

fn plain_http_elsewhere_a_missing_file_and_a_login_in_the_address_say_what_to_do() {
    let home = tempfile::tempdir().unwrap();
    let inspect =
        |url: &str| run(bin(home.path(), None).args(["inspect-package", "--package", url]));
    let plain = inspect("http://192.0.2.7/flux.zip");
    assert_eq!(plain.code, 1, "{}", plain.stderr);
    assert!(
        plain.stderr.contains("plain HTTP to another machine"),
        "{}",
        plain.stderr
    );
    assert!(
        plain.hints().iter().any(|h| h.contains("--allow-http")),
        "{}",
        plain.stderr
    );

    let login = inspect("https://fleet:hunter2@techops.lan/flux.zip?sig=abc");
    assert_eq!(login.code, 1);
    assert!(login.stderr.contains("~/.netrc"), "{}", login.stderr);
    assert!(!logs(home.path()).contains("hunter2") && !login.stderr.contains("hunter2"));
    assert!(
        !logs(home.path()).contains("sig=abc"),
        "{}",
        logs(home.path())
    );

    let served = tempfile::tempdir().unwrap();
    let nginx = Nginx::serve(served.path());
    let missing = inspect(&nginx.url("nothing.zip"));
    assert_eq!(missing.code, 1);
    assert!(missing.stderr.contains("404"), "{}", missing.stderr);

    let closed = format!("http://127.0.0.1:{}/flux.zip", free_port());
    let unreachable = inspect(&closed);
    assert_eq!(unreachable.code, 1);
    assert!(
        unreachable.stderr.contains("cannot reach the server"),
        "{}",
        unreachable.stderr
    );
}

fn a_server_wanting_a_login_gets_the_one_in_netrc() {
    let home = tempfile::tempdir().unwrap();
    let served = tempfile::tempdir().unwrap();
    std::fs::write(served.path().join("p.zip"), b"not yet a package").unwrap();
    let nginx = Nginx::serve_with_login(served.path(), "fleet", "s3cret-netrc");
    let url = nginx.url("p.zip");
    let inspect = || run(bin(home.path(), None).args(["inspect-package", "--package", &url]));
    let refused = inspect();
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(refused.stderr.contains("(401)"), "{}", refused.stderr);
    assert!(
        refused.hints().iter().any(|h| h.contains("~/.netrc")),
        "{}",
        refused.stderr
    );
    // With the login in `~/.netrc` the server answers, and the file is
    // judged for what it is.
    std::fs::write(
        home.path().join(".netrc"),
        "machine 127.0.0.1 login fleet password s3cret-netrc\n",
    )
    .unwrap();
    let read = inspect();
    assert_eq!(read.code, 1, "{}", read.stderr);
    assert!(
        read.stderr.contains("is not a valid install package"),
        "{}",
        read.stderr
    );
    assert!(nginx.served().iter().any(|s| s.status == 206));
    assert!(!read.stderr.contains("s3cret") && !logs(home.path()).contains("s3cret"));
}
