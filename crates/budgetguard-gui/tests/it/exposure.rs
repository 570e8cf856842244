//! The GUI publishes a node beyond this workstation only when its user
//! ticks “Publish on the network”: a package asking for 0.0.0.0, installed
//! with the defaults, listens on 127.0.0.1 (the engine's port bindings say
//! so), and the Install and Installed pages show the address.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use testkit::engines::{self, TestEngine};
use testkit::fixtures::demo_copy;

use crate::install::make_package_of;
use crate::support::{free_port, options, run, Browser, NodeCleanup, Server};

testkit::tests![a_package_asking_for_the_network_installs_on_loopback_by_default];

/// The host addresses the engine publishes `container`'s ports on.
fn bound_addresses(engine: &TestEngine, container: &str) -> String {
    engine
        .docker_ok(&[
            "inspect",
            "--format",
            "{{range $port, $bindings := .HostConfig.PortBindings}}{{range $bindings}}{{.HostIp}}{{end}}{{end}}",
            container,
        ])
        .trim()
        .to_owned()
}

fn a_package_asking_for_the_network_installs_on_loopback_by_default() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let (image, _guard) = demo_copy(&engine, "gui-exposure");
        let home = tempfile::tempdir().unwrap();
        let name = format!("GUI Exposure {}", std::process::id());
        let catalog_file = home.path().join("exposure-catalog.json");
        std::fs::write(
            &catalog_file,
            serde_json::json!({"nodes": [{
                "name": name, "image": image, "host_port": free_port(), "listen": "0.0.0.0",
                "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
            }]})
            .to_string(),
        )
        .unwrap();
        let node = Catalog::load(Some(&catalog_file), true)
            .unwrap()
            .get(&name)
            .unwrap()
            .clone();
        let package = make_package_of(
            &engine,
            vec![node.clone()],
            home.path().join("exposure.zip"),
        )
        .await;
        let container = compose::container_name(&node);
        let _cleanup = NodeCleanup {
            engine: engine.clone(),
            project: compose::project_name(&node),
        };
        let workstation = home.path().join("workstation");
        std::fs::create_dir(&workstation).unwrap();
        let server = Server::start(options(
            Catalog::builtin(),
            Some(&engine.host),
            &workstation,
        ))
        .await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        browser.click("nav a[href^='/install?']").await;
        browser
            .wait_for("the install page", Duration::from_secs(10), || {
                browser.shown("#package-path")
            })
            .await;
        browser
            .set_text("#package-path", package.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", "0.0.0.0 asked", Duration::from_secs(30))
            .await;
        assert!(browser
            .text("#inspection")
            .await
            .contains("127.0.0.1 unless “Publish on the network” is ticked"));
        browser.install_package(Duration::from_secs(300)).await;
        assert_eq!(bound_addresses(&engine, &container), "127.0.0.1");
        browser.screenshot("62-kept-on-loopback").await;

        // Ticked: published where the package asks.
        browser.click("#publish").await;
        browser.install_package(Duration::from_secs(300)).await;
        assert_eq!(bound_addresses(&engine, &container), "0.0.0.0");
        browser.click("nav a[href^='/installed']").await;
        browser
            .wait_text(
                "#installed",
                "0.0.0.0: on the network",
                Duration::from_secs(30),
            )
            .await;
        browser.quit().await;
        server.stop().await;
    })
}
