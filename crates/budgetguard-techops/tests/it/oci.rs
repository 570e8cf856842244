//! Packages published to a real registry (Debian's `docker-registry`) and
//! installed from it with `--package oci://…`: publishing again sends
//! nothing, `docker pull` of a published image works on every engine, an
//! update downloads only the blobs the workstation lacks (counted at a
//! proxy in front of the registry), a cut download resumes, and a tampered
//! blob or a tag that is no package is refused with nothing changed.

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use testkit::engines;
use testkit::http_faults::{Fault, FaultProxy, Seen};
use testkit::images::Layer;
use testkit::registry::{no_registry, PushLayer, PushedImage, TestRegistry};

use crate::http::{assert_served, install_from, logs, uninstall, versions, END_WINDOW, MIB};
use crate::install_errors::{assert_untouched, engine_state, package_traces};
use crate::repack::Repack;
use crate::support::*;
use budgetguard::package::zip::Compression;

testkit::tests![
    a_published_package_installs_from_oci_and_publishing_again_sends_nothing,
    an_update_from_oci_downloads_only_the_missing_blobs,
    a_cut_blob_resumes_and_a_tampered_blob_or_a_plain_image_is_refused,
    a_compressed_package_is_published_as_its_stored_bytes_and_installs,
    an_update_package_is_published_only_where_its_base_is,
];

/// `publish-package --json` of `package` to `to`.
fn publish(home: &Path, package: &Path, to: &str) -> serde_json::Value {
    run(bin(home, None)
        .args(["publish-package", "--json", "--package"])
        .arg(package)
        .args(["--to", to]))
    .success()
    .json()
}

/// The size of every blob of the publication at `to` (`<repository>:<tag>`
/// on `registry`): its index's manifests' configs and layers.
fn blob_sizes(registry: &TestRegistry, repository: &str, tag: &str) -> HashMap<String, u64> {
    let get = |reference: &str| -> serde_json::Value {
        let accept =
            "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json";
        serde_json::from_slice(
            &registry.get(&format!("/v2/{repository}/manifests/{reference}"), accept),
        )
        .unwrap()
    };
    let mut sizes = HashMap::new();
    for listed in get(tag)["manifests"].as_array().unwrap() {
        let manifest = get(listed["digest"].as_str().unwrap());
        let layers = manifest["layers"].as_array().unwrap();
        for blob in layers.iter().chain(std::iter::once(&manifest["config"])) {
            sizes.insert(
                blob["digest"].as_str().unwrap().to_owned(),
                blob["size"].as_u64().unwrap(),
            );
        }
    }
    sizes
}

/// The body bytes the registry sent for the blob requests `seen`: a range's
/// length, else the whole blob.
fn blob_bytes(seen: &[Seen], sizes: &HashMap<String, u64>) -> u64 {
    seen.iter()
        .filter(|s| s.method == "GET")
        .filter_map(|s| {
            let digest = s.target.rsplit_once("/blobs/")?.1;
            Some(match s.range_bounds() {
                Some((first, last)) => last + 1 - first,
                None => sizes[digest],
            })
        })
        .sum()
}

fn a_published_package_installs_from_oci_and_publishing_again_sends_nothing() {
    let engine = engines::require_primary();
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "OCI Whole");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let package = &versions.packages[0];
    let to = format!("{}/studio/flux:2026-12", registry.host());

    let first = publish(home.path(), package, &to);
    let blobs = first["blobs"].as_u64().unwrap();
    assert_eq!(first["uploaded"], blobs, "{first}");
    let size = std::fs::metadata(package).unwrap().len();
    let sent = first["uploaded_bytes"].as_u64().unwrap();
    // Every entry once (the small ones also in the skeleton).
    assert!(
        (size - END_WINDOW..size + MIB).contains(&sent),
        "{sent} of {size}: {first}"
    );
    let again = publish(home.path(), package, &to);
    assert_eq!(again["uploaded"], 0, "{again}");
    assert_eq!(again["present"], blobs, "{again}");
    assert_eq!(again["index_digest"], first["index_digest"]);

    // Its image is an ordinary image: every engine pulls it.
    let published = first["images"][0]["published"].as_str().unwrap().to_owned();
    for engine in engines::require_available() {
        engine.docker_ok(&["pull", &published]);
        engine.docker_ok(&["rmi", &published]);
    }

    let address = format!("oci://{to}");
    let inspected =
        run(bin(home.path(), None).args(["inspect-package", "--json", "--package", &address]))
            .success()
            .json();
    assert_eq!(inspected["package_id"], package_id_of(package));

    let proxy = FaultProxy::start(registry.addr(), Fault::Latency(Duration::ZERO));
    let through = format!("oci://{}/studio/flux:2026-12", proxy.host());
    let dir = home.path().join("install");
    let report = install_from(home.path(), &engine, &dir, &through, &[])
        .success()
        .json();
    assert_eq!(report["images"][0]["outcome"], "loaded", "{report}");
    assert_eq!(report["models"]["written"], 3, "{report}");
    assert_eq!(report["package"], through);
    let served = blob_bytes(
        &proxy.seen(),
        &blob_sizes(&registry, "studio/flux", "2026-12"),
    );
    assert!(
        served < size + MIB,
        "{served} bytes served for a {size} byte package"
    );
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["status", "--verify"]))
    .success();
    uninstall(home.path(), &engine, &dir);
}

fn an_update_from_oci_downloads_only_the_missing_blobs() {
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let versions = versions(&engine, home.path(), "OCI Update");
        let _leftovers = NodeLeftovers::new(&engine, &versions.project);
        let dir = home.path().join("install");
        let v1 = versions.packages[0].to_str().unwrap();
        install_from(home.path(), &engine, &dir, v1, &[]).success();

        let repository = format!("update-{}", engine.name);
        let to = format!("{}/{repository}:v2", registry.host());
        publish(home.path(), &versions.packages[1], &to);
        let proxy = FaultProxy::start(registry.addr(), Fault::Latency(Duration::ZERO));
        let address = format!("oci://{}/{repository}:v2", proxy.host());
        let report = install_from(home.path(), &engine, &dir, &address, &[])
            .success()
            .json();
        let missing = report["loaded_bytes"].as_u64().unwrap()
            + report["models"]["written_bytes"].as_u64().unwrap();
        assert_eq!(report["models"]["written"], 1, "{report}");
        let sizes = blob_sizes(&registry, &repository, "v2");
        let served = blob_bytes(&proxy.seen(), &sizes);
        // The changed layer and model file, the map and the skeleton (the
        // end of the file, which the reader looks at first, is in it).
        let map_and_skeleton: u64 = proxy
            .seen()
            .iter()
            .filter(|s| s.method == "GET" && s.range.is_none())
            .filter_map(|s| s.target.rsplit_once("/blobs/").map(|(_, d)| sizes[d]))
            .filter(|size| *size < MIB)
            .sum();
        assert_served(
            &format!("update from oci on {}", engine.name),
            (served, missing, map_and_skeleton),
            &proxy.seen(),
        );
        uninstall(home.path(), &engine, &dir);
    }
}

fn a_cut_blob_resumes_and_a_tampered_blob_or_a_plain_image_is_refused() {
    let engine = engines::require_primary();
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "OCI Faults");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let package = &versions.packages[0];
    let to = format!("{}/faults/flux:1", registry.host());
    publish(home.path(), package, &to);
    let manifest = manifest_of(package);
    let layer = manifest["images"][0]["layers"][1]["digest"]
        .as_str()
        .unwrap()
        .to_owned();

    // A byte flipped on the way: refused before any change.
    let traces = package_traces(package);
    let before = engine_state(&engine);
    let dir = home.path().join("install");
    let flipping = FaultProxy::start(
        registry.addr(),
        Fault::FlipBlobByte {
            digest: layer.clone(),
            offset: 4 * MIB,
        },
    );
    let address = format!("oci://{}/faults/flux:1", flipping.host());
    let refused = install_from(home.path(), &engine, &dir, &address, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(layer.trim_start_matches("sha256:")),
        "{}",
        refused.stderr
    );
    assert_eq!(refused.errors(), 1, "{}", refused.stderr);
    assert!(!dir.join("endpoints.json").exists());
    assert_untouched(&engine, &before, &traces, "tampered blob");

    // A tag that is an ordinary image, not a package.
    registry.push_image(
        "plain/image",
        "1",
        &[PushLayer::Gzip(Layer::Random(1024, 1))],
    );
    let plain = format!("oci://{}/plain/image:1", registry.host());
    let refused = install_from(home.path(), &engine, &dir, &plain, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("is not a package published by BudgetGuard TechOps"),
        "{}",
        refused.stderr
    );
    let no_tag = run(bin(home.path(), None).args([
        "inspect-package",
        "--package",
        &format!("oci://{}/faults/flux", registry.host()),
    ]));
    assert_eq!(no_tag.code, 1, "{}", no_tag.stderr);
    assert!(no_tag.stderr.contains("it has no tag"), "{}", no_tag.stderr);

    // Cut twice half-way: each download goes on from where it stopped.
    let cutting = FaultProxy::start(
        registry.addr(),
        Fault::CutBlob {
            digest: layer.clone(),
            after: MIB,
            times: 2,
        },
    );
    let address = format!("oci://{}/faults/flux:1", cutting.host());
    let report = install_from(home.path(), &engine, &dir, &address, &[])
        .success()
        .json();
    assert_eq!(report["images"][0]["outcome"], "loaded", "{report}");
    let resumed: Vec<_> = cutting
        .seen()
        .into_iter()
        .filter(|s| s.target.ends_with(&layer) && s.method == "GET")
        .map(|s| s.range)
        .collect();
    assert_eq!(resumed.len(), 3, "{resumed:?}");
    assert!(resumed[1].is_some() && resumed[2].is_some(), "{resumed:?}");
    assert!(!logs(home.path()).is_empty());
    uninstall(home.path(), &engine, &dir);
}

fn a_compressed_package_is_published_as_its_stored_bytes_and_installs() {
    let engine = engines::require_primary();
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let home = tempfile::tempdir().unwrap();
    let versions = versions(&engine, home.path(), "OCI Deflate");
    let _leftovers = NodeLeftovers::new(&engine, &versions.project);
    let mut repack = Repack::open(&versions.packages[0]);
    repack.compression = Compression::Deflate;
    repack.manifest["compression"] = "deflate".into();
    let package = home.path().join("deflated.zip");
    repack.write(&package);
    let to = format!("{}/deflated/flux:1", registry.host());
    publish(home.path(), &package, &to);
    // The large entries' stored (deflated) bytes are blobs of their own.
    let index: serde_json::Value = serde_json::from_slice(&registry.get(
        "/v2/deflated/flux/manifests/1",
        "application/vnd.oci.image.index.v1+json",
    ))
    .unwrap();
    let artifact = index["manifests"].as_array().unwrap().last().unwrap()["digest"]
        .as_str()
        .unwrap()
        .to_owned();
    let artifact: serde_json::Value = serde_json::from_slice(&registry.get(
        &format!("/v2/deflated/flux/manifests/{artifact}"),
        "application/vnd.oci.image.manifest.v1+json",
    ))
    .unwrap();
    let zip_data = artifact["layers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["mediaType"] == "application/vnd.budgetguard.package.zip-data.v1")
        .count();
    // Two layers and two model files.
    assert_eq!(zip_data, 4, "{artifact}");

    let address = format!("oci://{to}");
    run(bin(home.path(), None).args(["verify-package", "--package", &address])).success();
    let dir = home.path().join("install");
    let report = install_from(home.path(), &engine, &dir, &address, &[])
        .success()
        .json();
    assert_eq!(report["images"][0]["outcome"], "loaded", "{report}");
    assert_eq!(report["package_id"], package_id_of(&package));
    uninstall(home.path(), &engine, &dir);
}

fn an_update_package_is_published_only_where_its_base_is() {
    let source = TestRegistry::start().unwrap_or_else(no_registry);
    let v1 = source.push_image("team/app", "1", &[PushLayer::Gzip(Layer::Random(MIB, 71))]);
    let on_top = [PushLayer::Gzip(Layer::Random(MIB, 72))];
    let v2 = source.push_on_top(&v1, "team/app", "2", &on_top, "2026-04-01T00:00:00Z");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let make = |image: &PushedImage, name: &str, extra: &[&str]| {
        let folder = home.path().join(name.trim_end_matches(".zip"));
        std::fs::create_dir_all(&folder).unwrap();
        let catalog = testkit::fixtures::write_catalog(&folder, &[("App", &image.reference, port)]);
        let output = home.path().join(name);
        run(bin(
            home.path(),
            Some("unix:///nonexistent/budgetguard-test.sock"),
        )
        .args([
            "create-install-package",
            "--from-registry",
            "--nodes",
            "App",
            "--output",
        ])
        .arg(&output)
        .arg("--catalog")
        .arg(&catalog)
        .args(extra))
        .success();
        output
    };
    let old = make(&v1, "v1.zip", &[]);
    let update = make(&v2, "v2.zip", &["--since", old.to_str().unwrap()]);

    // Its base is not in the repository: refused before anything is sent.
    let target = TestRegistry::start().unwrap_or_else(no_registry);
    let watched = FaultProxy::start(target.addr(), Fault::Latency(Duration::ZERO));
    let refused = run(bin(home.path(), None)
        .args(["publish-package", "--package"])
        .arg(&update)
        .args(["--to", &format!("{}/studio/app:2", watched.host())]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_eq!(refused.errors(), 1, "{}", refused.stderr);
    assert!(
        refused
            .stderr
            .contains("publish its base package to that repository first"),
        "{}",
        refused.stderr
    );
    let sent: Vec<_> = watched
        .seen()
        .into_iter()
        .filter(|s| s.method != "HEAD" && s.method != "GET")
        .collect();
    assert!(sent.is_empty(), "{sent:?}");

    // Once its base is published there, it is, sending only its own.
    publish(
        home.path(),
        &old,
        &format!("{}/studio/app:1", target.host()),
    );
    let report = publish(
        home.path(),
        &update,
        &format!("{}/studio/app:2", target.host()),
    );
    assert!(report["present"].as_u64().unwrap() > 0, "{report}");
    let address = format!("oci://{}/studio/app:2", target.host());
    let verified =
        run(bin(home.path(), None).args(["verify-package", "--json", "--package", &address]))
            .success()
            .json();
    assert_eq!(verified["package_id"], package_id_of(&update));
}
