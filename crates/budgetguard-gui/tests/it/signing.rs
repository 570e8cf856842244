//! Signing in the browser: the key and its password are checked at their
//! fields, the password is never kept or shown again, the package is signed;
//! on the Install page a key is trusted from its `.pub` file, the signer
//! shows as trusted, and an unsigned package is refused in the GUI's words.

use std::sync::Arc;
use std::time::Duration;

use budgetguard::engine::{Engine, RegistryAuth};
use budgetguard::package::{create_package, zip::Compression, CreateOptions, Package};
use budgetguard::progress::Silent;
use budgetguard::signing::{self, Signer, TrustedKey};
use budgetguard::Cancel;
use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, free_port, options, run, within, Browser, Server};

testkit::tests![sign_a_package_and_trust_its_key_in_the_browser];

/// The key's password; it must never come back from the server.
const PASSWORD: &str = "correct horse battery staple 7";

fn sign_a_package_and_trust_its_key_in_the_browser() {
    run(Duration::from_secs(420), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-signed"),
            layers: vec![Layer::Random(1 << 20, 7)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        let home = tempfile::tempdir().unwrap();
        let name = "GUI Signed";
        let catalog = support::catalog(home.path(), &[(name, &spec.reference, free_port())]);
        let key =
            signing::generate(&home.path().join("techops.key"), Some(PASSWORD.into())).unwrap();
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let output = out.join("signed.zip");

        let server = Server::start(options(catalog.clone(), Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        browser.toggle_node(name).await;
        browser.set_text("#output", output.to_str().unwrap()).await;
        browser
            .wait_text("#estimate-signature", "not signed", Duration::from_secs(20))
            .await;

        // A key that is not there, or not a secret key: said at the field.
        let nowhere = home.path().join("nowhere.key");
        browser
            .set_text("#sign_key", nowhere.to_str().unwrap())
            .await;
        browser
            .wait_text(
                "#sign_key-error",
                "There is no file",
                Duration::from_secs(20),
            )
            .await;
        assert!(!browser.enabled("#create-button").await);
        browser
            .set_text("#sign_key", key.public.to_str().unwrap())
            .await;
        browser
            .wait_text(
                "#sign_key-error",
                "is not a minisign secret key",
                Duration::from_secs(20),
            )
            .await;
        browser
            .set_text("#sign_key", key.secret.to_str().unwrap())
            .await;
        browser
            .wait_text("#estimate-signature", &key.key_id, Duration::from_secs(20))
            .await;
        assert!(browser
            .text("#estimate-signature")
            .await
            .contains("protected by a password"));
        assert_eq!(browser.text("#sign_key-error").await, "");
        browser
            .wait_for("Create to be enabled", Duration::from_secs(20), || async {
                browser.enabled("#create-button").await
            })
            .await;

        // No password, then a wrong one: at the password field.
        browser.click("#create-button").await;
        browser
            .wait_text(
                "#key_password-error",
                "is protected by a password",
                Duration::from_secs(30),
            )
            .await;
        browser.set_text("#key_password", "wrong").await;
        assert_eq!(
            browser.text("#key_password-error").await,
            "",
            "typing clears it"
        );
        browser.click("#create-button").await;
        browser
            .wait_text(
                "#key_password-error",
                "does not open the key",
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(
            browser
                .find("#key_password")
                .await
                .attr("type")
                .await
                .unwrap()
                .as_deref(),
            Some("password")
        );
        browser.screenshot("40-sign-wrong-password").await;

        // The right one: the package is signed, and the field is emptied.
        browser.set_text("#key_password", PASSWORD).await;
        browser.click("#create-button").await;
        browser
            .wait_text("#job-title", "Package created", Duration::from_secs(120))
            .await;
        assert_eq!(
            browser.text("#result-signed").await,
            format!("Key {}", key.key_id)
        );
        assert_eq!(
            browser
                .find("#key_password")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("")
        );
        let public = TrustedKey::read(&key.public).unwrap();
        assert_eq!(
            Package::open(&output)
                .unwrap()
                .signer(std::slice::from_ref(&public)),
            Signer::Trusted {
                key_id: key.key_id.clone()
            }
        );
        browser.screenshot("41-signed").await;

        // The password is kept nowhere: not in the settings a reload shows,
        // not in any page or fragment the server sends.
        browser.driver.refresh().await.unwrap();
        assert_eq!(
            browser
                .find("#sign_key")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some(key.secret.to_str().unwrap()),
            "the key's path is a setting"
        );
        assert_eq!(
            browser
                .find("#key_password")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some("")
        );
        for page in ["/", "/install", "/installed"] {
            let reply = server.get(page).await;
            assert!(!reply.body.contains(PASSWORD), "{page} shows the password");
        }
        let events = server
            .next_event("finished", Duration::from_secs(10))
            .await
            .to_string();
        assert!(!events.contains(PASSWORD));

        // Inspected from the list: signed by a key this machine does not
        // trust yet.
        browser
            .wait_text("#packages", "signed.zip", Duration::from_secs(20))
            .await;
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_text(
                "#inspected-signer",
                &format!("signed by key {} (not trusted here)", key.key_id),
                Duration::from_secs(20),
            )
            .await;

        // The Install page: trust the key from its .pub file.
        browser.click("nav a[href^='/install?']").await;
        browser
            .wait_for("the install page", Duration::from_secs(10), || {
                browser.shown("#trusted-keys")
            })
            .await;
        assert!(browser.shown("#trusted-none").await);
        browser
            .set_text("#trust-path", key.secret.to_str().unwrap())
            .await;
        browser.click("#trust-button").await;
        browser
            .wait_text(
                "#trust-path-error",
                "must end in .pub",
                Duration::from_secs(10),
            )
            .await;
        browser
            .set_text("#trust-path", key.public.to_str().unwrap())
            .await;
        browser.click("#trust-button").await;
        browser
            .wait_text("#trusted-list", &key.key_id, Duration::from_secs(10))
            .await;
        assert_eq!(browser.text("#trust-path-error").await, "");
        browser
            .set_text("#package-path", output.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text(
                "#inspected-signer",
                &format!("signed by key {} (trusted here)", key.key_id),
                Duration::from_secs(20),
            )
            .await;
        browser.screenshot("42-trusted-key").await;

        // An unsigned package is refused, before anything changes.
        let unsigned = out.join("unsigned.zip");
        let connected = Engine::connect(Some(&engine.host)).await.unwrap();
        let plain = CreateOptions {
            nodes: catalog.select_names([name]).unwrap(),
            output: unsigned.clone(),
            compression: Compression::None,
            force: false,
            pull: false,
            auth: RegistryAuth::new(None),
            start_after_install: false,
            models: Default::default(),
            sign: None,
            from_registry: None,
            since: None,
            created: None,
            split: None,
        };
        within(
            "making the unsigned package",
            Duration::from_secs(120),
            create_package(Some(&connected), &plain, Arc::new(Silent), &Cancel::new()),
        )
        .await
        .unwrap();
        browser
            .set_text("#package-path", unsigned.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspected-signer", "unsigned", Duration::from_secs(20))
            .await;
        // Install says why not before it is pressed...
        let reason = browser.text("#inspected-refusal").await;
        assert!(reason.starts_with("This package is not signed"), "{reason}");
        assert_eq!(browser.text("#install-reasons").await, reason);
        assert!(!browser.enabled("#install-button").await);
        browser.screenshot("43-unsigned-refused").await;
        // ...and the installer refuses it all the same when asked.
        let body = serde_json::json!({ "path": unsigned }).to_string();
        assert_eq!(server.post("/api/install", &body).await.status, 202);
        browser
            .wait_text("#job-title", "Install failed", Duration::from_secs(120))
            .await;
        let refusal = browser.text("#result-error").await;
        assert!(
            refusal.starts_with("Nothing was changed. This package is not signed"),
            "{refusal}"
        );
        assert!(refusal.contains(&key.key_id), "{refusal}");
        assert!(refusal.contains("“Trusted keys”"), "{refusal}");
        assert!(!refusal.contains("trust-key"), "{refusal}");
        let endpoints = home.path().join("install/endpoints.json");
        assert!(
            !endpoints.exists() || !std::fs::read_to_string(&endpoints).unwrap().contains(name),
            "nothing was installed"
        );
        browser.screenshot("44-unsigned-install-failed").await;

        // Removing the key asks first, and says what changes: kept at
        // first, then removed; unsigned packages are accepted again.
        browser.click("#trusted-keys button[data-distrust]").await;
        browser
            .wait_for("the confirmation", Duration::from_secs(10), || {
                browser.shown("#distrust-panel")
            })
            .await;
        assert_eq!(browser.text("#distrust-key").await, key.key_id);
        let effect = browser.text("#distrust-effect").await;
        assert!(
            effect.contains("will again install unsigned packages"),
            "{effect}"
        );
        browser.screenshot("44b-distrust-confirmation").await;
        browser.click("#distrust-keep").await;
        assert!(!browser.shown("#distrust-panel").await);
        assert!(browser.text("#trusted-list").await.contains(&key.key_id));
        browser.click("#trusted-keys button[data-distrust]").await;
        browser.click("#distrust-confirm").await;
        browser
            .wait_for("the key to go", Duration::from_secs(10), || {
                browser.shown("#trusted-none")
            })
            .await;
        server.stop().await;
        browser.quit().await;
    });
}
