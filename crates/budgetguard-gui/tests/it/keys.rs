//! A key pair made in the GUI, then used to sign, in Chromium: the warning
//! on where to keep the secret key, two passwords that differ refused, the
//! new key filled in as the signing key, an existing key never replaced,
//! and the hand-off naming the `.pub` file that must travel.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, options, run, Browser, Server};

testkit::tests![a_key_pair_made_in_the_gui_signs_a_package];

fn a_key_pair_made_in_the_gui_signs_a_package() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-keys"),
            layers: vec![Layer::Random(1 << 20, 5)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(home.path(), &[("GUI Keys", &spec.reference, 9231)]);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        let keys = home.path().join("keys");
        std::fs::create_dir(&keys).unwrap();
        let secret = keys.join("studio.key");

        browser.set_text("#new-key", secret.to_str().unwrap()).await;
        assert!(browser
            .text("#keygen-warning")
            .await
            .contains("keep it on this machine only"));
        browser.set_text("#new-key-password", "correct horse").await;
        browser.set_text("#new-key-repeat", "correct hose").await;
        browser.click("#keygen-button").await;
        browser
            .wait_text(
                "#new-key-repeat-error",
                "The two passwords differ",
                Duration::from_secs(10),
            )
            .await;
        assert!(!secret.exists());
        browser.set_text("#new-key-password", "correct horse").await;
        browser.set_text("#new-key-repeat", "correct horse").await;
        browser.click("#keygen-button").await;
        browser
            .wait_text("#keygen-result", "Made key", Duration::from_secs(10))
            .await;
        assert!(secret.is_file());
        let public = keys.join("studio.key.pub");
        assert!(public.is_file());
        let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the secret key is the user's only: {mode:o}"
        );
        let value = browser.find("#sign_key").await.prop("value").await.unwrap();
        assert_eq!(value.as_deref(), secret.to_str());
        browser.screenshot("keys-made").await;
        // Made again at the same place: refused, the key kept.
        let before = std::fs::read(&secret).unwrap();
        browser.click("#keygen-button").await;
        browser
            .wait_text("#new-key-error", "studio.key", Duration::from_secs(10))
            .await;
        assert_eq!(std::fs::read(&secret).unwrap(), before);

        // It signs: with its password.
        browser.toggle_node("GUI Keys").await;
        browser.set_text("#key_password", "correct horse").await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(30), || async {
                browser.enabled("#create-button").await
            })
            .await;
        browser.click("#create-button").await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(120))
            .await;
        let made = browser.text("#keygen-result").await;
        let key_id = made
            .strip_prefix("Made key ")
            .and_then(|rest| rest.split(':').next())
            .unwrap()
            .to_owned();
        assert!(browser.text("#result-signed").await.contains(&key_id));
        let trust = browser.text("#handoff-trust").await;
        assert!(trust.contains("studio.key.pub"), "{trust}");
        assert!(trust.contains("Trust this key"), "{trust}");
        browser.screenshot("keys-signed-handoff").await;
        browser.quit().await;
        server.stop().await;
    });
}
