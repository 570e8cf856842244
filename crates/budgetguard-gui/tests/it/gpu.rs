//! The workstation's side says in plain words what the GPU probe found: an
//! engine that grants the GPU (a proxy before the real engine, as Docker
//! Desktop or the toolkit's hook would, with no `nvidia` runtime listed),
//! and the real engine here, which refuses it.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use testkit::engines;
use testkit::fixtures::{gpu_demo_copy, DEMO_GPU};
use testkit::gpu_proxy::GpuProxy;

use crate::install::package_of_node;
use crate::support::{free_port, options, run, Browser, Server};

testkit::tests![the_install_result_says_what_the_gpu_probe_found];

fn the_install_result_says_what_the_gpu_probe_found() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let (image, _guard) = gpu_demo_copy(&engine, "gui-gpu");
        let home = tempfile::tempdir().unwrap();
        let name = format!("GUI GPU {}", std::process::id());
        let (_node, package, _cleanup) = package_of_node(
            &engine,
            home.path(),
            serde_json::json!({
                "name": name, "image": image, "host_port": free_port(), "gpu": true,
                "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
            }),
            "gpu.zip",
        )
        .await;
        let body = serde_json::json!({ "path": package, "start": "stop" }).to_string();
        let workstation = home.path().join("workstation");
        std::fs::create_dir(&workstation).unwrap();

        // Granted: installed, and the result names the GPU the probe saw.
        let proxy = GpuProxy::start(engine.socket());
        let host = proxy.host();
        let server = Server::start(options(Catalog::builtin(), Some(&host), &workstation)).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        assert_eq!(server.post("/api/install", &body).await.status, 202);
        browser
            .wait_text("#job-title", "Package installed", Duration::from_secs(300))
            .await;
        let gpu = browser.text("#result-gpu").await;
        assert_eq!(
            gpu,
            format!("Ready: Docker ran a GPU test container, which saw {DEMO_GPU} (through the NVIDIA driver).")
        );
        browser.screenshot("60-gpu-ready").await;
        browser.quit().await;
        server.stop().await;

        // The real engine refuses the GPU: starting is refused in plain words.
        let server = Server::start(options(
            Catalog::builtin(),
            Some(&engine.host),
            &workstation,
        ))
        .await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        let body = serde_json::json!({ "path": package, "start": "start" }).to_string();
        assert_eq!(server.post("/api/install", &body).await.status, 202);
        browser
            .wait_text("#job-title", "Install failed", Duration::from_secs(120))
            .await;
        let refusal = browser.text("#result-error").await;
        assert!(
            refusal.contains(&format!("Node “{name}” needs an NVIDIA GPU, but Docker could not run a GPU container on this workstation (it said: could not select device driver")),
            "{refusal}"
        );
        assert!(
            refusal.contains("To fix it, install the NVIDIA Container Toolkit"),
            "{refusal}"
        );
        browser.screenshot("61-gpu-refused").await;
        browser.quit().await;
        server.stop().await;
    })
}
