//! The screenshots of the README (`docs/gui/`), taken in Chromium at 1400
//! and 800 px on a real run: a Demo node packaged, the package found on a
//! USB stick and installed, the node tried. Each step checks what it
//! shows, so the pictures show a GUI that works. Saved under
//! `target/gui-screenshots/docs-*.png`.

use std::time::Duration;

use budgetguard::compose;
use testkit::engines;
use testkit::fixtures::demo_copy;

use crate::support::{self, free_port, options, run, Browser, NodeCleanup, Server};

testkit::tests![the_readme_screenshots_of_every_page];

/// Screenshots of the page shown, at both widths.
pub(crate) async fn both_widths(browser: &Browser, name: &str) {
    for width in [1400, 800] {
        browser.resize(width, 900).await;
        browser.screenshot(&format!("docs-{name}-{width}")).await;
    }
    browser.resize(1400, 900).await;
}

fn the_readme_screenshots_of_every_page() {
    run(Duration::from_secs(900), async {
        let engine = engines::require_primary();
        let (reference, _image) = demo_copy(&engine, "gui-docs");
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let catalog = support::catalog(home.path(), &[("Demo", &reference, port)]);
        let node = catalog.get("Demo").unwrap().clone();
        let _cleanup = NodeCleanup {
            engine: engine.clone(),
            project: compose::project_name(&node),
        };
        let stick = home.path().join("media/ART-STICK");
        std::fs::create_dir_all(&stick).unwrap();
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.resize(1400, 900).await;
        browser.driver.goto(&server.url).await.unwrap();

        // Nodes & packages: the Demo selected, its estimate.
        browser.toggle_node("Demo").await;
        browser
            .wait_text("#estimate-size", "(1 image", Duration::from_secs(30))
            .await;
        both_widths(&browser, "nodes").await;

        // Created, with the hand-off; copied to the stick.
        browser.click("#create-button").await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(300))
            .await;
        browser
            .set_text("#copy-folder", stick.to_str().unwrap())
            .await;
        browser.click("#copy-button").await;
        browser
            .wait_text("#job-title", "Copied and checked", Duration::from_secs(120))
            .await;
        browser
            .click("#job-list .job-entry:nth-child(2) [data-show-job]")
            .await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(10))
            .await;
        both_widths(&browser, "created").await;

        // Install a package: found on the stick, inspected, installed.
        browser.go_to_install_page().await;
        browser
            .wait_text("#media", "install-package.zip", Duration::from_secs(10))
            .await;
        browser.click("#media [data-use-package]").await;
        browser
            .wait_text("#inspection", "Demo", Duration::from_secs(30))
            .await;
        both_widths(&browser, "install").await;
        browser.click("input[name='start'][value='start']").await;
        browser.install_package(Duration::from_secs(300)).await;

        // Installed nodes: Ready, tried.
        browser.click("nav a[href^='/installed']").await;
        browser
            .wait_for("the node to be ready", Duration::from_secs(120), || async {
                browser.shown("#installed .state-ok").await
            })
            .await;
        browser.click("button[data-try]").await;
        browser.click("#try-button").await;
        browser
            .wait_for("the Demo's picture", Duration::from_secs(60), || {
                browser.shown("#try-image")
            })
            .await;
        both_widths(&browser, "installed").await;

        // Uninstalled, the page as it ends.
        browser.click("#try-close").await;
        browser.click("button[data-uninstall]").await;
        browser.click("#uninstall-confirm").await;
        browser
            .wait_text("#job-title", "Uninstalled", Duration::from_secs(120))
            .await;
        browser.quit().await;
        server.stop().await;
    });
}
