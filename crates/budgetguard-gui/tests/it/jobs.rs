//! Results you can see and keep, in Chromium: a new job's card is
//! scrolled to and focused, a job that ends is announced (a notice in a
//! polite live region), and the job list keeps a Create's result after a
//! Verify, to be shown again.

use std::time::Duration;

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, options, run, Browser, Server};

testkit::tests![create_then_verify_both_stay_in_the_job_list];

/// The id of the element that has the focus.
const FOCUSED: &str = "return document.activeElement && document.activeElement.id";

fn create_then_verify_both_stay_in_the_job_list() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-jobs"),
            layers: vec![Layer::Random(4 << 20, 7)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(home.path(), &[("GUI Jobs", &spec.reference, 9211)]);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        assert!(browser.text("#job-list").await.contains("No job yet"));

        browser.toggle_node("GUI Jobs").await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(30), || async {
                browser.enabled("#create-button").await
            })
            .await;
        browser.click("#create-button").await;
        // The new card is shown, scrolled to and focused.
        browser
            .wait_for(
                "the focus on the job card",
                Duration::from_secs(10),
                || async { browser.js(FOCUSED).await == serde_json::json!("job") },
            )
            .await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(300))
            .await;
        // Announced: a notice in a polite live region.
        browser
            .wait_text("#toast-text", "Package created.", Duration::from_secs(10))
            .await;
        let toast = browser.find("#toast").await;
        assert_eq!(toast.attr("role").await.unwrap().as_deref(), Some("status"));
        assert_eq!(
            toast.attr("aria-live").await.unwrap().as_deref(),
            Some("polite")
        );
        browser.reveal("#result-command").await;
        let command = browser.text("#result-command").await;
        assert!(command.contains("install-package.zip"), "{command}");
        browser
            .wait_text("#job-list", "Package created", Duration::from_secs(10))
            .await;

        // Verify the package: its card replaces the Create's, and both stay
        // in the list.
        browser
            .wait_text("#packages", "install-package.zip", Duration::from_secs(20))
            .await;
        browser.click("#packages button[data-verify]").await;
        browser
            .wait_for(
                "the focus on the job card",
                Duration::from_secs(10),
                || async { browser.js(FOCUSED).await == serde_json::json!("job") },
            )
            .await;
        browser
            .wait_text("#job-title", "Package verified", Duration::from_secs(120))
            .await;
        browser
            .wait_text("#toast-text", "Package verified.", Duration::from_secs(10))
            .await;
        browser
            .wait_for("both jobs in the list", Duration::from_secs(10), || async {
                let list = browser.text("#job-list").await;
                list.contains("Package verified") && list.contains("Package created")
            })
            .await;
        let entries = browser
            .js("return [...document.querySelectorAll('#job-list .job-entry')].map((e) => e.textContent.trim().replace(/\\s+/g, ' '))")
            .await;
        let entries = entries.as_array().unwrap();
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert!(
            entries[0]
                .as_str()
                .unwrap()
                .starts_with("Done Package verified"),
            "{entries:?}"
        );
        assert!(
            entries[1]
                .as_str()
                .unwrap()
                .starts_with("Done Package created"),
            "{entries:?}"
        );
        browser.screenshot("jobs-list").await;

        // The Create's result is there again, with its instructions.
        browser
            .click("#job-list .job-entry:nth-child(2) [data-show-job]")
            .await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(10))
            .await;
        browser.reveal("#result-command").await;
        assert_eq!(browser.text("#result-command").await, command);
        assert_eq!(browser.js(FOCUSED).await, serde_json::json!("job"));

        // Copied to a USB stick (a folder here), the copy is checked.
        let stick = home.path().join("stick");
        std::fs::create_dir(&stick).unwrap();
        browser
            .set_text("#copy-folder", stick.to_str().unwrap())
            .await;
        browser.click("#copy-button").await;
        browser
            .wait_text("#job-title", "Copied and checked", Duration::from_secs(120))
            .await;
        let copied = browser.text("#result-copied").await;
        assert!(copied.contains("match the manifest"), "{copied}");
        assert_eq!(support::files_in(&stick), ["install-package.zip"]);
        assert_eq!(
            std::fs::read(stick.join("install-package.zip")).unwrap(),
            std::fs::read(home.path().join("install-package.zip")).unwrap()
        );
        browser.screenshot("jobs-copied").await;
        // Again: the file is there, nothing is replaced.
        browser
            .click("#job-list .job-entry:nth-child(3) [data-show-job]")
            .await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(10))
            .await;
        browser
            .set_text("#copy-folder", stick.to_str().unwrap())
            .await;
        browser.click("#copy-button").await;
        browser
            .wait_text("#job-title", "Copy failed", Duration::from_secs(60))
            .await;
        assert!(browser
            .text("#result-error")
            .await
            .contains("already exists"));
        // A reload keeps the list.
        browser.driver.refresh().await.unwrap();
        browser
            .wait_text("#job-list", "Copy failed", Duration::from_secs(10))
            .await;
        let list = browser.text("#job-list").await;
        assert!(
            list.contains("Package verified") && list.contains("Package created"),
            "{list}"
        );
        browser.quit().await;
        server.stop().await;
    });
}
