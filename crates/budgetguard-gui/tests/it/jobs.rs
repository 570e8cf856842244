//! Results you can see and keep, in Chromium: a new job's card is
//! scrolled to and focused, a job that ends is announced (a notice in a
//! polite live region), and the job list keeps a Create's result after a
//! Verify, to be shown again.

use std::time::Duration;

use crate::support::{files_in, run, OneNode};

testkit::tests![create_then_verify_both_stay_in_the_job_list];

fn create_then_verify_both_stay_in_the_job_list() {
    run(Duration::from_secs(600), async {
        let gui = OneNode::start("gui-jobs", "GUI Jobs", 9211, 4 << 20).await;
        let (home, browser) = (&gui.home, &gui.browser);
        assert!(browser.text("#job-list").await.contains("No job yet"));

        browser.toggle_node("GUI Jobs").await;
        browser
            .wait_enabled("#create-button", Duration::from_secs(30))
            .await;
        browser.click("#create-button").await;
        // The new card is shown, scrolled to and focused.
        browser.wait_job_focused().await;
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
        browser.wait_job_focused().await;
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
        browser.show_listed_job(2, "Package created").await;
        browser.reveal("#result-command").await;
        assert_eq!(browser.text("#result-command").await, command);
        browser.wait_job_focused().await;

        // Copied to a USB stick (a folder here), the copy is checked.
        let stick = home.path().join("stick");
        std::fs::create_dir(&stick).unwrap();
        browser.copy_package_to(&stick, "Copied and checked").await;
        let copied = browser.text("#result-copied").await;
        assert!(copied.contains("match the manifest"), "{copied}");
        assert_eq!(files_in(&stick), ["install-package.zip"]);
        assert_eq!(
            std::fs::read(stick.join("install-package.zip")).unwrap(),
            std::fs::read(home.path().join("install-package.zip")).unwrap()
        );
        browser.screenshot("jobs-copied").await;
        // Again: the file is there, nothing is replaced.
        browser.show_listed_job(3, "Package created").await;
        browser.copy_package_to(&stick, "Copy failed").await;
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
        gui.stop().await;
    });
}
