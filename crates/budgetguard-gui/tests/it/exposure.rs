//! The GUI publishes a node beyond this workstation only when its user
//! ticks “Publish on the network”: a package asking for 0.0.0.0, installed
//! with the defaults, listens on 127.0.0.1 (the engine's port bindings say
//! so), and the Install and Installed pages show the address.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use testkit::engines::{self, TestEngine};
use testkit::fixtures::demo_copy;

use crate::install::package_of_node;
use crate::support::{free_port, options, run, Browser, Server};

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
        let (node, package, _cleanup) = package_of_node(
            &engine,
            home.path(),
            serde_json::json!({
                "name": name, "image": image, "host_port": free_port(), "listen": "0.0.0.0",
                "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
            }),
            "exposure.zip",
        )
        .await;
        let container = compose::container_name(&node);
        let workstation = home.path().join("workstation");
        std::fs::create_dir(&workstation).unwrap();
        let server = Server::start(options(
            Catalog::builtin(),
            Some(&engine.host),
            &workstation,
        ))
        .await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
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
