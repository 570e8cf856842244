//! Pulling with credentials, against a real registry on loopback (Debian's
//! `docker-registry` with htpasswd auth).

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::*;

testkit::tests![
    images_are_pulled_with_the_users_docker_credentials,
    an_unreachable_registry_is_named_with_the_way_out,
    pulled_images_package_on_every_engine,
];

/// A registry on a free loopback port; stopped when dropped.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// A registry on loopback with one user; skips the test where
    /// `docker-registry` is not installed.
    fn start(user: &str, password: &str) -> Self {
        let found = Command::new("which")
            .arg("docker-registry")
            .output()
            .is_ok_and(|o| o.status.success());
        if !found {
            engines::skip("docker-registry is not installed (.ci/deps.sh)");
        }
        let dir = tempfile::tempdir().unwrap();
        let htpasswd = dir.path().join("htpasswd");
        let out = Command::new("htpasswd")
            .args(["-Bbc"])
            .arg(&htpasswd)
            .args([user, password])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "htpasswd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                dir.path().join("data").display(),
                htpasswd.display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not start"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Self {
            child,
            port,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `docker login` into a config folder of its own.
fn login(engine: &engines::TestEngine, config: &Path, port: u16, user: &str, password: &str) {
    let out = engine
        .docker()
        .arg("--config")
        .arg(config)
        .args([
            "login",
            "-u",
            user,
            "--password-stdin",
            &format!("127.0.0.1:{port}"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child.stdin.take().unwrap().write_all(password.as_bytes())?;
            child.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "docker login: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Pushes a new synthetic image of `layers` to the registry from `engine`
/// (logged in through `docker_config`) and removes it locally; returns its
/// registry reference and a guard that removes it again after the test.
fn push_image(
    engine: &engines::TestEngine,
    registry: &Registry,
    docker_config: &Path,
    name: &str,
    layers: Vec<Layer>,
) -> (String, images::ImageGuard) {
    let local = ImageSpec {
        reference: images::unique_reference(name),
        layers,
    };
    let guard = images::load(engine, std::slice::from_ref(&local));
    let remote = format!(
        "127.0.0.1:{}/{}",
        registry.port,
        local.reference.trim_start_matches("budgetguard-test/")
    );
    let remote_guard = images::ImageGuard::new(engine, vec![remote.clone()]);
    engine.docker_ok(&["tag", &local.reference, &remote]);
    let out = engine
        .docker()
        .arg("--config")
        .arg(docker_config)
        .args(["push", &remote])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "push on {}: {}",
        engine.name,
        String::from_utf8_lossy(&out.stderr)
    );
    engine.docker_ok(&["rmi", &remote]);
    drop(guard);
    (remote, remote_guard)
}

fn images_are_pulled_with_the_users_docker_credentials() {
    let engine = engines::require_primary();
    let registry = Registry::start("techops", "s3cret");
    let home = tempfile::tempdir().unwrap();
    let docker_config = home.path().join("docker");
    login(&engine, &docker_config, registry.port, "techops", "s3cret");

    let (remote, _remote_guard) = push_image(
        &engine,
        &registry,
        &docker_config,
        "pushed",
        vec![Layer::Random(2 << 20, 12)],
    );

    let catalog = write_catalog(home.path(), &[("Pulled", &remote, 9130)]);
    let output = home.path().join("pulled.zip");
    let create = |home: &Path| {
        let mut command = bin(home, Some(&engine.host));
        command
            .args(["create-install-package", "--nodes", "Pulled", "--output"])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog);
        command
    };

    // Wrong credentials: the registry's 401 becomes advice.
    let wrong = tempfile::tempdir().unwrap();
    std::fs::create_dir(wrong.path().join("docker")).unwrap();
    std::fs::write(
        wrong.path().join("docker/config.json"),
        format!(
            r#"{{"auths":{{"127.0.0.1:{}":{{"auth":"dGVjaG9wczp3cm9uZw=="}}}}}}"#,
            registry.port
        ),
    )
    .unwrap();
    let failed = run(&mut create(wrong.path()));
    assert_eq!(failed.code, 1, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("refused the credentials (401)"),
        "{}",
        failed.stderr
    );
    assert!(
        failed.stderr.contains("docker login 127.0.0.1:"),
        "{}",
        failed.stderr
    );
    assert!(!output.exists());

    // A tag the registry lacks: the engine's 404 is named as such.
    let absent = format!("{remote}-absent");
    let absent_catalog = write_catalog(wrong.path(), &[("Absent", &absent, 9133)]);
    let missing = run(bin(home.path(), Some(&engine.host))
        .args(["create-install-package", "--nodes", "Absent", "--output"])
        .arg(&output)
        .arg("--catalog")
        .arg(&absent_catalog));
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(
        missing.stderr.contains(&format!(
            "error: pulling `{absent}`: 127.0.0.1:{} has no such repository or tag (404)",
            registry.port
        )),
        "{}",
        missing.stderr
    );
    assert!(!output.exists());

    // The user's `docker login`: pulled, then packaged.
    let run = run(&mut create(home.path())).success();
    assert!(
        run.stderr.contains(&format!("Pulling {remote}")),
        "{}",
        run.stderr
    );
    real_zip_readers_accept(&output);
}

fn an_unreachable_registry_is_named_with_the_way_out() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    // `.invalid` never resolves (RFC 2606), here or anywhere.
    let catalog = write_catalog(home.path(), &[("Far", "registry.invalid/nim/far:1", 9131)]);
    let run = run(bin(home.path(), Some(&engine.host))
        .args(["create-install-package", "--nodes", "Far", "--output"])
        .arg(home.path().join("far.zip"))
        .arg("--catalog")
        .arg(&catalog));
    assert_eq!(run.code, 1);
    assert!(
        run.stderr.contains("Pulling registry.invalid/nim/far:1"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("error: pulling `registry.invalid/nim/far:1`: cannot reach registry.invalid"),
        "{}",
        run.stderr
    );
    assert!(
        run.hints() == ["pull the image while the network is there, then pass `--no-pull`"],
        "{}",
        run.stderr
    );
    assert_eq!(left_in(home.path()), ["catalog.json"]);
}

/// A pulled image keeps its layers compressed in the containerd store, and
/// `docker save` exports them so: the package keeps them so there, named by
/// their digest with the config's diff IDs, and holds the classic store's
/// uncompressed layers named by their diff IDs.
fn pulled_images_package_on_every_engine() {
    let all = engines::require_available();
    let registry = Registry::start("techops", "s3cret");
    // Pushed once from the classic store, which compresses on push (the
    // containerd store pushes the blobs it holds, here uncompressed).
    let pusher = tempfile::tempdir().unwrap();
    let pusher_config = pusher.path().join("docker");
    login(&all[0], &pusher_config, registry.port, "techops", "s3cret");
    let (remote, _pushed) = push_image(
        &all[0],
        &registry,
        &pusher_config,
        "compressed",
        vec![Layer::Compressible(3 << 20, 91), Layer::Random(200_000, 92)],
    );
    for engine in &all {
        let home = tempfile::tempdir().unwrap();
        let docker_config = home.path().join("docker");
        login(engine, &docker_config, registry.port, "techops", "s3cret");
        let _remote_guard = images::ImageGuard::new(engine, vec![remote.clone()]);
        let pulled = engine
            .docker()
            .arg("--config")
            .arg(&docker_config)
            .args(["pull", &remote])
            .output()
            .unwrap();
        assert!(
            pulled.status.success(),
            "pull on {}: {}",
            engine.name,
            String::from_utf8_lossy(&pulled.stderr)
        );

        let catalog = write_catalog(home.path(), &[("Pulled", &remote, 9132)]);
        let output = home.path().join("pulled.zip");
        run(bin(home.path(), Some(&engine.host))
            .args([
                "create-install-package",
                "--no-pull",
                "--nodes",
                "Pulled",
                "--output",
            ])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog))
        .success();
        run(bin(home.path(), None)
            .args(["verify-package", "--package"])
            .arg(&output))
        .success();
        let manifest = manifest_of(&output);
        let image = &manifest["images"][0];
        let layers: Vec<&serde_json::Value> = image["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| &l["digest"])
            .collect();
        let engine_layers: serde_json::Value = serde_json::from_str(&engine.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            &remote,
        ]))
        .unwrap();
        let first_size = image["layers"][0]["size"].as_u64().unwrap();
        if engine.containerd_store() {
            assert_eq!(image["diff_ids"], engine_layers, "on {}", engine.name);
            assert_ne!(
                serde_json::json!(layers),
                engine_layers,
                "on {}",
                engine.name
            );
            assert_eq!(
                image["layers"][0]["media_type"], "application/vnd.oci.image.layer.v1.tar+gzip",
                "on {}",
                engine.name
            );
            assert!(
                first_size < 1 << 20,
                "on {}: stored compressed, {first_size} bytes",
                engine.name
            );
        } else {
            assert_eq!(
                serde_json::json!(layers),
                engine_layers,
                "on {}",
                engine.name
            );
            assert_eq!(
                first_size,
                (3 << 20) + 1536,
                "on {}: stored uncompressed",
                engine.name
            );
        }
    }
}
