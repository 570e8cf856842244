//! Packages made straight from registries (`--from-registry`, with
//! `DOCKER_HOST` pointing nowhere), update packages (`--since`) and
//! reproducible packages, against Debian's `docker-registry` (htpasswd, and
//! behind testkit's bearer-token front) and testkit's misbehaving proxy.

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use sha2::{Digest, Sha256};
use testkit::engines::{self, TestEngine};
use testkit::http_faults::{Fault, FaultProxy};
use testkit::images::{ImageGuard, Layer};
use testkit::plain_http::Endpoint;
use testkit::process::{hanging_script, wait_ended};
use testkit::registry::{no_registry, PushLayer, PushedImage, TestRegistry};
use testkit::token_auth::TokenFront;

use crate::support::*;

testkit::tests![
    images_from_registries_install_on_every_engine,
    a_cut_download_resumes_and_a_lying_registry_is_refused,
    registry_failures_each_have_their_message,
    update_packages_leave_out_what_the_base_holds,
    packages_are_reproducible,
    credential_helpers_never_show_their_output_and_never_hang,
];

/// An engine address where nothing answers: `--from-registry` needs none.
const NO_ENGINE: &str = "unix:///nonexistent/budgetguard-test.sock";

/// The media type of the package's compressed layers.
const GZIP_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";

fn no_skopeo() -> PushedImage {
    engines::skip("skopeo is not installed (.ci/deps.sh)")
}

/// The Demo image `demo` of `engine` with one more layer of 1 MiB random
/// bytes (from `seed`), pushed to `registry` as `<name>:<tag>`.
fn demo_plus(
    registry: &TestRegistry,
    engine: &TestEngine,
    demo: &str,
    name: &str,
    tag: &str,
    seed: u64,
) -> PushedImage {
    let base = registry
        .push_from_engine(engine, demo, name, "demo")
        .unwrap_or_else(no_skopeo);
    let extra = [PushLayer::Gzip(Layer::Random(1 << 20, seed))];
    registry.push_on_top(&base, name, tag, &extra, "2026-03-01T00:00:00Z")
}

/// `create-install-package --from-registry` with no engine.
fn create(home: &Path, catalog: &Path, nodes: &str, output: &Path, extra: &[&str]) -> Run {
    run(bin(home, Some(NO_ENGINE))
        .args([
            "create-install-package",
            "--from-registry",
            "--nodes",
            nodes,
        ])
        .arg("--output")
        .arg(output)
        .arg("--catalog")
        .arg(catalog)
        .args(extra))
}

/// `<home>/docker/config.json` with a `docker login` entry for each
/// `(registry, user, password)`.
fn docker_logins(home: &Path, logins: &[(&str, &str, &str)]) {
    let auths: serde_json::Map<String, serde_json::Value> = logins
        .iter()
        .map(|(registry, user, password)| {
            let auth =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            ((*registry).to_owned(), serde_json::json!({ "auth": auth }))
        })
        .collect();
    std::fs::create_dir_all(home.join("docker")).unwrap();
    std::fs::write(
        home.join("docker/config.json"),
        serde_json::json!({ "auths": auths }).to_string(),
    )
    .unwrap();
}

/// The tool aimed at `engine`, installing into `dir`.
fn on(home: &Path, engine: &TestEngine, dir: &Path) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command.env("BUDGETGUARD_INSTALL_DIR", dir);
    command
}

fn sha256_of(path: &Path) -> String {
    hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
}

fn images_from_registries_install_on_every_engine() {
    let all = engines::require_available();
    let (demo, _copy) = demo_copy(&all[0], "registry-source");
    // A basic-auth registry (htpasswd) with a single-platform image.
    let basic = TestRegistry::with_login("techops", "s3cret").unwrap_or_else(no_registry);
    let single = demo_plus(&basic, &all[0], &demo, "team/demo", "1", 31);
    // A bearer-token registry with a multi-platform index of the same image.
    let backend = TestRegistry::start().unwrap_or_else(no_registry);
    let amd64 = demo_plus(&backend, &all[0], &demo, "nim/demo", "amd64", 31);
    let arm64 = backend.push_platform_image(
        "nim/demo",
        "",
        &[PushLayer::Gzip(Layer::Random(4096, 32))],
        "linux/arm64",
    );
    let index = backend.push_index_of("nim/demo", "1", &[&amd64, &arm64]);
    let front = TokenFront::start(backend.addr(), "ngc-user", "t0ken", "identity");

    let home = tempfile::tempdir().unwrap();
    docker_logins(
        home.path(),
        &[
            (&basic.host(), "techops", "s3cret"),
            (&front.host(), "ngc-user", "t0ken"),
        ],
    );
    let bearer = format!("{}/nim/demo:1", front.host());
    let (basic_port, bearer_port) = (free_port(), free_port());
    let catalog = write_catalog(
        home.path(),
        &[
            ("Basic", &single.reference, basic_port),
            ("Bearer", &bearer, bearer_port),
        ],
    );
    let package = home.path().join("registry.zip");
    let made = create(home.path(), &catalog, "Basic,Bearer", &package, &["--json"]).success();
    assert!(
        made.stderr.contains("Downloading images"),
        "{}",
        made.stderr
    );
    let report = made.json();
    let manifest = &report["manifest"];
    assert_eq!(manifest["format_version"], 3);
    assert_eq!(manifest["source_engine"], "registry");
    let images = manifest["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "one image for both nodes: {images:?}");
    let image = &images[0];
    assert_eq!(
        image["references"],
        serde_json::json!([single.reference, bearer])
    );
    assert_eq!(image["id"], single.config.digest);
    let layers = image["layers"].as_array().unwrap();
    assert_eq!(layers.len(), single.layers.len());
    for (layer, pushed) in layers.iter().zip(&single.layers) {
        assert_eq!(layer["digest"], pushed.digest, "kept as served");
        assert_eq!(layer["media_type"], GZIP_LAYER);
    }
    assert_eq!(image["diff_ids"].as_array().unwrap().len(), layers.len());
    let repo_digests = image["repo_digests"].to_string();
    assert!(
        repo_digests.contains(&format!("nim/demo@{index}")),
        "{repo_digests}"
    );
    // About the registry's size: its blobs and small documents.
    let served: u64 = single.layers.iter().map(|l| l.size).sum::<u64>() + single.config.size;
    let size = std::fs::metadata(&package).unwrap().len();
    assert!(
        size < served + (64 << 10),
        "{size} bytes for {served} served"
    );
    verify_package(home.path(), &package);
    real_zip_readers_accept(&package);

    for engine in &all {
        let _images = ImageGuard::new(engine, vec![single.reference.clone(), bearer.clone()]);
        let dir = home.path().join(format!("install-{}", engine.name));
        let installed = run(on(home.path(), engine, &dir)
            .args(["install-package", "--json", "--start", "--wait", "120"])
            .arg("--package")
            .arg(&package))
        .success()
        .json();
        assert_eq!(installed["changed"], true, "{}", engine.name);
        for port in [basic_port, bearer_port] {
            let answer = infer(port);
            assert!(answer.contains("SUCCESS"), "{}: {answer}", engine.name);
        }
        run(on(home.path(), engine, &dir).args(["uninstall", "--all"])).success();
        // The fallback installer's `docker load` of the images folder.
        docker_load_images_folder(&package, engine);
    }
}

fn a_cut_download_resumes_and_a_lying_registry_is_refused() {
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let image = registry.push_image(
        "team/big",
        "1",
        &[
            PushLayer::Gzip(Layer::Random(3 << 20, 51)),
            PushLayer::Gzip(Layer::Random(1000, 52)),
        ],
    );
    let layer = image.layers[0].clone();
    let home = tempfile::tempdir().unwrap();

    let cut = FaultProxy::start(
        registry.addr(),
        Fault::CutBlob {
            digest: layer.digest.clone(),
            after: 1 << 20,
            times: 2,
        },
    );
    let reference = format!("{}/team/big:1", cut.host());
    let catalog = write_catalog(home.path(), &[("Big", &reference, 9140)]);
    let package = home.path().join("big.zip");
    create(home.path(), &catalog, "Big", &package, &["--jobs", "2"]).success();
    let resumed = cut.seen().into_iter().any(|seen| {
        seen.target.ends_with(&layer.digest)
            && seen
                .range
                .is_some_and(|r| r.starts_with("bytes=") && r != "bytes=0-")
    });
    assert!(resumed, "no ranged request: {:?}", cut.seen());
    verify_package(home.path(), &package);
    std::fs::remove_file(&package).unwrap();

    let liar = FaultProxy::start(
        registry.addr(),
        Fault::FlipBlobByte {
            digest: layer.digest.clone(),
            offset: 2 << 20,
        },
    );
    let reference = format!("{}/team/big:1", liar.host());
    let catalog = write_catalog(home.path(), &[("Big", &reference, 9140)]);
    let refused = create(home.path(), &catalog, "Big", &package, &[]);
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains(&format!(
            "blob {} of `{reference}` arrived with digest",
            layer.digest
        )),
        "{}",
        refused.stderr
    );
    assert_eq!(left_in(home.path()), ["catalog.json"], "no output");
}

fn registry_failures_each_have_their_message() {
    let registry = TestRegistry::with_login("techops", "s3cret").unwrap_or_else(no_registry);
    let open = TestRegistry::start().unwrap_or_else(no_registry);
    let small = [PushLayer::Gzip(Layer::Random(2000, 61))];
    registry.push_image("team/app", "1", &small);
    let arm_only = open.push_platform_image("team/arm", "", &small, "linux/arm64");
    open.push_index_of("team/arm", "1", &[&arm_only]);
    let entitled = FaultProxy::start(open.addr(), Fault::ManifestStatus(402));
    let nobody = format!("127.0.0.1:{}", free_port());

    let home = tempfile::tempdir().unwrap();
    let cases = [
        (
            format!("{}/team/app:1", registry.host()),
            vec![
                format!(
                    "refused anonymous access for `{}/team/app:1` (401)",
                    registry.host()
                ),
                format!("docker login {}", registry.host()),
            ],
        ),
        (
            format!("{}/team/app:1", entitled.host()),
            vec!["has no entitlement for".to_owned(), "(402)".to_owned()],
        ),
        (
            format!("{}/team/none:1", open.host()),
            vec!["(404: no such repository, tag or digest)".to_owned()],
        ),
        (
            format!("{nobody}/team/app:1"),
            vec![format!("cannot reach the registry {nobody}")],
        ),
        (
            format!("{}/team/arm:1", open.host()),
            vec![
                "has no image for linux/amd64 (it has linux/arm64)".to_owned(),
                "hint: pass `--platform` with one of the platforms it has".to_owned(),
            ],
        ),
    ];
    let package = home.path().join("failed.zip");
    for (reference, expected) in cases {
        let catalog = write_catalog(home.path(), &[("App", &reference, 9141)]);
        let failed = create(home.path(), &catalog, "App", &package, &[]);
        assert_eq!(failed.code, 1, "{reference}: {}", failed.stderr);
        for text in expected {
            assert!(failed.stderr.contains(&text), "{text}: {}", failed.stderr);
        }
        assert_eq!(left_in(home.path()), ["catalog.json"], "{reference}");
    }
    // The platform it has.
    let catalog = write_catalog(
        home.path(),
        &[("App", &format!("{}/team/arm:1", open.host()), 9141)],
    );
    create(
        home.path(),
        &catalog,
        "App",
        &package,
        &["--platform", "linux/arm64"],
    )
    .success();
}

fn update_packages_leave_out_what_the_base_holds() {
    let all = engines::require_available();
    let (demo, _copy) = demo_copy(&all[0], "update-source");
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    // The Demo with one layer of its own, then one more layer on top.
    let v1 = demo_plus(&registry, &all[0], &demo, "team/app", "1", 41);
    let new_layer = [PushLayer::Gzip(Layer::Random(2 << 20, 42))];
    let v2 = registry.push_on_top(&v1, "team/app", "2", &new_layer, "2026-04-01T00:00:00Z");
    let new_size = v2.layers.last().unwrap().size;

    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let package_of = |image: &PushedImage, name: &str, extra: &[&str]| -> (PathBuf, Run) {
        let folder = home.path().join(name.trim_end_matches(".zip"));
        std::fs::create_dir_all(&folder).unwrap();
        let catalog = write_catalog(&folder, &[("App", &image.reference, port)]);
        let output = home.path().join(name);
        let made = create(home.path(), &catalog, "App", &output, extra).success();
        (output, made)
    };
    let (old, _) = package_of(&v1, "old.zip", &[]);
    let old_id = package_id_of(&old);
    let since = old.to_str().unwrap();
    let (update, made) = package_of(&v2, "update.zip", &["--since", since, "--json"]);
    let report = made.json();
    let base = &report["manifest"]["base"];
    assert_eq!(base["package_id"], old_id.as_str());
    assert_eq!(base["file_name"], "old.zip");
    let left_out: u64 = base["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["size"].as_u64().unwrap())
        .sum();
    assert_eq!(report["savings"], left_out);
    assert!(left_out > 1 << 20, "the Demo and its own layer: {left_out}");
    let size = std::fs::metadata(&update).unwrap().len();
    assert!(
        size < new_size + (64 << 10),
        "{size} bytes for a {new_size}-byte layer"
    );
    let shown = run(bin(home.path(), None)
        .args(["inspect-package", "--package"])
        .arg(&update))
    .success();
    assert!(
        shown.stdout.contains(&format!(
            "update of:    `old.zip` (package id {}…)",
            &old_id[..12]
        )),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("left out:"), "{}", shown.stdout);
    let shown = run(bin(home.path(), None)
        .args(["inspect-package", "--json", "--package"])
        .arg(&update))
    .success()
    .json();
    assert_eq!(shown["base"], old_id.as_str());
    assert_eq!(shown["savings"], left_out);
    verify_package(home.path(), &update);

    // The engine's images of this test, by name or by ID (other tests run
    // beside it on the same engines).
    let ids = [&v1.config, &v2.config]
        .map(|c| c.digest.clone())
        .into_iter()
        .chain([v1.manifest_digest.clone(), v2.manifest_digest.clone()])
        .collect::<Vec<_>>();
    let repository = v1.reference.rsplit_once(':').unwrap().0.to_owned() + ":";
    let ours = |engine: &TestEngine| -> Vec<String> {
        engine
            .image_ids()
            .into_iter()
            .filter(|l| ids.iter().any(|id| l.starts_with(id.as_str())) || l.contains(&repository))
            .collect()
    };
    for (i, engine) in all.iter().enumerate() {
        let _images = ImageGuard::new(engine, vec![v1.reference.clone(), v2.reference.clone()]);
        let dir = home.path().join(format!("install-{}", engine.name));
        let before = ours(engine);
        let refused = run(on(home.path(), engine, &dir)
            .args(["install-package", "--package"])
            .arg(&update));
        assert_eq!(refused.code, 1, "{}: {}", engine.name, refused.stderr);
        let naming = format!(
            "this update package needs its base package `old.zip` (package id {}…) installed first",
            &old_id[..12]
        );
        assert!(refused.stderr.contains(&naming), "{}", refused.stderr);
        assert_eq!(refused.errors(), 1);
        assert_eq!(ours(engine), before, "{}: nothing changed", engine.name);
        assert!(!dir.join("endpoints.json").exists());
        if i == 0 {
            fallback_refuses(&update, engine, home.path(), &old_id);
            assert_eq!(ours(engine), before, "{}: nothing changed", engine.name);
        }

        run(on(home.path(), engine, &dir)
            .args(["install-package", "--package"])
            .arg(&old))
        .success();
        let installed = run(on(home.path(), engine, &dir)
            .args(["install-package", "--json", "--start", "--wait", "120"])
            .arg("--package")
            .arg(&update))
        .success()
        .json();
        let loaded = installed["loaded_bytes"].as_u64().unwrap();
        assert!(loaded < new_size + (16 << 10), "{}: {loaded}", engine.name);
        assert!(infer(port).contains("SUCCESS"), "{}", engine.name);
        run(on(home.path(), engine, &dir).args(["uninstall", "--all"])).success();
    }
}

/// The fallback `install.sh` of an update package on an engine without its
/// base says which package to install first, and loads nothing.
fn fallback_refuses(update: &Path, engine: &TestEngine, home: &Path, old_id: &str) {
    let unzipped = home.join("update-unzipped");
    unzip(update, &unzipped, &[]);
    let out = Command::new("sh")
        .arg("install/install.sh")
        .current_dir(&unzipped)
        .env("DOCKER_HOST", &engine.host)
        .env("BUDGETGUARD_INSTALL_DIR", home.join("fallback-install"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "needs its base package (old.zip, package id {}) installed first",
            &old_id[..12]
        )),
        "{stderr}"
    );
    assert!(!home.join("fallback-install/compose").exists());
}

fn packages_are_reproducible() {
    let engine = engines::require_primary();
    let (demo, _copy) = demo_copy(&engine, "reproducible");
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let pushed = registry
        .push_from_engine(&engine, &demo, "team/repro", "1")
        .unwrap_or_else(no_skopeo);
    let home = tempfile::tempdir().unwrap();
    // A package of the image from the registry, or (with `engine_args`)
    // from the engine.
    let make = |name: &str, epoch: Option<&str>, engine_args: &[&str]| -> PathBuf {
        let output = home.path().join(name);
        let from_engine = !engine_args.is_empty();
        let mut command = bin(
            home.path(),
            Some(if from_engine { &engine.host } else { NO_ENGINE }),
        );
        match epoch {
            Some(epoch) => command.env("SOURCE_DATE_EPOCH", epoch),
            None => command.env_remove("SOURCE_DATE_EPOCH"),
        };
        let folder = home.path().join(format!("{name}-catalog"));
        std::fs::create_dir_all(&folder).unwrap();
        let image = if from_engine {
            &demo
        } else {
            &pushed.reference
        };
        let catalog = write_catalog(&folder, &[("Repro", image, 9142)]);
        let source = if from_engine {
            engine_args
        } else {
            &["--from-registry"][..]
        };
        run(command
            .args(["create-install-package", "--nodes", "Repro", "--output"])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog)
            .args(source))
        .success();
        output
    };
    let epoch = Some("1767225600");
    let (a, b) = (make("a.zip", epoch, &[]), make("b.zip", epoch, &[]));
    assert_eq!(sha256_of(&a), sha256_of(&b), "from the registry");
    assert_eq!(manifest_of(&a)["created"], "2026-01-01T00:00:00Z");
    let times = Command::new("python3")
        .args(["-c", "import sys,zipfile; print(sorted({i.date_time for i in zipfile.ZipFile(sys.argv[1]).infolist()}))"])
        .arg(&a)
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&times.stdout).trim(),
        "[(2026, 1, 1, 0, 0, 0)]"
    );
    // Without SOURCE_DATE_EPOCH: the image's own creation time.
    let (c, d) = (make("c.zip", None, &[]), make("d.zip", None, &[]));
    assert_eq!(sha256_of(&c), sha256_of(&d), "from the registry, no epoch");
    let created = engine.docker_ok(&["image", "inspect", "--format", "{{.Created}}", &demo]);
    let manifest_created = manifest_of(&c)["created"].as_str().unwrap().to_owned();
    assert_eq!(manifest_created[..19], created.trim()[..19]);
    // From the engine.
    let engine_source = ["--no-pull"];
    let (e, f) = (
        make("e.zip", epoch, &engine_source),
        make("f.zip", epoch, &engine_source),
    );
    assert_eq!(sha256_of(&e), sha256_of(&f), "from the engine");
    // A signed package is the same but for its signature entry (minisign
    // signs with random noise): the same manifest, so the same package id.
    let key = home.path().join("techops.key");
    run(bin(home.path(), None)
        .args(["keygen", "--no-password", "--output"])
        .arg(&key))
    .success();
    let key = key.to_str().unwrap();
    let signed = ["--no-pull", "--sign", key];
    let (g, h) = (make("g.zip", epoch, &signed), make("h.zip", epoch, &signed));
    assert_eq!(package_id_of(&g), package_id_of(&h));
    assert_eq!(
        package_id_of(&g),
        package_id_of(&e),
        "the signature is not listed"
    );

    let bad = run(bin(home.path(), Some(NO_ENGINE))
        .env("SOURCE_DATE_EPOCH", "yesterday")
        .args([
            "create-install-package",
            "--from-registry",
            "--nodes",
            "Demo",
        ])
        .arg("--output")
        .arg(home.path().join("bad.zip")));
    assert_eq!(bad.code, 1);
    assert!(
        bad.stderr.contains("`SOURCE_DATE_EPOCH` is `yesterday`"),
        "{}",
        bad.stderr
    );
}

/// A secret planted in a credential helper's output: it must show nowhere.
const SECRET: &str = "planted-secret-4711";

/// `create --from-registry` of an image on a registry that asks for a
/// login (a stub answering 401), whose login comes from the credential
/// helper `body` (a shell script) in `<home>/helpers`.
fn create_with_helper(home: &Path, registry: &Endpoint, body: &str, extra: &[&str]) -> Run {
    let helpers = home.join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let script = helpers.join("docker-credential-planted");
    std::fs::write(&script, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir_all(home.join("docker")).unwrap();
    std::fs::write(
        home.join("docker/config.json"),
        r#"{"credsStore":"planted"}"#,
    )
    .unwrap();
    let catalog = write_catalog(
        home,
        &[("App", &format!("{}/team/app:1", registry.host()), 9142)],
    );
    let mut path = helpers.into_os_string();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    let mut command = bin(home, Some(NO_ENGINE));
    command
        .env("PATH", path)
        .env("BUDGETGUARD_TEST_HELPER_TIME_LIMIT", "1")
        .args([
            "create-install-package",
            "--from-registry",
            "--nodes",
            "App",
        ])
        .arg("--output")
        .arg(home.join("never.zip"))
        .arg("--catalog")
        .arg(catalog)
        .args(extra);
    run(&mut command)
}

/// Every file under a `logs` folder below `dir`, read whole.
fn logs_under(dir: &Path) -> String {
    let mut text = String::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return text;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            text.push_str(&logs_under(&path));
        } else if path.components().any(|c| c.as_os_str() == "logs") {
            text.push_str(&std::fs::read_to_string(&path).unwrap());
        }
    }
    text
}

fn credential_helpers_never_show_their_output_and_never_hang() {
    let registry = Endpoint::start(
        "127.0.0.1".parse().unwrap(),
        "401 Unauthorized",
        &[("WWW-Authenticate", "Basic realm=\"testkit\"")],
    );
    let home = tempfile::tempdir().unwrap();

    // Failing with the secret on stdout and stderr; with -vv, as text and
    // as JSON: named with how it failed, its output nowhere.
    let failing = format!("echo '{SECRET}'\necho 'locked: {SECRET}' >&2\nexit 3");
    for extra in [&["-vv"][..], &["-vv", "--json"][..]] {
        let failed = create_with_helper(home.path(), &registry, &failing, extra);
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        let shown = if extra.contains(&"--json") {
            failed.json()["error"].as_str().unwrap().to_owned()
        } else {
            failed.stderr.clone()
        };
        assert!(
            shown.contains(
                "the credential helper `docker-credential-planted` failed for 127.0.0.1:"
            ) && shown.contains("(it exited with status 3)"),
            "{shown}"
        );
        assert!(!failed.stdout.contains(SECRET), "{}", failed.stdout);
        assert!(!failed.stderr.contains(SECRET), "{}", failed.stderr);
    }
    // Answering invalid JSON, and a number for the secret.
    for (answer, fault) in [
        (
            format!(r#"{{"Username":"u","Secret":"{SECRET}"#),
            "(its answer is not JSON)",
        ),
        (
            r#"{"Username":"u","Secret":4711}"#.to_owned(),
            "(its answer is not the JSON object Docker expects",
        ),
    ] {
        let body = format!("printf '%s' '{answer}'");
        let failed = create_with_helper(home.path(), &registry, &body, &["-vv", "--json"]);
        assert_eq!(failed.code, 1, "{}", failed.stderr);
        let error = failed.json()["error"].as_str().unwrap().to_owned();
        assert!(error.contains(fault), "{error}");
        for output in [&failed.stdout, &failed.stderr] {
            assert!(
                !output.contains(SECRET) && !output.contains("4711"),
                "{output}"
            );
        }
    }
    let logs = logs_under(&home.path().join("data"));
    assert!(
        logs.contains("docker-credential-planted"),
        "the log has the errors: {logs}"
    );
    assert!(!logs.contains(SECRET) && !logs.contains("4711"), "{logs}");

    // Hanging (with a child of its own): stopped at its time limit (1 s
    // here), with its child, and the run ends.
    let pids = home.path().join("pids");
    let hanging = hanging_script(&pids);
    let started = std::time::Instant::now();
    let failed = create_with_helper(home.path(), &registry, &hanging, &[]);
    let took = started.elapsed();
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed
            .stderr
            .contains("(it did not answer within 1 s and was stopped)"),
        "{}",
        failed.stderr
    );
    assert!(took < std::time::Duration::from_secs(20), "{took:?}");
    wait_ended(&pids, 2, std::time::Duration::from_secs(5));
    assert!(registry.requests().len() >= 4);
}
