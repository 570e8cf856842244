//! The install folder, in Chromium with no engine: shown with its free
//! space, changed on the Install page, kept for the next run unless that
//! run is given a folder of its own.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::install::InstallDir;

use crate::support::{options, run, Browser, Server};

testkit::tests![the_install_folder_is_changed_and_kept_for_the_next_run];

fn the_install_folder_is_changed_and_kept_for_the_next_run() {
    run(Duration::from_secs(300), async {
        let home = tempfile::tempdir().unwrap();
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        let first = home.path().join("install");
        assert_eq!(
            browser.text("#install-dir-now").await,
            first.display().to_string()
        );
        assert!(browser.text("#install-dir-space").await.contains("free in"));

        // A file is no folder: said at the field, nothing changes.
        let file = home.path().join("a-file");
        std::fs::write(&file, b"x").unwrap();
        browser
            .set_text("#install-dir", file.to_str().unwrap())
            .await;
        browser.click("#install-dir-button").await;
        browser
            .wait_text(
                "#install-dir-error",
                "is a file, not a folder",
                Duration::from_secs(10),
            )
            .await;
        assert!(!home.path().join("config/gui.json").exists());

        // Another folder (made, as it is missing): the page loads again with it.
        let other = home.path().join("big-disk/nodes");
        browser
            .set_text("#install-dir", other.to_str().unwrap())
            .await;
        browser.click("#install-dir-button").await;
        browser
            .wait_text(
                "#install-dir-now",
                other.to_str().unwrap(),
                Duration::from_secs(10),
            )
            .await;
        assert!(other.is_dir());
        browser.screenshot("install-folder-changed").await;
        let saved = std::fs::read_to_string(home.path().join("config/gui.json")).unwrap();
        assert!(saved.contains(other.to_str().unwrap()), "{saved}");
        server.stop().await;

        // The next run installs there too, unless given another folder
        // (as `--install-dir` gives it): that one wins.
        let given = options(Catalog::builtin(), None, home.path());
        let mut by_default = options(Catalog::builtin(), None, home.path());
        by_default.install_dir = InstallDir::default_location();
        by_default.install_dir_given = false;
        for (options, shown) in [(by_default, &other), (given, &first)] {
            let again = Server::start(options).await;
            browser.open_install_page(&again.url).await;
            assert_eq!(
                browser.text("#install-dir-now").await,
                shown.display().to_string()
            );
            again.stop().await;
        }
        browser.quit().await;
    });
}
