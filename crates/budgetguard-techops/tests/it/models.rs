//! Offline nodes: the Demo's model cache filled on the TechOps side through
//! the image's own `download-to-cache` from a model server on loopback (or
//! given with `--model-cache`), carried in the package, written on the
//! workstation, and served with the model server gone and no credentials.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use testkit::engines::{self, TestEngine};
use testkit::images::ImageGuard;
use testkit::model_server::ModelServer;
use testkit::proxy::CuttingProxy;

use crate::install_errors::{
    assert_untouched, engine_state, error_text, flip_byte, package_traces,
};
use crate::repack::Repack;
use crate::support::*;

testkit::tests![
    an_interrupted_fill_resumes_where_it_stopped,
    the_demo_starts_offline_from_packaged_models_on_every_engine,
    an_update_package_leaves_out_the_model_files_its_base_holds,
    nodes_of_one_cache_share_it_and_a_stopped_install_resumes,
    damaged_or_hostile_models_are_refused_and_change_nothing,
    caches_the_reader_would_refuse_are_refused_at_create_and_a_relative_cache_is_a_folder,
    the_preflight_says_when_the_models_do_not_fit_the_gpu,
    an_engine_that_hangs_during_a_fill_gives_a_clear_error_and_leaves_no_container,
];

/// The bearer token the test model server wants, as NGC would.
const TOKEN: &str = "nvapi-test-model-token";

/// A catalog of Demo nodes of `image` with the Demo's model section (cache
/// `cache`); `(name, port, variant)` each.
pub(crate) fn model_catalog(
    dir: &Path,
    image: &str,
    cache: &str,
    nodes: &[(&str, u16, &str)],
) -> PathBuf {
    let nodes: Vec<_> = nodes
        .iter()
        .map(|(name, port, variant)| {
            serde_json::json!({
                "name": name, "image": image, "host_port": port, "variant": variant,
                "cache_mount": "/opt/nim/.cache",
                "credentials": ["NGC_API_KEY"],
                "model": {
                    "cache": cache,
                    "fill": ["download-to-cache", "--profiles", "{profiles}"],
                    "fill_all": ["download-to-cache", "--all"],
                    "list": ["list-model-profiles"],
                    "profiles": ["demo-base-cpu"],
                    "credentials": ["NGC_API_KEY"],
                    "pass_env": ["DEMO_NIM_MODEL_SERVER"],
                }
            })
        })
        .collect();
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::json!({ "nodes": nodes }).to_string()).unwrap();
    path
}

/// The tool on the TechOps side, with the model server and its token.
pub(crate) fn techops(home: &Path, engine: &TestEngine, server: &ModelServer) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command
        .env("NGC_API_KEY", TOKEN)
        .env("DEMO_NIM_MODEL_SERVER", server.url());
    command
}

pub(crate) fn create(
    command: &mut Command,
    catalog: &Path,
    nodes: &str,
    output: &Path,
    extra: &[&str],
) -> Run {
    run(command
        .args([
            "create-install-package",
            "--json",
            "--no-pull",
            "--nodes",
            nodes,
            "--output",
        ])
        .arg(output)
        .arg("--catalog")
        .arg(catalog)
        .args(extra))
}

/// `POST /v1/infer` answers with an image.
pub(crate) fn answers(port: u16) -> bool {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-H", "Content-Type: application/json"])
        .args(["-d", r#"{"prompt":"a fox","seed":3}"#])
        .arg(format!("http://127.0.0.1:{port}/v1/infer"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).contains(r#""finishReason":"SUCCESS""#)
}

/// Every path below `dir` with its size and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (u64, i64, i64)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            found.insert(path, (meta.len(), meta.mtime(), meta.mtime_nsec()));
        }
    }
    found
}

/// `install-package --json --start` of `package` into `dir` on `engine`,
/// which must succeed; its report.
fn install_started(
    home: &Path,
    engine: &TestEngine,
    dir: &Path,
    package: &Path,
) -> serde_json::Value {
    run(installer(home, engine, dir)
        .args(["install-package", "--json", "--start", "--wait", "120"])
        .arg("--package")
        .arg(package))
    .success()
    .json()
}

pub(crate) fn installer(home: &Path, engine: &TestEngine, dir: &Path) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .env_remove("DEMO_NIM_MODEL_SERVER");
    command
}

/// The fill containers of `image` (a test's own copy of the Demo image),
/// so that tests running at once do not see each other's.
fn fill_containers(engine: &TestEngine, image: &str) -> Vec<String> {
    engine
        .docker_ok(&[
            "ps",
            "-a",
            "--filter",
            "label=com.budgetguard.job=fill",
            "--format",
            "{{.Names}} {{.Image}}",
        ])
        .lines()
        .filter(|line| line.ends_with(&format!(" {image}")))
        .map(str::to_owned)
        .collect()
}

/// Flips the first byte of the largest model file below `dir` in place and
/// sets its modification time back; that file and its original bytes.
fn rewrite_keeping_mtime(dir: &Path) -> (PathBuf, Vec<u8>) {
    let largest = snapshot(dir)
        .into_iter()
        .filter(|(path, _)| std::fs::symlink_metadata(path).unwrap().is_file())
        .max_by_key(|(_, (size, _, _))| *size)
        .map(|(path, _)| path)
        .expect("a model file");
    let original = std::fs::read(&largest).unwrap();
    let modified = std::fs::metadata(&largest).unwrap().modified().unwrap();
    let mut changed = original.clone();
    changed[0] ^= 0xff;
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&largest)
        .unwrap();
    std::io::Write::write_all(&mut &file, &changed).unwrap();
    file.set_modified(modified).unwrap();
    drop(file);
    assert_eq!(
        std::fs::metadata(&largest).unwrap().modified().unwrap(),
        modified
    );
    (largest, original)
}

/// What a model test on the primary engine starts from: the engine, a
/// copy of the Demo image (and its guard), a home folder, a model server of
/// `bytes` of model files that wants the test token, and a cache name of
/// this run.
pub(crate) fn model_fixture(
    name: &str,
    bytes: u64,
) -> (
    TestEngine,
    String,
    ImageGuard,
    tempfile::TempDir,
    ModelServer,
    String,
) {
    let engine = engines::require_primary();
    let (demo, copy) = demo_copy(&engine, name);
    let server = ModelServer::demo(bytes);
    server.set_token(Some(TOKEN));
    let cache = format!("demo-{name}-{}", std::process::id());
    (
        engine,
        demo,
        copy,
        tempfile::tempdir().unwrap(),
        server,
        cache,
    )
}

fn the_demo_starts_offline_from_packaged_models_on_every_engine() {
    let all = engines::require_available();
    let source = &all[0];
    let (demo, _copy) = demo_copy(source, "offline");
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::demo(6 << 20);
    server.set_token(Some(TOKEN));
    let cache = format!("demo-offline-{}", std::process::id());
    let port = free_port();
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Offline Demo", port, "base")],
    );

    // Filled through the image's own tool, through the engine.
    let filled = home.path().join("filled.zip");
    let report = create(
        &mut techops(home.path(), source, &server),
        &catalog,
        "Offline Demo",
        &filled,
        &[],
    )
    .success()
    .json();
    let manifest = &report["manifest"];
    assert_eq!(manifest["format_version"], 2);
    assert_eq!(manifest["caches"][0]["name"], cache.as_str());
    assert_eq!(manifest["caches"][0]["profiles"][0]["id"], "demo-base-cpu");
    assert_eq!(manifest["nodes"][0]["model_cache"], cache.as_str());
    let files = server.files("demo-base-cpu").len() as u64;
    assert_eq!(
        server.total_file_requests(),
        files,
        "each file downloaded once"
    );
    real_zip_readers_accept(&filled);
    let compose = std::process::Command::new("unzip")
        .args(["-p"])
        .arg(&filled)
        .arg("compose/offline-demo/docker-compose.yml")
        .output()
        .unwrap();
    let compose = String::from_utf8_lossy(&compose.stdout);
    assert!(!compose.contains("credentials.env"), "{compose}");
    assert!(
        compose.contains(&format!("../../models/{cache}:/opt/nim/.cache")),
        "{compose}"
    );

    // A second package reuses the cache: nothing is downloaded again.
    let again = home.path().join("again.zip");
    create(
        &mut techops(home.path(), source, &server),
        &catalog,
        "Offline Demo",
        &again,
        &[],
    )
    .success();
    assert_eq!(
        server.total_file_requests(),
        files,
        "nothing downloaded twice"
    );

    // A cache given as it is, never changed.
    let store = home
        .path()
        .join("data/budgetguard-techops/model-cache")
        .join(&cache);
    let before = snapshot(&store);
    let given = home.path().join("given.zip");
    let arg = format!("--model-cache={}", store.display());
    create(
        &mut techops(home.path(), source, &server),
        &catalog,
        "Offline Demo",
        &given,
        &[&arg],
    )
    .success();
    assert_eq!(snapshot(&store), before, "the given cache is untouched");
    assert_eq!(
        manifest_of(&given)["caches"][0]["profiles"][0]["id"],
        "demo-base-cpu",
        "the listing says which profile the given cache holds"
    );
    // Without models.
    let bare = home.path().join("bare.zip");
    create(
        &mut techops(home.path(), source, &server),
        &catalog,
        "Offline Demo",
        &bare,
        &["--no-models"],
    )
    .success();
    assert_eq!(manifest_of(&bare)["format_version"], 1);
    drop(server);

    // The workstation: the model server is gone, no credentials installed.
    for (i, target) in all.iter().enumerate() {
        let _image = ImageGuard::new(target, vec![demo.clone()]);
        let package = if i % 2 == 0 { &filled } else { &given };
        let dir = home.path().join(format!("install-{}", target.name));
        let first = install_started(home.path(), target, &dir, package);
        assert!(
            first["models"]["written"].as_u64().unwrap() >= files,
            "{}",
            target.name
        );
        assert!(answers(port), "{}: the Demo answers offline", target.name);
        let cache_dir = dir.join("models").join(&cache);
        let meta = std::fs::metadata(&cache_dir).unwrap();
        assert_eq!(meta.mode() & 0o002, 0, "not world-writable");
        assert_eq!(meta.uid(), 1000, "the container's user owns the cache");

        // Again: every file is in place, nothing is written.
        let second = run(installer(home.path(), target, &dir)
            .args(["install-package", "--json", "--package"])
            .arg(package))
        .success()
        .json();
        assert_eq!(second["models"]["written"], 0, "{}", target.name);
        assert_eq!(second["changed"], false, "{}", target.name);
        // A file rewritten in place, its modification time set back (as a
        // container of the cache's user could): found, and written again.
        let (tampered, original) = rewrite_keeping_mtime(&cache_dir);
        let third = run(installer(home.path(), target, &dir)
            .args(["install-package", "--json", "--package"])
            .arg(package))
        .success()
        .json();
        assert_eq!(third["models"]["written"], 1, "{}", target.name);
        assert_eq!(
            std::fs::read(&tampered).unwrap(),
            original,
            "{}",
            target.name
        );
        run(installer(home.path(), target, &dir).args(["uninstall", "--all", "--purge-cache"]))
            .success();
        assert!(!cache_dir.exists(), "{}: purged", target.name);
    }

    // Without the tool: unzip, then the fallback script writes the models.
    let target = &all[0];
    let _image = ImageGuard::new(target, vec![demo.clone()]);
    let unzipped = home.path().join("unzipped");
    let out = Command::new("unzip")
        .arg("-q")
        .arg(&filled)
        .arg("-d")
        .arg(&unzipped)
        .output()
        .unwrap();
    assert!(out.status.success());
    // A model cache folder planted as a link: refused before any change.
    let linked = home.path().join("install-linked");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(linked.join("models")).unwrap();
    std::os::unix::fs::symlink(outside.path(), linked.join("models").join(&cache)).unwrap();
    let out = Command::new("sh")
        .args(["install/install.sh", "--start"])
        .current_dir(&unzipped)
        .env("BUDGETGUARD_INSTALL_DIR", &linked)
        .env("DOCKER_HOST", &target.host)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("is a symbolic link; nothing was changed"),
        "{stderr}"
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());
    assert!(!linked.join("compose").exists(), "nothing installed");

    let dir = home.path().join("install-script");
    let out = Command::new("sh")
        .args(["install/install.sh", "--start"])
        .current_dir(&unzipped)
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .env("DOCKER_HOST", &target.host)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let ready = (0..60).any(|_| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        answers(port)
    });
    let compose_file = dir.join("compose/offline-demo/docker-compose.yml");
    let down = Command::new("docker")
        .args(["compose", "-p", "budgetguard-offline-demo", "-f"])
        .arg(&compose_file)
        .arg("down")
        .env("DOCKER_HOST", &target.host)
        .output()
        .unwrap();
    assert!(ready, "the Demo installed by install.sh answers offline");
    assert!(down.status.success());
    let mode = std::fs::metadata(dir.join("models").join(&cache))
        .unwrap()
        .mode();
    assert_eq!(mode & 0o002, 0, "install.sh leaves nothing world-writable");

    // Without the models (credentials installed, as such a node needs
    // them), the Demo never becomes ready: its model server is gone.
    let target = &all[0];
    let _image = ImageGuard::new(target, vec![demo.clone()]);
    let dir = home.path().join("install-bare");
    let mut credentials = installer(home.path(), target, &dir);
    credentials
        .args(["install-credentials", "--stdin"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null());
    let mut child = credentials.spawn().unwrap();
    use std::io::Write as _;
    writeln!(child.stdin.take().unwrap(), "NGC_API_KEY={TOKEN}").unwrap();
    assert!(child.wait().unwrap().success());
    let bare_run = run(installer(home.path(), target, &dir)
        .args(["install-package", "--start", "--wait", "8", "--package"])
        .arg(&bare));
    assert_eq!(bare_run.code, 1, "{}", bare_run.stderr);
    assert!(
        bare_run.stderr.contains("did not answer ready"),
        "{}",
        bare_run.stderr
    );
    run(installer(home.path(), target, &dir).args(["uninstall", "--all"])).success();
}

fn an_update_package_leaves_out_the_model_files_its_base_holds() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("models-update", 2 << 20);
    let port = free_port();
    let catalog = model_catalog(home.path(), &demo, &cache, &[("Update Demo", port, "base")]);
    let make = |catalog: &Path, output: &Path, extra: &[&str]| {
        let mut tool = techops(home.path(), &engine, &server);
        create(&mut tool, catalog, "Update Demo", output, extra).success()
    };
    let old = home.path().join("old.zip");
    make(&catalog, &old, &[]);
    // The same image and model files, in a cache of another name.
    let next = home.path().join("next");
    std::fs::create_dir(&next).unwrap();
    let renamed = format!("{cache}-next");
    let catalog = model_catalog(&next, &demo, &renamed, &[("Update Demo", port, "base")]);
    let update = home.path().join("update.zip");
    let report = make(&catalog, &update, &[&format!("--since={}", old.display())]).json();
    drop(server);
    let files = report["manifest"]["caches"][0]["files"]
        .as_array()
        .unwrap()
        .len();
    let base = &report["manifest"]["base"];
    assert_eq!(base["model_files"].as_array().unwrap().len(), files);
    assert!(
        !base["blobs"].as_array().unwrap().is_empty(),
        "the same image"
    );
    let size = std::fs::metadata(&update).unwrap().len();
    assert!(size < 100 << 10, "only documents: {size} bytes");

    // Where the base's models are not, nothing changes.
    let dir = home.path().join("install");
    let refused = run(installer(home.path(), &engine, &dir)
        .args(["install-package", "--package"])
        .arg(&update));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("needs its base package `old.zip`")
            && refused.stderr.contains("lacks the model file"),
        "{}",
        refused.stderr
    );
    assert!(!dir.join("endpoints.json").exists());
    assert!(!dir.join("models").join(&renamed).exists());

    // With the base installed, its files are copied into the new cache.
    run(installer(home.path(), &engine, &dir)
        .args(["install-package", "--package"])
        .arg(&old))
    .success();
    let installed = install_started(home.path(), &engine, &dir, &update);
    assert_eq!(installed["models"]["written"], files);
    assert!(answers(port), "the Demo answers from the copied cache");
    run(installer(home.path(), &engine, &dir).args(["uninstall", "--all", "--purge-cache"]))
        .success();
}

fn nodes_of_one_cache_share_it_and_a_stopped_install_resumes() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("shared", 400 << 20);
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[
            ("Shared Base", free_port(), "base"),
            ("Shared Canny", free_port(), "canny"),
        ],
    );
    let package = home.path().join("shared.zip");
    let report = create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Shared Base,Shared Canny",
        &package,
        &["--profile", "demo-base-cpu", "--profile", "demo-base-fp8"],
    )
    .success()
    .json();
    let caches = report["manifest"]["caches"].as_array().unwrap();
    assert_eq!(caches.len(), 1, "one cache for both nodes");
    // The text encoder both profiles use is stored once.
    let shared = &server.files("demo-base-cpu")[1];
    let entries = entry_names(&package);
    assert_eq!(
        entries
            .iter()
            .filter(|n| n.ends_with(&shared.sha256))
            .count(),
        1
    );
    drop(server);

    // Models that do not fit the install folder's disk: refused before any
    // change, the engine and the folder as they were.
    let small = Tmpfs::mount("64m");
    let cramped = small.dir.path().join("install");
    let before = engine_state(&engine);
    let refused = run(installer(home.path(), &engine, &cramped)
        .args(["install-package", "--package"])
        .arg(&package));
    let error = error_text(&refused);
    assert!(error.contains("the models need about"), "{error}");
    assert_untouched(&engine, &before, &package_traces(&package), "small disk");
    assert!(!cramped.exists(), "nothing written: {error}");
    drop(small);

    // Ctrl-C once the first model file is staged (its log line written),
    // then again: it completes, keeping what was written.
    let dir = home.path().join("install");
    let log = dir.join("models/.staging").join(format!("{cache}.files"));
    let mut child = installer(home.path(), &engine, &dir)
        .args(["install-package", "--package"])
        .arg(&package)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::fs::metadata(&log).map_or(0, |m| m.len()) == 0 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            panic!("it ended first: {}", String::from_utf8_lossy(&out.stderr));
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "no model file was written"
        );
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let rest = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{rest}");
    assert!(rest.contains("interrupted"), "{rest}");
    let resumed = run(installer(home.path(), &engine, &dir)
        .args(["install-package", "--json", "--package"])
        .arg(&package))
    .success()
    .json();
    assert!(
        resumed["models"]["present"].as_u64().unwrap() > 0,
        "files written before Ctrl-C are kept: {resumed}"
    );
    let endpoints: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("endpoints.json")).unwrap()).unwrap();
    for node in endpoints["nodes"].as_array().unwrap() {
        assert_eq!(node["offline"], true);
        let compose = std::fs::read_to_string(node["compose_file"].as_str().unwrap()).unwrap();
        assert!(
            compose.contains(&format!("../../models/{cache}")),
            "{compose}"
        );
        assert!(!compose.contains("credentials.env"), "{compose}");
    }
    assert_eq!(
        files_in(&dir.join("models")),
        [cache.clone(), format!("{cache}.files")]
    );
    run(installer(home.path(), &engine, &dir).args(["uninstall", "Shared Base", "--purge-cache"]))
        .success();
    assert!(
        dir.join("models").join(&cache).exists(),
        "Canny still uses it"
    );
    run(installer(home.path(), &engine, &dir).args(["uninstall", "--all", "--purge-cache"]))
        .success();
    assert!(!dir.join("models").join(&cache).exists());
}

fn damaged_or_hostile_models_are_refused_and_change_nothing() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("hostile-models", 2 << 20);
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Hostile", free_port(), "base")],
    );
    let good = home.path().join("good.zip");
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Hostile",
        &good,
        &[],
    )
    .success();

    let mut corpus: Vec<(PathBuf, &str)> = Vec::new();
    // A flipped byte in the largest model file, nothing re-hashed.
    let repack = Repack::open(&good);
    let (name, data) = repack
        .entries
        .iter()
        .filter(|(n, _)| n.starts_with("models/blobs/"))
        .max_by_key(|(_, d)| d.len())
        .unwrap();
    let flipped = home.path().join("flipped.zip");
    flip_byte(&good, &flipped, name, data.len() as u64 / 2);
    // verify-package reads every model file: it finds that one.
    let verified = run(bin(home.path(), None)
        .args(["verify-package", "--package"])
        .arg(&flipped));
    let error = error_text(&verified);
    assert!(
        error.contains(name.as_str()) && error.contains("does not match its"),
        "{error}"
    );
    run(bin(home.path(), None)
        .args(["verify-package", "--package"])
        .arg(&good))
    .success();
    corpus.push((flipped, "does not match its"));
    // A link that leaves the cache, consistent otherwise.
    let mut escape = Repack::open(&good);
    escape.manifest["caches"][0]["links"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!({"path": "evil", "target": "../../../../../etc/shadow"}));
    let escaping = home.path().join("escape.zip");
    escape.write(&escaping);
    corpus.push((escaping, "has a link that points outside the cache"));
    // A lying size.
    let mut lying = Repack::open(&good);
    let size = lying.manifest["caches"][0]["files"][0]["size"]
        .as_u64()
        .unwrap();
    lying.manifest["caches"][0]["files"][0]["size"] = serde_json::json!(size + 1);
    let lying_path = home.path().join("lying.zip");
    lying.write(&lying_path);
    corpus.push((lying_path, "whose content is missing or of another size"));
    // A file under the name an install writes another file to first: a
    // second file `a` would overwrite it, then rename it away.
    let mut working = Repack::open(&good);
    let files = working.manifest["caches"][0]["files"]
        .as_array_mut()
        .unwrap();
    let mut partner = files[0].clone();
    let first = partner["path"].as_str().unwrap().to_owned();
    partner["path"] = format!("{first}.budgetguard-partial").into();
    files.push(partner);
    let working_path = home.path().join("working.zip");
    working.write(&working_path);
    corpus.push((
        working_path,
        "a name used only for files still being written",
    ));

    let before = engine_state(&engine);
    let traces = package_traces(&good);
    for (package, expected) in &corpus {
        let dir = home.path().join("install");
        let result = run(installer(home.path(), &engine, &dir)
            .args(["install-package", "--package"])
            .arg(package));
        let error = error_text(&result);
        assert!(error.contains(expected), "{}: {error}", package.display());
        assert!(
            !dir.exists(),
            "{}: the install folder was touched",
            package.display()
        );
        assert_untouched(&engine, &before, &traces, &package.display().to_string());
    }

    // A model cache folder planted as a link in the install folder is found
    // by the preflight, before any model file is written.
    let planted = home.path().join("install-planted");
    let outside = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(planted.join("models")).unwrap();
    std::os::unix::fs::symlink(outside.path(), planted.join("models").join(&cache)).unwrap();
    let result = run(installer(home.path(), &engine, &planted)
        .args(["install-package", "--package"])
        .arg(&good));
    let error = error_text(&result);
    assert!(error.contains("is a symbolic link"), "{error}");
    assert!(
        error.starts_with("error: nothing was changed, because:"),
        "{error}"
    );
    assert!(
        !result.stderr.contains("Writing models"),
        "{}",
        result.stderr
    );
    assert!(std::fs::read_dir(outside.path()).unwrap().next().is_none());

    // On the TechOps side, a cache with a link out, or a FIFO, is refused.
    let store = home
        .path()
        .join("data/budgetguard-techops/model-cache")
        .join(&cache);
    for (what, plant) in [
        (
            "link",
            Box::new(|p: &Path| std::os::unix::fs::symlink("/etc/passwd", p).unwrap())
                as Box<dyn Fn(&Path)>,
        ),
        (
            "fifo",
            Box::new(|p: &Path| {
                assert!(Command::new("mkfifo").arg(p).status().unwrap().success());
            }),
        ),
    ] {
        let given = home.path().join(format!("given-{what}"));
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&store)
            .arg(&given)
            .status()
            .unwrap();
        assert!(copied.success());
        plant(&given.join("planted"));
        let out = home.path().join(format!("{what}.zip"));
        let arg = format!("--model-cache={}", given.display());
        let result = create(
            &mut techops(home.path(), &engine, &server),
            &catalog,
            "Hostile",
            &out,
            &[&arg],
        );
        assert_eq!(result.code, 1, "{what}: {}", result.stderr);
        let expected = if what == "link" {
            "is a link with an absolute target"
        } else {
            "is a device, FIFO or socket"
        };
        assert!(
            result.stderr.contains(expected),
            "{what}: {}",
            result.stderr
        );
        assert!(!out.exists());
    }
}

fn caches_the_reader_would_refuse_are_refused_at_create_and_a_relative_cache_is_a_folder() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("unfit-names", 1 << 20);
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Unfit", free_port(), "base")],
    );
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Unfit",
        &home.path().join("good.zip"),
        &[],
    )
    .success();
    let store = home
        .path()
        .join("data/budgetguard-techops/model-cache")
        .join(&cache);
    let copy = |name: &str| {
        let given = home.path().join(name);
        let copied = Command::new("cp")
            .arg("-a")
            .arg(&store)
            .arg(&given)
            .status()
            .unwrap();
        assert!(copied.success());
        given
    };
    // A cache given by a relative path is the working directory's folder,
    // not a volume of that name.
    let folder = format!("relative-{cache}");
    copy(&folder);
    let relative = home.path().join("relative.zip");
    let made = create(
        techops(home.path(), &engine, &server).current_dir(home.path()),
        &catalog,
        "Unfit",
        &relative,
        &[&format!("--model-cache={folder}")],
    );
    let volumes = engine.docker_ok(&["volume", "ls", "-q"]);
    if volumes.lines().any(|v| v == folder) {
        engine.docker_ok(&["volume", "rm", &folder]);
        panic!("the engine was given `{folder}` as a volume name");
    }
    made.success();
    let inspected = run(bin(home.path(), None)
        .args(["inspect-package", "--json", "--package"])
        .arg(&relative))
    .success();
    let report: serde_json::Value = serde_json::from_str(&inspected.stdout).unwrap();
    let files = &report["manifest"]["caches"][0]["files"];
    assert!(files.as_array().is_some_and(|f| !f.is_empty()), "{report}");

    let outside = home.path().join("outside-secret");
    std::fs::write(&outside, b"a file the cache's owner cannot read").unwrap();
    let deep = vec!["d"; 64].join("/");
    let plants: [(&str, String, &str); 6] = [
        (
            "backslash",
            "back\\slash".into(),
            "has a name a package cannot hold",
        ),
        (
            "colon",
            "c:drive".into(),
            "has a name a package cannot hold",
        ),
        (
            "bidi",
            "rlo\u{202e}txt.exe".into(),
            "has a name a package cannot hold",
        ),
        (
            "zero-width",
            "zero\u{200b}width".into(),
            "has a name a package cannot hold",
        ),
        (
            "deep",
            format!("{deep}/f"),
            "is nested deeper or named longer than a package holds",
        ),
        (
            "hard-link",
            "linked".into(),
            "is a file with a hard link outside the cache",
        ),
    ];
    for (what, name, expected) in plants {
        let given = copy(&format!("given-{what}"));
        let planted = given.join(&name);
        std::fs::create_dir_all(planted.parent().unwrap()).unwrap();
        if what == "hard-link" {
            std::fs::hard_link(&outside, &planted).unwrap();
        } else {
            std::fs::write(&planted, b"x").unwrap();
        }
        let out = home.path().join(format!("{what}.zip"));
        let arg = format!("--model-cache={}", given.display());
        let result = create(
            &mut techops(home.path(), &engine, &server),
            &catalog,
            "Unfit",
            &out,
            &[&arg],
        );
        let error = error_text(&result);
        assert!(error.contains(expected), "{what}: {error}");
        assert!(error.contains(&format!("given-{what}/")), "{what}: {error}");
        assert!(
            !error.chars().any(|c| c == '\u{202e}' || c == '\u{200b}'),
            "{what}: {error}"
        );
        assert!(!out.exists(), "{what}: the package was written");
    }
}

/// The GPU the probe container sees (granted by a proxy, its `nvidia-smi`
/// the Demo's stand-in) is compared with the packaged profiles; the
/// workstation's own `PATH` has no `nvidia-smi`, as in WSL2.
fn the_preflight_says_when_the_models_do_not_fit_the_gpu() {
    let (engine, _demo, _copy, home, server, cache) = model_fixture("gpu-fit", 1 << 20);
    let (gpu_image, _gpu_copy) = gpu_demo_copy(&engine, "gpu-fit-smi");
    let catalog = model_catalog(
        home.path(),
        &gpu_image,
        &cache,
        &[("Gpu Fit", free_port(), "base")],
    );
    let mut edited: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&catalog).unwrap()).unwrap();
    edited["nodes"][0]["gpu"] = serde_json::json!(true);
    std::fs::write(&catalog, edited.to_string()).unwrap();
    let package = home.path().join("gpu.zip");
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Gpu Fit",
        &package,
        &["--profile", "demo-base-fp4"],
    )
    .success();
    let proxy = testkit::gpu_proxy::GpuProxy::start(engine.socket());
    let dir = home.path().join("install");
    let result = run(installer(home.path(), &engine, &dir)
        .env("DOCKER_HOST", proxy.host())
        .args(["install-package", "--package"])
        .arg(&package))
    .success();
    assert!(
        result
            .stderr
            .contains("hold profiles for NVIDIA GeForce RTX 5090")
            && result
                .stderr
                .contains(&format!("this workstation has {DEMO_GPU}")),
        "{}",
        result.stderr
    );
    run(installer(home.path(), &engine, &dir).args(["uninstall", "--all", "--purge-cache"]))
        .success();
}

fn an_interrupted_fill_resumes_where_it_stopped() {
    let engine = engines::require_primary();
    let (demo, _copy) = demo_copy(&engine, "fill-resume");
    let home = tempfile::tempdir().unwrap();
    let server = ModelServer::demo(64 << 20);
    server.set_token(Some(TOKEN));
    // Slow enough to be stopped in the middle of a file.
    server.set_throttle(Some(8 << 20));
    let cache = format!("demo-resume-{}", std::process::id());
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Resume", free_port(), "base")],
    );
    let output = home.path().join("resume.zip");
    // Ctrl-C once a file is partly downloaded into the cache.
    let store = home
        .path()
        .join("data/budgetguard-techops/model-cache")
        .join(&cache);
    let blobs = store.join("huggingface/hub/models--budgetguard--demo-flux/blobs");
    let child = techops(home.path(), &engine, &server)
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Resume",
            "--output",
        ])
        .arg(&output)
        .arg("--catalog")
        .arg(&catalog)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    let partly = || {
        std::fs::read_dir(&blobs).is_ok_and(|entries| {
            entries.flatten().any(|e| {
                // A big file's first MiB (not the small index file's,
                // which completes at once).
                e.file_name().to_string_lossy().ends_with(".incomplete")
                    && e.metadata().is_ok_and(|m| m.len() >= 1 << 20)
            })
        })
    };
    while !partly() {
        assert!(started.elapsed().as_secs() < 120, "no download started");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let rest = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{rest}");
    assert!(!output.exists());
    let partial = server.bytes_served();
    assert!(partial > 0, "something was downloaded before Ctrl-C");
    let left = fill_containers(&engine, &demo);
    assert!(left.is_empty(), "the fill container is gone: {left:?}");
    // Nothing goes on downloading once the create is interrupted.
    std::thread::sleep(std::time::Duration::from_secs(1));
    assert!(partly(), "the partial download stays partial");
    server.set_throttle(None);
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Resume",
        &output,
        &[],
    )
    .success();
    let total: u64 = server.files("demo-base-cpu").iter().map(|f| f.size).sum();
    assert!(
        !server.range_requests().is_empty(),
        "the second run resumed with a Range request"
    );
    assert!(
        server.bytes_served() < total + partial / 2,
        "served {} for {total} bytes of files: little was downloaded twice",
        server.bytes_served()
    );
}

/// An engine that hangs while a fill runs (here it stops answering lookups
/// of the fill's container, whose slow download goes on) ends the create
/// with the engine's message within a minute or so, not when the download
/// ends; the fill's container is removed and no package is written.
fn an_engine_that_hangs_during_a_fill_gives_a_clear_error_and_leaves_no_container() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("hung-fill", 6 << 20);
    let Some(socket) = engine.host.strip_prefix("unix://") else {
        engines::skip("the engine is not on a unix socket");
    };
    // Six minutes of download.
    server.set_throttle(Some(16 << 10));
    let proxy = CuttingProxy::hang_requests(Path::new(socket), |line| {
        line.starts_with("GET ")
            && line.contains("/containers/budgetguard-fill-")
            && line.contains("/json")
    });
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Hung Fill", free_port(), "base")],
    );
    let output = home.path().join("out").join("hung.zip");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    let mut command = bin(home.path(), Some(&proxy.host()));
    command
        .env("NGC_API_KEY", TOKEN)
        .env("DEMO_NIM_MODEL_SERVER", server.url())
        .env("BUDGETGUARD_IDLE_TIMEOUT", "5");
    let started = std::time::Instant::now();
    let error = error_text(&create(&mut command, &catalog, "Hung Fill", &output, &[]));
    let took = started.elapsed();
    assert!(
        error.contains(
            "the Docker engine stopped answering while inspect container `budgetguard-fill-"
        ) && error.contains("(nothing for 30 s); check it with `docker info`"),
        "{error}"
    );
    assert!(took < std::time::Duration::from_secs(120), "{took:?}");
    assert!(
        server.bytes_served() < 6 << 20,
        "the download was still going"
    );
    assert!(files_in(output.parent().unwrap()).is_empty());
    let left = fill_containers(&engine, &demo);
    assert!(left.is_empty(), "the fill container is gone: {left:?}");
}
