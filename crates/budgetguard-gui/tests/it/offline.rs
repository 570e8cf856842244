//! Offline-aware nodes, in Chromium: a node whose registry cannot be
//! reached says so in its row, and Create is disabled with one reason and
//! one fix while it is selected; a node whose image Docker has says so; a
//! node that can only be pulled blocks Create while "never pull" is ticked;
//! an image not yet pulled is estimated at the catalog's typical size.

use std::time::Duration;

use budgetguard::size::human;
use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};
use testkit::registry::{no_registry, PushLayer, TestRegistry};

use crate::support::{self, free_port, options, run, Browser, Server};

testkit::tests![
    create_says_why_a_node_whose_registry_is_unreachable_cannot_be_had,
    an_image_not_pulled_is_estimated_at_its_typical_size,
    never_pull_blocks_create_for_a_node_that_must_be_pulled,
];

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
            .wait_enabled("#create-button", Duration::from_secs(10))
            .await;
        browser.quit().await;
        server.stop().await;
    });
}

fn an_image_not_pulled_is_estimated_at_its_typical_size() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        // A port nothing listens on: the registry cannot say the size.
        let offline = format!("127.0.0.1:{}/budgetguard-test/typical:1", free_port());
        let home = tempfile::tempdir().unwrap();
        let mut catalog = support::catalog(home.path(), &[("GUI Typical", &offline, 9223)]);
        let typical = 3 << 30;
        let node = catalog.nodes.iter_mut().find(|n| n.name == "GUI Typical");
        node.unwrap().typical_image_size = Some(typical);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        let said = format!("about {} to download (typical)", human(typical));
        let row = "tr:has(input[value='GUI Typical'])";
        browser
            .wait_text(
                &format!("{row} .image-source"),
                "Registry unreachable",
                Duration::from_secs(30),
            )
            .await;
        browser
            .wait_text(
                &format!("{row} .image-size"),
                &said,
                Duration::from_secs(10),
            )
            .await;
        browser.toggle_node("GUI Typical").await;
        browser
            .wait_text(
                "#estimate-size",
                &format!("plus 1 image to pull: {said}"),
                Duration::from_secs(30),
            )
            .await;
        browser.screenshot("typical-size").await;
        browser.quit().await;
        server.stop().await;
    });
}

fn never_pull_blocks_create_for_a_node_that_must_be_pulled() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let pushed = registry.push_image(
            "budgetguard-test/pullable",
            "1",
            &[PushLayer::Gzip(Layer::Random(1 << 20, 81))],
        );
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(home.path(), &[("GUI Pullable", &pushed.reference, 9224)]);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        browser
            .wait_text(
                "tr:has(input[value='GUI Pullable']) .image-source",
                "Can be pulled",
                Duration::from_secs(30),
            )
            .await;
        browser.toggle_node("GUI Pullable").await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(30))
            .await;

        browser.set_checked("#no_pull", true).await;
        browser
            .wait_for("Create to be disabled", Duration::from_secs(10), || async {
                !browser.enabled("#create-button").await
            })
            .await;
        // The estimate may add its own reason a moment later: let it.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let reasons = browser.text("#create-reasons").await;
        assert_eq!(reasons.lines().count(), 1, "one reason: {reasons}");
        assert!(
            reasons.contains("“GUI Pullable” is not in Docker"),
            "{reasons}"
        );
        assert!(
            reasons.contains("untick that option, or untick GUI Pullable."),
            "one fix: {reasons}"
        );
        browser.screenshot("never-pull").await;

        browser.set_checked("#no_pull", false).await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(10))
            .await;
        browser.quit().await;
        server.stop().await;
    });
}
