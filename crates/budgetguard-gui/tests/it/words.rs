//! Words for people and a layout that fits, in Chromium with no engine: a
//! package cut short is said in plain words (no ZIP terms, no backticks),
//! rarely used Create options are folded under "More options", and at
//! 800 px the Nodes table fits without sideways scrolling, in light and
//! dark mode.

use std::time::Duration;

use budgetguard::catalog::Catalog;

use crate::support::{options, run, Browser, Server, SIDEWAYS};

/// A path with backticks in its name, as a user may type it.
const BACKTICKED: &str = "/tmp/`draft` packages/`v2`.zip";

testkit::tests![
    a_cut_short_package_is_said_in_plain_words,
    backticks_in_a_fields_value_stay_as_typed,
    the_nodes_page_fits_800_px_in_light_and_dark_mode
];

fn a_cut_short_package_is_said_in_plain_words() {
    run(Duration::from_secs(300), async {
        let home = tempfile::tempdir().unwrap();
        // The first kilobytes of a ZIP: what a copy interrupted early leaves.
        let cut = home.path().join("cut short.zip");
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(std::iter::repeat_n(7u8, 4096));
        std::fs::write(&cut, bytes).unwrap();
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        browser
            .set_text("#package-path", cut.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text(
                "#package-path-error",
                "not a complete install package",
                Duration::from_secs(20),
            )
            .await;
        let said = browser.text("#package-path-error").await;
        assert_eq!(
            said,
            format!(
                "“{}” is not a complete install package: it may have been cut short while copying. Copy it again from the original, or ask TechOps for a new package.",
                cut.display()
            )
        );
        // No page shows the command line's backticks.
        for page in ["/", "/install", "/installed"] {
            browser
                .driver
                .goto(format!(
                    "{}{page}?token={}",
                    server.url.split("/?").next().unwrap(),
                    server.token
                ))
                .await
                .unwrap();
            let text = browser.text("body").await;
            assert!(!text.contains('`'), "{page}: {text}");
        }
        browser.quit().await;
        server.stop().await;
    });
}

/// Only message text gets typographic quotes: a path typed into a field
/// comes back in the field as typed, backticks and all, on the Nodes and
/// the Install page, while the message about it says it in quotes.
fn backticks_in_a_fields_value_stay_as_typed() {
    run(Duration::from_secs(120), async {
        let home = tempfile::tempdir().unwrap();
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let settings = serde_json::json!({ "output": BACKTICKED, "compression": "none" });
        let saved = server
            .post("/api/package/settings", &settings.to_string())
            .await;
        assert_eq!(saved.status, 204, "{}", saved.body);
        let page = server.get("/").await;
        assert!(
            page.body.contains(&format!("value=\"{BACKTICKED}\"")),
            "the output field as typed: {}",
            page.body
        );
        let inspect = serde_json::json!({ "path": BACKTICKED, "install": true });
        let refused = server.post("/api/inspect", &inspect.to_string()).await;
        assert_eq!(refused.status, 422, "{}", refused.body);
        let message: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        let text = message["text"].as_str().unwrap();
        assert!(!text.contains('`'), "{text}");
        let page = server.get("/install").await;
        assert!(
            page.body.contains(&format!("value=\"{BACKTICKED}\"")),
            "the package field as typed: {}",
            page.body
        );
        server.stop().await;
    });
}

fn the_nodes_page_fits_800_px_in_light_and_dark_mode() {
    run(Duration::from_secs(300), async {
        for dark in [false, true] {
            // A server each: the first one keeps the options set below.
            let home = tempfile::tempdir().unwrap();
            let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
            let browser = Browser::start_in(dark).await;
            browser.resize(800, 900).await;
            browser.driver.goto(&server.url).await.unwrap();
            browser
                .wait_for("the table", Duration::from_secs(10), || {
                    browser.shown("table.nodes")
                })
                .await;
            assert_eq!(browser.js(SIDEWAYS).await, serde_json::json!(false));
            // The image, port and GPU fold under the name.
            assert!(!browser.shown("table.nodes th.wide-only").await);
            assert!(browser
                .text("table.nodes tbody tr:first-child .node-meta")
                .await
                .contains("port"));
            // Rarely used options are folded, and Create comes right after.
            // Folded, unless a problem under the fold is said.
            let fold = browser
                .js("const fold = document.getElementById('more-options'); \
                     const said = [...fold.querySelectorAll('.field-error')].some((e) => e.textContent); \
                     return [fold.open, said]")
                .await;
            assert_eq!(fold[0], fold[1], "{fold}");
            browser
                .js("document.getElementById('more-options').open = false")
                .await;
            assert!(!browser.shown("#split_size").await);
            assert!(browser
                .text("#more-options summary")
                .await
                .starts_with("More options"));
            browser.toggle_node("Demo").await;
            assert_eq!(browser.js(SIDEWAYS).await, serde_json::json!(false));
            browser
                .screenshot(if dark { "w-800-dark" } else { "w-800-light" })
                .await;
            // A problem under the fold opens it.
            browser
                .click("input[name='split_choice'][value='custom']")
                .await;
            browser
                .js("document.getElementById('more-options').open = false; \
                     const size = document.getElementById('split_size'); \
                     size.value = 'tiny'; size.dispatchEvent(new Event('input'));")
                .await;
            browser
                .wait_for(
                    "the fold to open at the problem",
                    Duration::from_secs(20),
                    || browser.shown("#split_size-error"),
                )
                .await;
            let light = browser
                .js("return getComputedStyle(document.body).backgroundColor")
                .await;
            assert_eq!(
                light,
                if dark {
                    "rgb(15, 22, 29)"
                } else {
                    "rgb(243, 245, 248)"
                }
            );
            browser.quit().await;
            server.stop().await;
        }
    });
}
