//! The file chooser, in Chromium with no engine: a USB stick (a tmpfs
//! mounted under a test `/media/<user>` root given to the GUI) is offered
//! as a place, its packages are listed on the Install page, hidden files
//! are not shown, a link out of the stick says where it leads, and a
//! package chosen through the chooser fills the field and is inspected;
//! the folders files were chosen in are offered again in the next run
//! (kept in the GUI's settings file).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use budgetguard::catalog::Catalog;
use testkit::engines;
use testkit::fixtures::{forge_package, Forge};

use crate::support::{options, run, Browser, Server};

testkit::tests![
    a_package_on_a_usb_stick_is_chosen_through_the_chooser,
    recent_folders_are_kept_between_runs
];

/// A tmpfs mounted at a folder of our choosing (a drive under the media
/// root); unmounted when dropped.
struct Stick(PathBuf);

impl Stick {
    fn mount(at: &Path) -> Self {
        std::fs::create_dir_all(at).unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=8m", "tmpfs"])
            .arg(at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            engines::skip("mounting a tmpfs needs root");
        }
        Self(at.to_owned())
    }
}

impl Drop for Stick {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

fn a_package_on_a_usb_stick_is_chosen_through_the_chooser() {
    run(Duration::from_secs(300), async {
        let home = tempfile::tempdir().unwrap();
        let media = home.path().join("media").join("artist");
        let stick = Stick::mount(&media.join("ART-STICK"));
        let folder = stick.0.join("packages");
        std::fs::create_dir(&folder).unwrap();
        let package = folder.join("demo-package.zip");
        let forge = Forge {
            nodes: 1,
            images: 1,
            blobs: 0,
            model_files: 0,
        };
        forge_package(&package, forge, "");
        std::fs::write(folder.join(".hidden.zip"), b"x").unwrap();
        std::fs::write(folder.join("notes.txt"), b"x").unwrap();
        let outside = home.path().join("elsewhere");
        std::fs::create_dir(&outside).unwrap();
        std::os::unix::fs::symlink(&outside, folder.join("shortcut")).unwrap();

        let mut options = options(Catalog::builtin(), None, home.path());
        options.media_roots = vec![media.clone()];
        let server = Server::start(options).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;

        // The Install page lists the stick's package, with its nodes.
        let listed = browser.text("#media").await;
        assert!(listed.contains("demo-package.zip"), "{listed}");
        assert!(listed.contains(&folder.display().to_string()), "{listed}");
        assert!(!listed.contains(".hidden"), "{listed}");

        // Through the chooser: the stick is a place; hidden files and files
        // the field does not take are not shown; the link says where it
        // leads.
        browser.click("[data-choose='package-path']").await;
        browser
            .wait_for("the chooser", Duration::from_secs(10), || {
                browser.shown("#chooser")
            })
            .await;
        browser
            .wait_text(
                "#chooser-places",
                "Removable: ART-STICK",
                Duration::from_secs(10),
            )
            .await;
        go_to_place(&browser, "Removable: ART-STICK", &stick.0).await;
        browser
            .click("#chooser-entries [data-entry='packages']")
            .await;
        browser
            .wait_text(
                "#chooser-entries",
                "demo-package.zip",
                Duration::from_secs(10),
            )
            .await;
        let entries = browser.text("#chooser-entries").await;
        assert!(!entries.contains(".hidden"), "{entries}");
        assert!(!entries.contains("notes.txt"), "{entries}");
        let outside_real = std::fs::canonicalize(&outside).unwrap();
        assert!(
            entries.contains(&format!(
                "link to {}, outside this folder",
                outside_real.display()
            )),
            "{entries}"
        );
        browser.screenshot("chooser-usb").await;
        browser
            .click("#chooser-entries [data-entry='demo-package.zip']")
            .await;
        browser
            .wait_for("the chooser to close", Duration::from_secs(10), || async {
                !browser.shown("#chooser").await
            })
            .await;
        let chosen = browser
            .find("#package-path")
            .await
            .prop("value")
            .await
            .unwrap();
        assert_eq!(chosen.as_deref(), package.to_str());
        // Chosen, it is inspected at once.
        browser
            .wait_text(
                "#inspected-path",
                package.to_str().unwrap(),
                Duration::from_secs(20),
            )
            .await;
        // The folder is offered again as a recent one.
        browser.click("[data-choose='package-path']").await;
        browser
            .wait_text(
                "#chooser-places",
                &format!("Recent: {}", folder.display()),
                Duration::from_secs(10),
            )
            .await;
        browser.click("#chooser-close").await;

        // The requests answer only with this run's token.
        let body = serde_json::json!({ "folder": "/", "wanted": "package" }).to_string();
        let refused = server
            .request(
                "POST",
                "/api/files",
                &[
                    ("Host", &server.host()),
                    ("Content-Type", "application/json"),
                ],
                &body,
            )
            .await;
        assert_eq!(refused.status, 403, "{}", refused.body);
        let origin = server
            .request(
                "POST",
                "/api/files",
                &[
                    ("Host", &server.host()),
                    ("Origin", "http://evil.example"),
                    ("X-BudgetGuard-Token", &server.token),
                    ("Content-Type", "application/json"),
                ],
                &body,
            )
            .await;
        assert_eq!(origin.status, 403, "{}", origin.body);
        assert_eq!(server.post("/api/files", &body).await.status, 200);
        browser.quit().await;
        server.stop().await;
    });
}

/// Opens the chooser of the Install page's package field.
async fn open_chooser(browser: &Browser) {
    browser.click("[data-choose='package-path']").await;
    browser
        .wait_for("the chooser", Duration::from_secs(10), || {
            browser.shown("#chooser")
        })
        .await;
}

/// Presses the chooser's place `label` and waits for it to show `folder`.
async fn go_to_place(browser: &Browser, label: &str, folder: &Path) {
    let press = format!(
        "[...document.querySelectorAll('#chooser-places button')].find((b) => b.textContent === {}).click()",
        serde_json::to_string(label).unwrap()
    );
    browser.js(&press).await;
    browser
        .wait_text(
            "#chooser-folder",
            &folder.display().to_string(),
            Duration::from_secs(10),
        )
        .await;
}

fn recent_folders_are_kept_between_runs() {
    run(Duration::from_secs(300), async {
        let home = tempfile::tempdir().unwrap();
        // A drive under the test media root (a plain folder will do).
        let drive = home.path().join("media").join("STICK");
        let folder = drive.join("packages");
        std::fs::create_dir_all(&folder).unwrap();
        let package = folder.join("kept.zip");
        std::fs::write(&package, b"PK").unwrap();
        let recent = format!("Recent: {}", folder.display());

        // First run: a file chosen through the chooser.
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        open_chooser(&browser).await;
        assert!(!browser.text("#chooser-places").await.contains("Recent:"));
        go_to_place(&browser, "Removable: STICK", &drive).await;
        browser
            .click("#chooser-entries [data-entry='packages']")
            .await;
        browser
            .wait_text("#chooser-entries", "kept.zip", Duration::from_secs(10))
            .await;
        browser
            .click("#chooser-entries [data-entry='kept.zip']")
            .await;
        browser
            .wait_for("the chooser to close", Duration::from_secs(10), || async {
                !browser.shown("#chooser").await
            })
            .await;
        open_chooser(&browser).await;
        browser
            .wait_text("#chooser-places", &recent, Duration::from_secs(10))
            .await;
        browser.quit().await;
        server.stop().await;
        let kept = std::fs::read_to_string(home.path().join("config/gui.json")).unwrap();
        assert!(kept.contains("recent_folders"), "{kept}");

        // Next run, with the same settings file: offered again.
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        open_chooser(&browser).await;
        browser
            .wait_text("#chooser-places", &recent, Duration::from_secs(10))
            .await;
        go_to_place(&browser, &recent, &folder).await;
        browser.screenshot("chooser-recent-kept").await;
        browser.quit().await;
        server.stop().await;
    });
}
