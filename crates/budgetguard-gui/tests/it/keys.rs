//! A key pair made in the GUI, then used to sign, in Chromium: the warning
//! on where to keep the secret key, two passwords that differ refused, the
//! new key filled in as the signing key, an existing key never replaced,
//! and the hand-off naming the `.pub` file that must travel.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use crate::support::{run, OneNode};

testkit::tests![a_key_pair_made_in_the_gui_signs_a_package];

fn a_key_pair_made_in_the_gui_signs_a_package() {
    run(Duration::from_secs(600), async {
        let gui = OneNode::start("gui-keys", "GUI Keys", 9231, 1 << 20).await;
        let (home, browser) = (&gui.home, &gui.browser);
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
            .wait_enabled("#create-button", Duration::from_secs(30))
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
        gui.stop().await;
    });
}
