//! Offline-aware nodes, in Chromium: a node whose registry cannot be
//! reached says so in its row, and Create is disabled with one reason and
//! one fix while it is selected; a node whose image Docker has says so.

use std::time::Duration;

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, free_port, options, run, Browser, Server};

testkit::tests![create_says_why_a_node_whose_registry_is_unreachable_cannot_be_had];

fn create_says_why_a_node_whose_registry_is_unreachable_cannot_be_had() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-offline"),
            layers: vec![Layer::Random(1 << 20, 3)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        // A port nothing listens on: the registry refuses connections.
        let offline = format!("127.0.0.1:{}/budgetguard-test/offline:1", free_port());
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(
            home.path(),
            &[
                ("GUI Here", &spec.reference, 9221),
                ("GUI Offline", &offline, 9222),
            ],
        );
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        let row = |name: &str| format!("tr:has(input[value='{name}']) .image-source");
        browser
            .wait_text(
                &row("GUI Offline"),
                "Registry unreachable",
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(browser.text(&row("GUI Here")).await, "In Docker");

        browser.toggle_node("GUI Here").await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(30))
            .await;
        browser.toggle_node("GUI Offline").await;
        browser
            .wait_for("Create to be disabled", Duration::from_secs(10), || async {
                !browser.enabled("#create-button").await
            })
            .await;
        let reasons = browser.text("#create-reasons").await;
        assert!(
            reasons.contains("“GUI Offline”: its registry 127.0.0.1:"),
            "{reasons}"
        );
        assert!(
            reasons.contains("cannot be reached from this machine"),
            "{reasons}"
        );
        assert!(
            reasons.trim_end().ends_with("or untick GUI Offline."),
            "{reasons}"
        );
        assert_eq!(reasons.lines().count(), 1, "one reason: {reasons}");
        browser.screenshot("offline-node").await;
        browser.toggle_node("GUI Offline").await;
        browser
            .wait_for(
                "Create to be enabled again",
                Duration::from_secs(10),
                || async { browser.enabled("#create-button").await },
            )
            .await;
        browser.quit().await;
        server.stop().await;
    });
}
