//! GPU readiness judged by the engine's answer to a probe container, not by
//! the runtimes `docker info` lists. No GPU is reachable here, so engines
//! that answer as real ones do stand in: a proxy that grants the GPU device
//! requests a real engine refuses (Docker Desktop, the toolkit's hook), one
//! that grants only CDI requests, one that hangs on the probe, and the real
//! engines themselves, which refuse the GPU with their own words.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::engines::{self, TestEngine};
use testkit::gpu_proxy::GpuProxy;
use testkit::images::{self, ImageSpec, Layer};
use testkit::proxy::CuttingProxy;

use crate::install_errors::{assert_untouched, engine_state, error_text, install, package_traces};
use crate::support::*;

testkit::tests![
    a_gpu_the_engine_grants_installs_without_an_nvidia_runtime,
    a_cdi_gpu_is_asked_for_as_a_cdi_device,
    a_gpu_the_engine_refuses_is_refused_before_any_change_on_every_engine,
    a_probe_the_engine_never_answers_is_bounded_and_removed,
    a_deploy_asks_the_engine_as_an_install_does,
];

/// Packages one GPU node `name` of `image` on `port` (serving without a
/// model) from `engine`.
fn gpu_package(engine: &TestEngine, home: &Path, name: &str, image: &str, port: u16) -> PathBuf {
    package_one(
        engine,
        home,
        serde_json::json!({
            "name": name, "image": image, "host_port": port, "gpu": true,
            "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
        }),
    )
}

/// The probe containers of `image` on `engine` (none may be left), once
/// those of other tests' runs have gone: a run whose nodes' images are not
/// in the engine yet probes with a stand-in image, which may be this
/// test's for a moment. A probe this test's runs left stays, and is
/// returned after a minute (longer than any probe's bound).
fn probes_of(engine: &TestEngine, image: &str) -> String {
    let list = || {
        engine.docker_ok(&[
            "ps",
            "-a",
            "--filter",
            "label=com.budgetguard.job=gpu-probe",
            "--filter",
            &format!("ancestor={image}"),
            "--format",
            "{{.Names}}",
        ])
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let probes = list();
        if probes.is_empty() || Instant::now() > deadline {
            return probes;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The tool with the install folder `dir`, talking to `host`.
fn tool(home: &Path, host: &str, dir: &Path) -> std::process::Command {
    let mut command = bin(home, Some(host));
    command.env("BUDGETGUARD_INSTALL_DIR", dir);
    command
}

fn a_gpu_the_engine_grants_installs_without_an_nvidia_runtime() {
    let engine = engines::require_primary();
    let runtimes = engine.docker_ok(&["info", "--format", "{{json .Runtimes}}"]);
    assert!(
        !runtimes.contains("nvidia"),
        "the engine lists no nvidia runtime: {runtimes}"
    );
    let home = tempfile::tempdir().unwrap();
    let (image, guard) = gpu_demo_copy(&engine, "gpu-granted");
    let port = free_port();
    let package = gpu_package(&engine, home.path(), "GPU Granted", &image, port);
    // A fresh workstation: the node's image comes with the package, so the
    // probe runs once it is loaded.
    drop(guard);
    let _cleanup = images::ImageGuard::new(&engine, vec![image.clone()]);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-gpu-granted");
    let proxy = GpuProxy::start(engine.socket());
    let dir = home.path().join("install");

    let report = run(tool(home.path(), &proxy.host(), &dir)
        .args(["install-package", "--start", "--json", "--package"])
        .arg(&package))
    .success()
    .json();
    assert_eq!(
        report["gpu"],
        serde_json::json!({"state": "ready", "request": "nvidia", "gpus": [DEMO_GPU]}),
        "{report}"
    );
    assert_eq!(report["nodes"][0]["state"], "running", "{report}");
    let granted = proxy.granted();
    let nvidia = serde_json::json!({"Driver": "nvidia", "Count": 1, "Capabilities": [["gpu"]]});
    let asked = |wanted: &serde_json::Value| {
        granted
            .iter()
            .filter(|g| wanted.as_object().unwrap().iter().all(|(k, v)| &g[k] == v))
            .count()
    };
    assert!(
        asked(&nvidia) >= 2,
        "the probe and the node asked for the GPU: {granted:?}"
    );
    assert_eq!(probes_of(&engine, &image), "", "no probe container is left");
    let text = run(tool(home.path(), &proxy.host(), &dir)
        .args(["install-package", "--package"])
        .arg(&package))
    .success();
    assert!(
        text.stdout.contains(&format!(
            "GPU ready: a test container saw {DEMO_GPU}, through the `nvidia` device driver"
        )),
        "{}",
        text.stdout
    );
    run(tool(home.path(), &engine.host, &dir).args(["uninstall", "--all"])).success();
}

fn a_cdi_gpu_is_asked_for_as_a_cdi_device() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _guard) = gpu_demo_copy(&engine, "gpu-cdi");
    let port = free_port();
    let package = gpu_package(&engine, home.path(), "GPU CDI", &image, port);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-gpu-cdi");
    let proxy = GpuProxy::cdi(engine.socket());
    let dir = home.path().join("install");
    for compose in ["docker-compose", "docker compose"] {
        let report = run(tool(home.path(), &proxy.host(), &dir)
            .env("BUDGETGUARD_COMPOSE", compose)
            .args(["install-package", "--start", "--json", "--package"])
            .arg(&package))
        .success()
        .json();
        assert_eq!(report["gpu"]["request"], "cdi", "{compose}: {report}");
        assert_eq!(
            report["nodes"][0]["state"], "running",
            "{compose}: {report}"
        );
        let file = std::fs::read_to_string(dir.join("compose/gpu-cdi/docker-compose.yml")).unwrap();
        assert!(
            file.contains("driver: cdi")
                && file.contains("nvidia.com/gpu=all")
                && !file.contains("count"),
            "{compose}: {file}"
        );
        let from_compose = proxy
            .granted()
            .iter()
            .filter(|g| {
                g["Driver"] == "cdi" && g["DeviceIDs"] == serde_json::json!(["nvidia.com/gpu=all"])
            })
            .count();
        assert!(
            from_compose >= 2,
            "{compose}: the probe and the node: {:?}",
            proxy.granted()
        );
        run(tool(home.path(), &engine.host, &dir)
            .env("BUDGETGUARD_COMPOSE", compose)
            .args(["uninstall", "--all"]))
        .success();
    }
    assert_eq!(probes_of(&engine, &image), "");
}

fn a_gpu_the_engine_refuses_is_refused_before_any_change_on_every_engine() {
    for engine in &engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let spec = ImageSpec {
            reference: images::unique_reference("gpu-refused"),
            layers: vec![Layer::Random(20_000, 64)],
        };
        let _guard = images::load(engine, std::slice::from_ref(&spec));
        let package = gpu_package(
            engine,
            home.path(),
            "GPU Refused",
            &spec.reference,
            free_port(),
        );
        let _leftovers = NodeLeftovers::new(engine, "budgetguard-gpu-refused");
        let before = engine_state(engine);
        let dir = home.path().join("install");
        let context = &engine.name;

        let refused = install(home.path(), &engine.host, &dir, &package, &["--start"]);
        let error = error_text(&refused);
        for expected in [
            "node `GPU Refused` needs an NVIDIA GPU, but the Docker engine does not run a GPU container here (could not select device driver",
            "install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker",
        ] {
            assert!(error.contains(expected), "{context}: expected `{expected}` in {error}");
        }
        assert_untouched(engine, &before, &package_traces(&package), context);
        assert!(!dir.exists(), "{context}");
        assert_eq!(probes_of(engine, &spec.reference), "", "{context}");

        // Left stopped, the nodes install with a warning, and `start` runs
        // the same probe first.
        let stopped = install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
        assert!(
            stopped.stderr.contains("will not start until then")
                && stopped.stderr.contains("could not select device driver"),
            "{context}: {}",
            stopped.stderr
        );
        assert!(
            stopped
                .stdout
                .contains("GPU not ready: a test container did not run"),
            "{context}: {}",
            stopped.stdout
        );
        let start = run(tool(home.path(), &engine.host, &dir).args(["start", "--all"]));
        let error = error_text(&start);
        assert!(
            error.contains(
                "needs an NVIDIA GPU, but the Docker engine does not run a GPU container here"
            ),
            "{context}: {error}"
        );
        run(tool(home.path(), &engine.host, &dir).args(["uninstall", "--all"])).success();
        assert_eq!(probes_of(engine, &spec.reference), "", "{context}");
    }
}

fn a_probe_the_engine_never_answers_is_bounded_and_removed() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("gpu-hang"),
        layers: vec![Layer::Random(20_000, 65)],
    };
    let _guard = images::load(&engine, std::slice::from_ref(&spec));
    let package = gpu_package(
        &engine,
        home.path(),
        "GPU Hang",
        &spec.reference,
        free_port(),
    );
    let before = engine_state(&engine);
    let proxy = CuttingProxy::hang_requests(engine.socket(), |line| {
        line.contains("/containers/budgetguard-gpu-probe-") && line.contains("/start")
    });
    let dir = home.path().join("install");
    let started = Instant::now();
    let hung = run(tool(home.path(), &proxy.host(), &dir)
        .env("BUDGETGUARD_GPU_PROBE_TIMEOUT", "3")
        .args(["install-package", "--start", "--package"])
        .arg(&package));
    let error = error_text(&hung);
    assert!(
        error.contains("node `GPU Hang` needs an NVIDIA GPU, and checking it failed: the Docker engine stopped answering while running the `gpu-probe` container"),
        "{error}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "bounded: {:?}",
        started.elapsed()
    );
    assert_untouched(&engine, &before, &package_traces(&package), "hung probe");
    assert!(!dir.exists());
    assert_eq!(
        probes_of(&engine, &spec.reference),
        "",
        "the probe container is removed"
    );
}

fn a_deploy_asks_the_engine_as_an_install_does() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _guard) = gpu_demo_copy(&engine, "gpu-deploy");
    let catalog = home.path().join("catalog.json");
    std::fs::write(
        &catalog,
        serde_json::json!({"nodes": [{
            "name": "GPU Deploy", "image": image, "host_port": free_port(), "gpu": true,
            "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
        }]})
        .to_string(),
    )
    .unwrap();
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-gpu-deploy");
    let dir = home.path().join("install");
    let deploy = |host: &str| {
        run(tool(home.path(), host, &dir)
            .args([
                "deploy-local",
                "--start",
                "--no-pull",
                "--nodes",
                "GPU Deploy",
                "--catalog",
            ])
            .arg(&catalog))
    };

    let refused = deploy(&engine.host);
    let error = error_text(&refused);
    assert!(
        error.contains("node `GPU Deploy` needs an NVIDIA GPU, but the Docker engine does not run a GPU container here (could not select device driver"),
        "{error}"
    );
    assert!(!dir.join("endpoints.json").exists());

    let proxy = GpuProxy::start(engine.socket());
    let deployed = deploy(&proxy.host()).success();
    assert!(
        deployed
            .stdout
            .contains(&format!("GPU ready: a test container saw {DEMO_GPU}")),
        "{}",
        deployed.stdout
    );
    assert_eq!(probes_of(&engine, &image), "");
    run(tool(home.path(), &engine.host, &dir).args(["uninstall", "--all"])).success();
}
