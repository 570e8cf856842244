//! A package split into parts from the Create form, in Chromium: the
//! "Split into parts of" choice (FAT32's 4 GiB, or a custom size), the
//! hand-off listing every part, every part copied to a stick and the copy
//! checked, Verify and Inspect taking the first part.

use std::time::Duration;

use crate::support::{files_in, run, OneNode};

testkit::tests![a_package_split_into_parts_is_verified_and_inspected_from_its_first_part];

fn a_package_split_into_parts_is_verified_and_inspected_from_its_first_part() {
    run(Duration::from_secs(600), async {
        let gui = OneNode::start("gui-split", "GUI Split", 9241, 3 << 20).await;
        let (home, browser) = (&gui.home, &gui.browser);
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        browser
            .set_text("#output", out.join("split.zip").to_str().unwrap())
            .await;
        browser.toggle_node("GUI Split").await;

        // The FAT32 choice, then a custom size under the least: refused at
        // the field; then 1 MiB parts.
        browser
            .click("input[name='split_choice'][value='fat32']")
            .await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(30))
            .await;
        browser
            .click("input[name='split_choice'][value='custom']")
            .await;
        browser.set_text("#split_size", "100KB").await;
        browser
            .wait_for("the part size refused", Duration::from_secs(20), || async {
                !browser.text("#split_size-error").await.is_empty()
            })
            .await;
        assert!(!browser.enabled("#create-button").await);
        browser.set_text("#split_size", "1MiB").await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(30))
            .await;
        browser.click("#create-button").await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(120))
            .await;
        let files = files_in(&out);
        assert!(
            files.len() >= 4,
            "three parts or more and their list: {files:?}"
        );
        assert!(files.contains(&"split.zip.001".to_owned()), "{files:?}");
        assert!(files.contains(&"split.zip.parts".to_owned()), "{files:?}");
        let steps = browser.text("#handoff-steps").await;
        assert!(
            steps.contains(&format!("all {} files", files.len())),
            "{steps}"
        );
        assert!(
            steps.contains("choose the first part, split.zip.001"),
            "{steps}"
        );
        browser.screenshot("split-created").await;

        // Copied to a stick: every part and the list, the copy checked.
        let stick = home.path().join("stick");
        std::fs::create_dir(&stick).unwrap();
        browser.copy_package_to(&stick, "Copied and checked").await;
        assert_eq!(files_in(&stick), files);
        browser.show_listed_job(2, "Package created").await;

        // Verify takes the first part, from the packages list.
        browser
            .wait_text("#packages", "split.zip.001", Duration::from_secs(20))
            .await;
        browser.click("#packages button[data-verify]").await;
        browser
            .wait_text("#job-title", "Package verified", Duration::from_secs(120))
            .await;

        // Install's Inspect takes it too.
        browser.go_to_install_page().await;
        browser
            .set_text("#package-path", out.join("split.zip.001").to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", "GUI Split", Duration::from_secs(30))
            .await;
        assert_eq!(browser.text("#package-path-error").await, "");
        gui.stop().await;
    });
}
