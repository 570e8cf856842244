//! `install-package` and the node commands on every engine under test, with
//! the Demo node started for real and both Compose versions.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageSpec, Layer};

use crate::support::*;

testkit::tests![
    the_demo_package_installs_starts_and_uninstalls_on_every_engine,
    shared_layers_are_not_streamed_twice,
    an_upgrade_replaces_the_container_and_keeps_the_cache,
    credentials_are_stored_privately_and_never_shown_or_packaged,
    the_fallback_script_installs_the_demo_package_without_the_tool,
    a_package_made_to_start_after_install_starts_unless_told_not_to_on_the_address_asked_for,
];

/// The binary aimed at `engine`, installing into `dir`, with Compose `compose`.
fn tool(home: &Path, engine: &TestEngine, dir: &Path, compose: &str) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command
        .env("BUDGETGUARD_INSTALL_DIR", dir)
        .env("BUDGETGUARD_COMPOSE", compose);
    command
}

fn the_demo_package_installs_starts_and_uninstalls_on_every_engine() {
    let all = engines::require_available();
    let source = &all[0];
    let (demo, _copy) = demo_copy(source, "demo-test");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let package = make_package(
        source,
        home.path(),
        "demo.zip",
        &[("Demo Test", &demo, port)],
    );
    for (i, target) in all.iter().enumerate() {
        let compose = if i % 2 == 0 {
            "docker compose"
        } else {
            "docker-compose"
        };
        let dir = home.path().join(format!("install-{}", target.name));
        let _image = images::ImageGuard::new(target, vec![demo.clone()]);
        let first = run(tool(home.path(), target, &dir, compose)
            .args([
                "install-package",
                "--json",
                "--start",
                "--wait",
                "60",
                "--package",
            ])
            .arg(&package))
        .success()
        .json();
        let context = format!("{} with {compose}", target.name);
        assert_eq!(first["changed"], true, "{context}");
        assert_eq!(first["nodes"][0]["state"], "running", "{context}");
        // Compose, handed the file on its input, still names the node's
        // folder as the project's (the label that tells install folders
        // apart).
        let folder = target.docker_ok(&[
            "inspect",
            "--format",
            "{{index .Config.Labels \"com.docker.compose.project.working_dir\"}}",
            "budgetguard-demo-test",
        ]);
        assert_eq!(
            std::fs::canonicalize(folder.trim()).unwrap(),
            std::fs::canonicalize(dir.join("compose/demo-test")).unwrap(),
            "{context}"
        );
        assert_eq!(
            first["nodes"][0]["endpoint"],
            format!("http://localhost:{port}/v1/infer")
        );
        let answer = infer(port);
        assert!(
            answer.contains(r#""finishReason":"SUCCESS""#),
            "{context}: {answer}"
        );
        assert!(answer.contains("iVBORw0KGgo"), "a base64 PNG: {answer}");

        // endpoints.json is what artists' tools read.
        let endpoints: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("endpoints.json")).unwrap()).unwrap();
        assert_eq!(
            endpoints["nodes"][0]["health_url"],
            format!("http://localhost:{port}/v1/health/ready")
        );
        let compose_file = dir.join("compose/demo-test/docker-compose.yml");
        assert!(compose_file.exists());

        // By hand, as the README says: the same project name.
        let by_hand = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "{compose} -p budgetguard-demo-test -f {} ps -q",
                compose_file.display()
            ))
            .env("DOCKER_HOST", &target.host)
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&by_hand.stdout).trim().is_empty(),
            "{context}: compose ps by hand"
        );

        // Again: nothing changes, and it says so.
        let again = run(tool(home.path(), target, &dir, compose)
            .args(["install-package", "--start", "--package"])
            .arg(&package))
        .success();
        assert!(
            again.stdout.contains("Nothing changed"),
            "{context}: {}",
            again.stdout
        );
        assert!(
            again.stdout.contains("already present"),
            "{context}: {}",
            again.stdout
        );

        let status = run(tool(home.path(), target, &dir, compose).args(["status", "--json"]))
            .success()
            .json();
        assert_eq!(status[0]["health"], "ready", "{context}");
        run(tool(home.path(), target, &dir, compose).args(["stop", "Demo Test"])).success();
        let status = run(tool(home.path(), target, &dir, compose).args(["status", "--json"]))
            .success()
            .json();
        assert_eq!(status[0]["state"], "exited", "{context}");
        assert_eq!(status[0]["health"], "-", "{context}");
        run(tool(home.path(), target, &dir, compose).args(["start", "Demo Test", "--wait", "60"]))
            .success();
        infer(port);

        std::fs::write(dir.join("compose/demo-test/cache/weights.bin"), b"model").unwrap();
        run(tool(home.path(), target, &dir, compose).args(["uninstall", "Demo Test"])).success();
        assert!(!compose_file.exists(), "{context}");
        assert!(
            dir.join("compose/demo-test/cache/weights.bin").exists(),
            "the cache stays"
        );
        assert!(
            target
                .docker()
                .args(["inspect", "budgetguard-demo-test"])
                .output()
                .unwrap()
                .status
                .code()
                != Some(0)
        );
        let status = run(tool(home.path(), target, &dir, compose).args(["status", "--json"]))
            .success()
            .json();
        assert_eq!(status, serde_json::json!([]));
        let kept = target
            .docker()
            .args(["image", "inspect", &demo])
            .output()
            .unwrap()
            .status
            .success();
        // The source engine had the image before the package came: it stays.
        // Elsewhere the tool loaded it, and no node uses it any more.
        assert_eq!(
            kept,
            i == 0,
            "{context}: only an image the tool loaded is removed"
        );
    }
}

fn shared_layers_are_not_streamed_twice() {
    let all = engines::require_available();
    for engine in &all {
        let home = tempfile::tempdir().unwrap();
        let base = vec![
            Layer::Random(24 << 20, 21),
            Layer::Compressible(1 << 20, 22),
        ];
        let mut top = base.clone();
        top.push(Layer::Random(300_000, 23));
        let first = ImageSpec {
            reference: images::unique_reference("share-first"),
            layers: base,
        };
        let second = ImageSpec {
            reference: images::unique_reference("share-second"),
            layers: top,
        };
        let guard = images::load(engine, &[first.clone(), second.clone()]);
        let p1 = make_package(
            engine,
            home.path(),
            "first.zip",
            &[("Shared First", &first.reference, free_port())],
        );
        let p2 = make_package(
            engine,
            home.path(),
            "second.zip",
            &[("Shared Second", &second.reference, free_port())],
        );
        drop(guard);
        let _cleanup = images::ImageGuard::new(
            engine,
            vec![first.reference.clone(), second.reference.clone()],
        );
        let dir = home.path().join("install");
        // A Compose that notes each time it runs.
        let calls = home.path().join("compose-calls");
        let recording = home.path().join("recording-compose");
        std::fs::write(
            &recording,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec docker compose \"$@\"\n",
                calls.display()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&recording, std::fs::Permissions::from_mode(0o755)).unwrap();
        let install = |package: &Path| {
            run(tool(home.path(), engine, &dir, recording.to_str().unwrap())
                .args(["install-package", "--json", "--package"])
                .arg(package))
            .success()
            .json()
        };
        let one = install(&p1);
        assert!(
            one["loaded_bytes"].as_u64().unwrap() > 25 << 20,
            "{}: {one}",
            engine.name
        );
        let two = install(&p2);
        let streamed = two["loaded_bytes"].as_u64().unwrap();
        assert!(
            streamed < 1 << 20,
            "{}: only the top layer and the small blobs: {streamed}",
            engine.name
        );
        assert!(calls.exists(), "{}: Compose ran", engine.name);
        std::fs::remove_file(&calls).unwrap();
        let again = install(&p2);
        assert_eq!(again["loaded_bytes"], 0, "{}", engine.name);
        assert_eq!(again["changed"], false, "{}", engine.name);
        assert!(
            !calls.exists(),
            "{}: a re-install that changes nothing starts no Compose process: {:?}",
            engine.name,
            std::fs::read_to_string(&calls)
        );
        for reference in [&first.reference, &second.reference] {
            engine.docker_ok(&["image", "inspect", reference]);
        }
        run(tool(home.path(), engine, &dir, "docker compose").args(["uninstall", "--all"]))
            .success();
    }
}

fn an_upgrade_replaces_the_container_and_keeps_the_cache() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let old = ImageSpec {
        reference: images::unique_reference("upgrade-old"),
        layers: vec![Layer::Random(50_000, 31)],
    };
    let new = ImageSpec {
        reference: images::unique_reference("upgrade-new"),
        layers: vec![Layer::Random(50_000, 32)],
    };
    let guard = images::load(&engine, &[old.clone(), new.clone()]);
    let port = free_port();
    let p_old = make_package(
        &engine,
        home.path(),
        "old.zip",
        &[("Upgraded", &old.reference, port)],
    );
    let p_new = make_package(
        &engine,
        home.path(),
        "new.zip",
        &[("Upgraded", &new.reference, port)],
    );
    drop(guard);
    let _cleanup =
        images::ImageGuard::new(&engine, vec![old.reference.clone(), new.reference.clone()]);
    let dir = home.path().join("install");
    let install = |package: &Path| {
        run(tool(home.path(), &engine, &dir, "docker-compose")
            .args(["install-package", "--package"])
            .arg(package))
        .success()
    };
    install(&p_old);
    let cache = dir.join("compose/upgraded/cache/model.bin");
    std::fs::write(&cache, b"weights").unwrap();
    let container_image = || {
        engine.docker_ok(&[
            "inspect",
            "--format",
            "{{.Config.Image}}",
            "budgetguard-upgraded",
        ])
    };
    assert_eq!(container_image().trim(), old.reference);
    install(&p_new);
    assert_eq!(container_image().trim(), new.reference);
    assert_eq!(std::fs::read(&cache).unwrap(), b"weights");
    let compose = std::fs::read_to_string(dir.join("compose/upgraded/docker-compose.yml")).unwrap();
    assert!(compose.contains(&new.reference));
    run(tool(home.path(), &engine, &dir, "docker-compose").args([
        "uninstall",
        "Upgraded",
        "--purge-cache",
    ]))
    .success();
    assert!(!dir.join("compose/upgraded").exists());
}

fn credentials_are_stored_privately_and_never_shown_or_packaged() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("install");
    let secret_key = "nvapi-test-secret-123";
    let secret_token = "hf_test_secret_456";
    let out = run_with_input(
        tool(home.path(), &engine, &dir, "docker compose").args(["install-credentials", "--stdin"]),
        format!("NGC_API_KEY={secret_key}\nHF_TOKEN={secret_token}\n").as_bytes(),
    )
    .success();
    let printed = format!("{}{}", out.stdout, out.stderr);
    assert!(
        printed.contains("Stored NGC_API_KEY and HF_TOKEN"),
        "{printed}"
    );
    assert!(!printed.contains(secret_key) && !printed.contains(secret_token));
    let file = dir.join("credentials.env");
    assert_eq!(
        std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
        0o600
    );

    // A package made with the key in the environment and on disk holds neither.
    let spec = ImageSpec {
        reference: images::unique_reference("secretless"),
        layers: vec![Layer::Random(10_000, 41)],
    };
    let _guard = images::load(&engine, std::slice::from_ref(&spec));
    let catalog = write_catalog(home.path(), &[("Secretless", &spec.reference, free_port())]);
    let package = home.path().join("p.zip");
    run(tool(home.path(), &engine, &dir, "docker compose")
        .env("NGC_API_KEY", secret_key)
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Secretless",
            "--compression",
            "none",
            "--output",
        ])
        .arg(&package)
        .arg("--catalog")
        .arg(&catalog))
    .success();
    let bytes = std::fs::read(&package).unwrap();
    for secret in [secret_key, secret_token] {
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "{secret} is in the package"
        );
    }
    let status = run(tool(home.path(), &engine, &dir, "docker compose").args(["status"])).success();
    assert!(!status.stdout.contains(secret_key));
}

fn the_fallback_script_installs_the_demo_package_without_the_tool() {
    let engine = engines::require_primary();
    let (demo, _copy) = demo_copy(&engine, "demo-script");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let package = make_package(
        &engine,
        home.path(),
        "demo.zip",
        &[("Demo Script", &demo, port)],
    );
    let unzipped = home.path().join("unzipped");
    let out = Command::new("unzip")
        .arg("-q")
        .arg(&package)
        .arg("-d")
        .arg(&unzipped)
        .output()
        .unwrap();
    assert!(out.status.success());
    let script = |dir: &Path, args: &[&str]| {
        Command::new("sh")
            .arg("install/install.sh")
            .args(args)
            .current_dir(&unzipped)
            .env("DOCKER_HOST", &engine.host)
            .env("BUDGETGUARD_INSTALL_DIR", dir)
            .output()
            .unwrap()
    };
    let dir = home.path().join("install");
    let out = script(&dir, &["--start"]);
    let compose_file = dir.join("compose/demo-script/docker-compose.yml");
    let down = || {
        let _ = Command::new("docker")
            .args(["compose", "-p", "budgetguard-demo-script", "-f"])
            .arg(&compose_file)
            .arg("down")
            .env("DOCKER_HOST", &engine.host)
            .output();
    };
    if !out.status.success() {
        down();
        panic!(
            "install.sh failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut ready = false;
    for _ in 0..30 {
        let status = Command::new("curl")
            .args(["-s", "-o", "/dev/null", "-w", "%{http_code}"])
            .arg(format!("http://127.0.0.1:{port}/v1/health/ready"))
            .output()
            .unwrap();
        if String::from_utf8_lossy(&status.stdout) == "200" {
            ready = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    let answer = if ready { infer(port) } else { String::new() };
    down();
    assert!(ready, "the node did not become ready");
    assert!(answer.contains("SUCCESS"), "{answer}");

    // A link planted in the install folder stops the script before anything
    // changes; nothing is written, chmod-ed or chown-ed through it.
    for planted in [
        "compose",
        "compose/demo-script",
        "compose/demo-script/cache",
    ] {
        let dir = home
            .path()
            .join(format!("linked-{}", planted.replace('/', "-")));
        let outside = tempfile::tempdir().unwrap();
        let link = dir.join(planted);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let mode = std::fs::metadata(outside.path()).unwrap().permissions();
        let out = script(&dir, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{planted}: {stderr}");
        assert!(
            stderr.contains(&format!(
                "{} is a symbolic link; nothing was changed",
                link.display()
            )),
            "{planted}: {stderr}"
        );
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "{planted}"
        );
        assert_eq!(
            std::fs::metadata(outside.path()).unwrap().permissions(),
            mode
        );
    }

    // A tampered file stops the script before anything loads.
    let readme = unzipped.join("README.txt");
    std::fs::write(&readme, "changed").unwrap();
    let out = script(&dir, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("the package is damaged"));
}

fn a_package_made_to_start_after_install_starts_unless_told_not_to_on_the_address_asked_for() {
    let engine = &engines::require_available()[0];
    let (demo, _copy) = demo_copy(engine, "demo-autostart");
    let home = tempfile::tempdir().unwrap();
    let port = free_port();
    let catalog = write_catalog(home.path(), &[("Autostart", &demo, port)]);
    let package = home.path().join("autostart.zip");
    run(bin(home.path(), Some(&engine.host))
        .args([
            "create-install-package",
            "--no-pull",
            "--start-after-install",
            "--nodes",
            "Autostart",
            "--catalog",
        ])
        .arg(&catalog)
        .arg("--output")
        .arg(&package))
    .success();
    assert_eq!(manifest_of(&package)["start_after_install"], true);
    let inspected = run(bin(home.path(), None)
        .args(["inspect-package", "--package"])
        .arg(&package))
    .success();
    assert!(
        inspected
            .stdout
            .contains("nodes start (unless `install-package --no-start`)"),
        "{}",
        inspected.stdout
    );

    let dir = home.path().join("install");
    let install = |extra: &[&str]| {
        run(tool(home.path(), engine, &dir, "docker compose")
            .args(["install-package", "--json", "--wait", "60", "--package"])
            .arg(&package)
            .args(extra))
        .success()
        .json()
    };
    let uninstall = || {
        run(tool(home.path(), engine, &dir, "docker compose").args(["uninstall", "Autostart"]))
            .success();
    };
    let inspect = |format: &str| {
        let out = engine
            .docker()
            .args(["inspect", "-f", format, "budgetguard-autostart"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let listens = |address: &str| {
        let status =
            run(tool(home.path(), engine, &dir, "docker compose").args(["status", "--json"]))
                .success()
                .json();
        assert_eq!(status[0]["listen"], address);
        let endpoints: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("endpoints.json")).unwrap()).unwrap();
        assert_eq!(endpoints["nodes"][0]["listen"], address);
        let bindings = inspect("{{json .HostConfig.PortBindings}}");
        assert!(
            bindings.contains(&format!("\"HostIp\":\"{address}\"")),
            "{bindings}"
        );
    };
    // No option: as the package says, published on loopback only.
    let started = install(&[]);
    assert_eq!(started["started"], true);
    assert_eq!(started["nodes"][0]["state"], "running");
    assert!(infer(port).contains(r#""finishReason":"SUCCESS""#));
    listens("127.0.0.1");
    uninstall();

    // --no-start overrides the package; --listen serves the studio network.
    let stopped = install(&["--no-start", "--listen", "0.0.0.0"]);
    assert_eq!(stopped["started"], false);
    assert_eq!(stopped["nodes"][0]["state"], "created");
    assert_eq!(inspect("{{.State.Status}}"), "created");
    listens("0.0.0.0");
    uninstall();
}
