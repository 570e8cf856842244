//! The Installed page: over plain HTTP, a run of the install folder that
//! did not finish (its journal left by a kill) is said above the nodes, as
//! `status` says it (no engine needed); in Chromium, with a Demo node
//! deployed, the page fits 800 px without sideways scrolling, in light and
//! dark mode.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use testkit::engines;
use testkit::fixtures::demo_copy;

use crate::support::{self, free_port, options, run, Browser, NodeCleanup, Server, SIDEWAYS};

testkit::tests![
    an_unfinished_run_is_shown_on_the_installed_page,
    the_installed_page_fits_800_px_in_light_and_dark_mode
];

fn an_unfinished_run_is_shown_on_the_installed_page() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let table = server.get("/api/installed").await;
        assert_eq!(table.status, 200, "{}", table.body);
        assert!(!table.body.contains("has not finished"), "{}", table.body);

        let dir = home.path().join("install");
        std::fs::create_dir_all(&dir).unwrap();
        let journal = serde_json::json!({
            "command": "install-package", "pid": 4242,
            "started_at": "2026-12-06T10:00:00Z",
            "engine": "unix:///nonexistent/docker.sock", "committed": false, "steps": [],
        });
        std::fs::write(dir.join("journal.json"), journal.to_string()).unwrap();
        for path in ["/api/installed", "/installed"] {
            let page = server.get(path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(
                page.body.contains("id=\"unfinished-run\"")
                    && page
                        .body
                        .contains("run of 2026-12-06T10:00:00Z (process 4242) has not finished")
                    && page.body.contains("takes it back"),
                "{path}: {}",
                page.body
            );
        }
        server.stop().await;
    });
}

fn the_installed_page_fits_800_px_in_light_and_dark_mode() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let (reference, _image) = demo_copy(&engine, "gui-narrow");
        let home = tempfile::tempdir().unwrap();
        // A long name, as people give them.
        let name = format!("GUI Narrow Demo Node {}", std::process::id());
        let catalog = support::catalog(home.path(), &[(&name, &reference, free_port())]);
        let _cleanup = NodeCleanup::of(&engine, &catalog, &name);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        browser.toggle_node(&name).await;
        browser.deploy_selected().await;
        browser.quit().await;

        for dark in [false, true] {
            let browser = Browser::start_in(dark).await;
            browser.resize(800, 900).await;
            browser.driver.goto(&server.url).await.unwrap();
            browser.click("nav a[href^='/installed']").await;
            browser
                .wait_for("the node to be ready", Duration::from_secs(120), || async {
                    browser.shown("#installed .state-ok").await
                })
                .await;
            assert_eq!(browser.js(SIDEWAYS).await, serde_json::json!(false));
            // The port and address fold under the name.
            assert!(!browser.shown("#installed th.wide-only").await);
            let meta = browser.text("#installed tbody th .node-meta").await;
            assert!(
                meta.contains("port ") && meta.contains("127.0.0.1"),
                "{meta}"
            );
            // Every action of the row is on screen, none cut off.
            let cut = browser
                .js(
                    "return [...document.querySelectorAll('#installed button')] \
                     .filter((b) => b.offsetParent) \
                     .some((b) => b.getBoundingClientRect().right > window.innerWidth)",
                )
                .await;
            assert_eq!(cut, serde_json::json!(false));
            browser
                .screenshot(if dark {
                    "installed-800-dark"
                } else {
                    "installed-800-light"
                })
                .await;
            browser.quit().await;
        }
        server.stop().await;
    });
}
