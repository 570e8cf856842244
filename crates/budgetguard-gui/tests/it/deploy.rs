//! Deploying the demo node from the browser, then the Installed page: it
//! becomes ready, shows its log, stops, refuses to start on a port another
//! program holds (in plain words), restarts, and is uninstalled.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use testkit::engines;

use crate::support::{self, free_port, options, run, Browser, NodeCleanup, Server};
use testkit::fixtures::demo_copy;

testkit::tests![deploy_the_demo_node_and_manage_it_from_the_installed_page];

fn deploy_the_demo_node_and_manage_it_from_the_installed_page() {
    run(Duration::from_secs(900), async {
        let engine = engines::require_primary();
        let (reference, _image) = demo_copy(&engine, "gui-demo");
        let home = tempfile::tempdir().unwrap();
        let name = format!("GUI Demo {}", std::process::id());
        let port = free_port();
        let catalog: Catalog = support::catalog(home.path(), &[(&name, &reference, port)]);
        let _cleanup = NodeCleanup::of(&engine, &catalog, &name);
        let node = catalog.get(&name).unwrap().clone();
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();

        browser.toggle_node(&name).await;
        assert!(browser.enabled("#deploy-button").await);
        browser.deploy_selected().await;
        let outcome = browser.text("#job-outcome").await;
        assert!(outcome.contains("Ready"), "{outcome}");
        browser.screenshot("10-deployed").await;

        browser.click("nav a[href^='/installed']").await;
        browser
            .wait_for("the node to be ready", Duration::from_secs(120), || async {
                browser.shown("#installed .state-ok").await
            })
            .await;
        let table = browser.text("#installed").await;
        assert!(table.contains(&name), "{table}");
        let endpoint = format!("http://localhost:{port}/v1/infer");
        // The endpoint is text to copy, not a link a browser tab cannot
        // open (it takes POST).
        assert_eq!(browser.text("#endpoint-1").await, endpoint);
        assert!(!browser.shown("#installed a[href*='/v1/infer']").await);
        assert!(browser
            .text("#installed .endpoint-note")
            .await
            .contains("takes POST requests"));
        assert!(table.contains(&port.to_string()), "{table}");
        assert!(table.contains("UTC"), "the install time: {table}");
        browser.screenshot("11-installed-running").await;

        // The container's log.
        browser.click("button[data-log]").await;
        browser
            .wait_text("#log-lines", "demo-nim:", Duration::from_secs(30))
            .await;
        assert!(browser.text("#log-node").await.contains(&name));
        browser.screenshot("11b-log").await;
        browser.click("#log-close").await;

        // Try it: a prompt sent to the node, its picture shown inline.
        browser.click("button[data-try]").await;
        assert!(browser.text("#try-node").await.contains(&name));
        browser
            .set_text("#try-prompt", "a red fox in the snow")
            .await;
        browser.click("#try-button").await;
        browser
            .wait_for("the Demo's picture", Duration::from_secs(60), || async {
                browser.shown("#try-image").await
            })
            .await;
        let picture = browser
            .js("const i = document.getElementById('try-image'); \
                 return [i.src.slice(0, 22), i.complete && i.naturalWidth > 0]")
            .await;
        assert_eq!(
            picture,
            serde_json::json!(["data:image/png;base64,", true]),
            "{}",
            browser.text("#try-panel").await
        );
        assert!(browser.text("#try-status").await.contains("it works"));
        browser.screenshot("11c-try-it").await;
        browser.click("#try-close").await;

        browser.click("button[data-action='stop']").await;
        browser
            .wait_for("the node to stop", Duration::from_secs(120), || async {
                browser.shown("button[data-action='start']").await
            })
            .await;
        assert_eq!(browser.text("#installed .state").await, "Stopped");
        assert_eq!(browser.text("#installed-message").await, "");
        // The deploy's card follows the node: it said Ready, it says Stopped.
        browser
            .wait_text(
                "#job-outcome [data-node-state]",
                "Stopped",
                Duration::from_secs(20),
            )
            .await;
        browser.screenshot("12-installed-stopped").await;

        // Another program on the node's port: said in plain words, not as the
        // engine's error, and nothing starts.
        let squatter = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
        browser.click("button[data-action='start']").await;
        browser
            .wait_text(
                "#installed-message",
                &format!("Port {port} is already in use by another program"),
                Duration::from_secs(60),
            )
            .await;
        assert!(browser.text("#installed-message").await.contains(&name));
        assert_eq!(browser.text("#installed .state").await, "Stopped");
        browser.screenshot("12b-port-in-use").await;
        drop(squatter);

        // Started again from the page, it becomes ready again; then a restart.
        browser.click("button[data-action='start']").await;
        browser
            .wait_for(
                "the node to be ready again",
                Duration::from_secs(120),
                // Its row as a live refresh redraws it: with its buttons.
                || async {
                    browser.shown("#installed .state-ok").await
                        && browser.shown("button[data-action='restart']").await
                },
            )
            .await;
        assert_eq!(browser.text("#installed-message").await, "");
        let container = compose::container_name(&node);
        let started_at =
            || engine.docker_ok(&["inspect", "-f", "{{.State.StartedAt}}", &container]);
        let before = started_at();
        browser.click("button[data-action='restart']").await;
        browser
            .wait_for(
                "the node to be ready after the restart",
                Duration::from_secs(120),
                || async {
                    started_at() != before
                        && browser.shown("#installed .state-ok").await
                        && browser.shown("button[data-action='restart']").await
                },
            )
            .await;

        // Uninstall, keeping the cache.
        let cache = home
            .path()
            .join("install/compose")
            .join(node.service_name())
            .join("cache");
        std::fs::write(cache.join("weights.bin"), b"model").unwrap();
        // Its log and Try it panels are open: they close once it is gone.
        browser.click("button[data-log]").await;
        browser.click("button[data-try]").await;
        assert!(browser.shown("#log-panel").await && browser.shown("#try-panel").await);
        browser.click("button[data-uninstall]").await;
        assert!(browser.text("#uninstall-node").await.contains(&name));
        assert!(!browser
            .find("#uninstall-purge")
            .await
            .is_selected()
            .await
            .unwrap());
        browser.screenshot("13-uninstall-confirm").await;
        browser.click("#uninstall-confirm").await;
        browser
            .wait_text("#job-title", "Uninstalled", Duration::from_secs(120))
            .await;
        assert!(browser
            .text("#result-uninstalled")
            .await
            .contains("the model cache is kept"));
        browser
            .wait_text(
                "#installed",
                "No node is installed here yet",
                Duration::from_secs(30),
            )
            .await;
        assert!(cache.join("weights.bin").exists(), "the cache stays");
        let gone = engine
            .docker()
            .args(["container", "inspect", &container])
            .output()
            .unwrap();
        assert!(!gone.status.success(), "the container is gone");
        browser
            .wait_for(
                "the node's panels to close",
                Duration::from_secs(30),
                || async {
                    !browser.shown("#log-panel").await && !browser.shown("#try-panel").await
                },
            )
            .await;
        browser.screenshot("14-uninstalled").await;

        // The server stops while the page still listens to its events: the
        // page says so.
        assert!(!browser.shown("#server-gone").await);
        server.stop().await;
        browser
            .wait_text(
                "#server-gone",
                "The GUI has stopped",
                Duration::from_secs(30),
            )
            .await;
        browser.screenshot("15-gui-stopped").await;
        browser.quit().await;
    });
}
