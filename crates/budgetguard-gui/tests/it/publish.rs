//! A package published to a real registry (Debian's `docker-registry`,
//! behind a proxy that delays each request so the progress can be watched)
//! from its Inspect view on the Nodes page: a reference that names no
//! registry is refused at its field; a cancelled publication tags nothing;
//! the publication shows bytes, rate and time left, then its `oci://`
//! address, its images and its blobs (sent again: the cancelled one's); the
//! registry holds the tagged index; and the package installs from that
//! address on the Install page.

use std::time::Duration;

use budgetguard::install::InstallDir;
use testkit::http_faults::{Fault, FaultProxy};
use testkit::registry::{no_registry, TestRegistry};

use crate::install::DemoSetup;
use crate::screenshots::both_widths;
use crate::support::{run, Browser};

testkit::tests![publish_a_demo_package_to_a_registry_and_install_it_from_there];

fn publish_a_demo_package_to_a_registry_and_install_it_from_there() {
    run(Duration::from_secs(900), async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let setup = DemoSetup::new(
            "gui-publish",
            format!("GUI Publish {}", std::process::id()),
            "made/demo.zip",
        )
        .await;
        let (name, workstation) = (&setup.name, &setup.workstation);
        let proxy = FaultProxy::start(registry.addr(), Fault::Latency(Duration::from_millis(500)));
        let browser = Browser::start().await;
        browser.resize(1400, 900).await;
        browser.driver.goto(&setup.server.url).await.unwrap();

        // The package, in the list of the folder it was made in: Inspect.
        let output = setup.package.with_file_name("install-package.zip");
        browser.set_text("#output", output.to_str().unwrap()).await;
        browser
            .wait_text("#packages", "demo.zip", Duration::from_secs(30))
            .await;
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_text(
                "#inspection",
                "Publish to registry",
                Duration::from_secs(30),
            )
            .await;
        let package_id = browser.text("#inspected-id").await;

        // A reference that names no registry: at its field, and no job.
        browser.set_text("#publish-to", "budgetguard/demo:1").await;
        browser.click("#publish-button").await;
        browser
            .wait_text(
                "#publish-to-error",
                "it names no registry",
                Duration::from_secs(10),
            )
            .await;
        let said = browser.text("#publish-to-error").await;
        assert!(said.contains("registry.studio.lan"), "{said}");
        assert!(!said.contains('`') && !said.contains('\n'), "{said}");
        assert!(!browser.shown("#job").await, "no job started");

        // Cancelled once the blobs go up: nothing is tagged.
        browser
            .set_text(
                "#publish-to",
                &format!("{}/gui/demo:cancelled", proxy.host()),
            )
            .await;
        browser.click("#publish-button").await;
        browser
            .wait_text("#job-step", "Publishing package", Duration::from_secs(60))
            .await;
        browser.click("#cancel-button").await;
        browser
            .wait_text("#job-title", "Publish cancelled", Duration::from_secs(60))
            .await;
        assert!(
            browser
                .text("#result-error")
                .await
                .contains("nothing was tagged"),
            "{}",
            browser.text("#job").await
        );
        let tag = testkit::http::send(
            registry.addr(),
            "GET",
            "/v2/gui/demo/manifests/cancelled",
            &[("Accept", "application/vnd.oci.image.index.v1+json")],
            std::io::empty(),
            0,
        )
        .unwrap();
        assert_eq!(tag.head.status(), 404, "the cancelled tag is not there");

        // Published: the job card shows bytes, rate and time left as the
        // blobs go up, then where the package is.
        let to = format!("{}/gui/demo:1", proxy.host());
        browser
            .set_text("#publish-to", &format!("oci://{to}"))
            .await;
        browser.click("#publish-button").await;
        let seen = browser.progress_samples(Duration::from_secs(600)).await;
        assert_eq!(
            browser.text("#job-title").await,
            "Published to the registry",
            "{}",
            browser.text("#job").await
        );
        assert_eq!(browser.text("#publish-to-error").await, "");
        let progress = seen
            .first()
            .unwrap_or_else(|| panic!("the card showed no bytes, rate and time left together"));
        assert_eq!(progress[0], "Publishing package", "{progress:?}");
        assert!(progress[1].contains(" of "), "{progress:?}");
        assert!(progress[2].ends_with("/s"), "{progress:?}");
        assert!(progress[3].ends_with(" left"), "{progress:?}");
        assert_eq!(browser.text("#result-address").await, format!("oci://{to}"));
        let images = browser.text("#result-images").await;
        assert!(
            images.contains(&format!("docker pull {}/gui/demo/", proxy.host())),
            "{images}"
        );
        let blobs = browser.text("#result-blobs").await;
        assert!(blobs.contains(" uploaded ("), "{blobs}");
        assert!(
            browser
                .text("#result-command")
                .await
                .ends_with(&format!("install-package --package oci://{to}")),
            "{}",
            browser.text("#result-command").await
        );
        both_widths(&browser, "published").await;

        // The registry holds the package's tagged index.
        let index: serde_json::Value = serde_json::from_slice(&registry.get(
            "/v2/gui/demo/manifests/1",
            "application/vnd.oci.image.index.v1+json",
        ))
        .unwrap();
        assert_eq!(
            index["artifactType"], "application/vnd.budgetguard.package.v1",
            "{index}"
        );
        assert_eq!(
            index["annotations"]["io.budgetguard.package.id"], package_id,
            "{index}"
        );

        // The reference is kept, and proposed again.
        let kept = std::fs::read_to_string(workstation.join("config/gui.json")).unwrap();
        let kept: serde_json::Value = serde_json::from_str(&kept).unwrap();
        assert_eq!(kept["publish_to"], format!("oci://{to}"), "{kept}");
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_for(
                "the Inspect view again",
                Duration::from_secs(30),
                || async {
                    browser
                        .js("return document.getElementById('publish-to')?.value")
                        .await
                        == serde_json::json!(format!("oci://{to}"))
                },
            )
            .await;

        // Installed from its oci:// address on the Install page: Docker's
        // logins, so no package server options.
        let address = format!("oci://{}/gui/demo:1", registry.host());
        browser.go_to_install_page().await;
        browser.set_text("#package-path", &address).await;
        assert!(!browser.shown("#server-options").await);
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", "unsigned", Duration::from_secs(60))
            .await;
        assert_eq!(browser.text("#inspected-path").await, address);
        assert_eq!(browser.text("#inspected-id").await, package_id);
        browser.install_package(Duration::from_secs(600)).await;
        assert!(browser.text("#result-nodes").await.contains(name.as_str()));
        let installed = InstallDir::new(workstation.join("install"))
            .installed(name)
            .unwrap();
        assert_eq!(installed.name, *name);

        browser.quit().await;
        setup.server.stop().await;
    });
}
