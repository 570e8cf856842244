//! A package installed from its address on a web server (Debian's nginx on
//! loopback, behind a proxy that delays each request so the progress can be
//! watched): inspected and installed from the GUI with a bearer token file
//! that is sent but never shown or kept, with bytes, rate and time left on
//! the job card; and the refusals of a server without range support and of
//! plain HTTP to another machine, each at the field with its fix.

use std::time::Duration;

use budgetguard::install::InstallDir;
use testkit::http_faults::{Fault, FaultProxy};
use testkit::nginx::Nginx;

use crate::install::DemoSetup;
use crate::support::{run, Browser};

testkit::tests![install_a_demo_package_from_its_address_through_the_gui];

/// The token the test's token file holds.
const TOKEN: &str = "gui-test-token-4af1";

fn install_a_demo_package_from_its_address_through_the_gui() {
    run(Duration::from_secs(900), async {
        let setup = DemoSetup::new(
            "gui-address",
            format!("GUI Address {}", std::process::id()),
            "served/demo.zip",
        )
        .await;
        let (name, workstation) = (&setup.name, &setup.workstation);
        let served = setup.package.parent().unwrap();
        let nginx = Nginx::serve(served);
        let proxy = FaultProxy::start(nginx.addr(), Fault::Latency(Duration::from_millis(700)));
        let url = format!("http://{}/demo.zip", proxy.host());
        let token_file = setup.home.path().join("token");
        std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
        let server = &setup.server;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        assert!(
            !browser.shown("#server-options").await,
            "files need no server options"
        );
        browser.set_text("#package-path", &url).await;
        assert!(browser.shown("#server-options").await);
        browser
            .set_text("#token-file", token_file.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", "unsigned", Duration::from_secs(60))
            .await;
        let inspection = browser.text("#inspection").await;
        assert!(inspection.contains(name.as_str()), "{inspection}");
        assert_eq!(browser.text("#inspected-path").await, url);
        browser.screenshot("23-install-from-address").await;
        let sent: Vec<_> = nginx
            .served()
            .into_iter()
            .map(|s| s.authorization)
            .collect();
        assert!(!sent.is_empty());
        assert!(
            sent.iter().all(|a| *a == format!("Bearer {TOKEN}")),
            "every request carried the token: {sent:?}"
        );

        // Install: the job card shows bytes, rate and time left as the
        // package streams in.
        browser.click("#install-button").await;
        let seen = browser.progress_samples(Duration::from_secs(600)).await;
        assert_eq!(
            browser.text("#job-title").await,
            "Package installed",
            "{}",
            browser.text("#job").await
        );
        let progress = seen
            .first()
            .unwrap_or_else(|| panic!("the card showed no bytes, rate and time left together"));
        assert!(progress[1].contains(" of "), "{progress:?}");
        assert!(progress[2].ends_with("/s"), "{progress:?}");
        assert!(progress[3].ends_with(" left"), "{progress:?}");
        assert!(browser.text("#result-nodes").await.contains(name.as_str()));
        let installed = InstallDir::new(workstation.join("install"))
            .installed(name)
            .unwrap();
        assert_eq!(installed.name, *name);

        // The token and its file are never shown back nor kept.
        let settings = workstation.join("config/gui.json");
        let kept = std::fs::read_to_string(&settings).unwrap_or_default();
        assert!(!kept.contains(TOKEN) && !kept.contains("token"), "{kept}");
        browser.go_to_install_page().await;
        let page = browser.driver.source().await.unwrap();
        assert!(!page.contains(TOKEN), "the token is not on the page");
        assert_eq!(
            browser
                .js("return document.getElementById('token-file').value")
                .await,
            serde_json::json!("")
        );

        // A server that ignores ranges: refused at the field, with the fix.
        let whole = Nginx::serve_without_ranges(served);
        browser
            .set_text("#package-path", &whole.url("demo.zip"))
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text(
                "#package-path-error",
                "does not answer range requests",
                Duration::from_secs(60),
            )
            .await;
        let said = browser.text("#package-path-error").await;
        assert!(
            said.contains("copy the file here and install from it"),
            "{said}"
        );
        assert!(!said.contains('`') && !said.contains('\n'), "{said}");

        // Plain HTTP to another machine: refused until allowed.
        browser
            .set_text("#package-path", "http://192.0.2.1/demo.zip")
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text(
                "#package-path-error",
                "tick “Allow plain HTTP to another machine”",
                Duration::from_secs(20),
            )
            .await;
        assert!(!browser.enabled("#install-button").await);

        browser.quit().await;
        setup.server.stop().await;
    });
}
