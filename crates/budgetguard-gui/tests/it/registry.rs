//! Create's "Read images from their registries" and "Update of" in
//! Chromium: a package read from a local registry (Debian's
//! `docker-registry`, behind testkit's proxy as a distant registry) while
//! Docker does not answer, an update package of it picked from the
//! packages list, the refusals beside their fields, and an update package
//! of Docker's images whose estimate leaves out what the old one holds.

use std::path::Path;
use std::time::Duration;

use budgetguard::package::estimate::OVERHEAD;
use budgetguard::package::Package;
use budgetguard::progress::Silent;
use budgetguard::registry::RegistryAuth;
use budgetguard::size::human;
use budgetguard::Cancel;
use testkit::engines;
use testkit::http_faults::{Fault, FaultProxy};
use testkit::images::{self, ImageSpec, Layer};
use testkit::plain_http::Endpoint;
use testkit::process::{hanging_script, wait_ended};
use testkit::registry::{no_registry, PushLayer, TestRegistry};

use crate::support::{self, files_in, options, run, Browser, Server};

testkit::tests![
    packages_from_a_registry_without_docker,
    an_update_of_dockers_images_leaves_out_what_the_old_package_holds,
    a_hanging_credential_helper_never_outlives_its_request,
];

/// The value of the input with this CSS selector.
async fn value(browser: &Browser, css: &str) -> String {
    browser
        .find(css)
        .await
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until Create is enabled.
async fn create_enabled(browser: &Browser) {
    browser
        .wait_for("Create to be enabled", Duration::from_secs(30), || async {
            browser.enabled("#create-button").await
        })
        .await;
}

/// Presses Create and waits for the package `output`, noting each step
/// the card shows on the way.
async fn create(browser: &Browser, output: &Path) -> Vec<String> {
    browser.click("#create-button").await;
    // The last package's card may show until the job's first event.
    let shown = "return document.getElementById('result-path')?.textContent ?? ''";
    let steps = browser
        .job_steps(Duration::from_secs(120), || async {
            assert!(
                !browser.shown(".outcome-error").await,
                "Create failed: {}",
                browser.text("#job").await
            );
            browser.js(shown).await == output.to_str().unwrap()
        })
        .await;
    assert_eq!(browser.text("#job-title").await, "Package created");
    steps
}

/// The package at `path`, verified.
fn verified(path: &Path) -> Package {
    let package = Package::open(path).unwrap();
    package.verify(&Silent, &Cancel::new()).unwrap();
    package
}

fn packages_from_a_registry_without_docker() {
    run(Duration::from_secs(600), async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let old_layers = [
            PushLayer::Gzip(Layer::Random(6 << 20, 71)),
            PushLayer::Gzip(Layer::Random(2 << 20, 72)),
        ];
        let v1 = registry.push_image("team/app", "1", &old_layers);
        let new_layer = [PushLayer::Gzip(Layer::Random(1 << 20, 73))];
        let v2 = registry.push_on_top(&v1, "team/app", "2", &new_layer, "2026-04-01T00:00:00Z");
        let arm = registry.push_platform_image(
            "team/arm",
            "",
            &[PushLayer::Gzip(Layer::Random(4096, 74))],
            "linux/arm64",
        );
        registry.push_index_of("team/arm", "1", &[&arm]);
        // A distant registry: each request waits, so the download shows.
        let distant =
            FaultProxy::start(registry.addr(), Fault::Latency(Duration::from_millis(400)));
        let at = |name: &str| format!("{}/{name}", distant.host());
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(
            home.path(),
            &[
                ("App One", &at("team/app:1"), 9301),
                ("App Two", &at("team/app:2"), 9301),
                ("App Arm", &at("team/arm:1"), 9302),
                ("App Gone", &at("team/gone:1"), 9303),
            ],
        );
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        // No engine answers the GUI.
        let server = Server::start(options(catalog, None, home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        assert_eq!(browser.text("#engine-status").await, "Docker unreachable");
        let detail = browser.text("#engine-detail").await;
        assert!(
            detail.contains(
                "packages can be made only with “Read images from their registries” ticked"
            ),
            "{detail}"
        );

        // From Docker, Create cannot work, and says why and what to do.
        browser.toggle_node("App One").await;
        let old = out.join("old.zip");
        browser.set_text("#output", old.to_str().unwrap()).await;
        browser
            .wait_text(
                "#create-reasons",
                "Docker does not answer",
                Duration::from_secs(20),
            )
            .await;
        let reasons = browser.text("#create-reasons").await;
        assert!(
            reasons.ends_with("Start Docker, or tick “Read images from their registries”."),
            "{reasons}"
        );
        assert!(!browser.enabled("#create-button").await);
        assert!(!browser.enabled("#platform").await);

        // From the registry: no Docker needed, and the size is what the
        // registry serves.
        browser.set_checked("#from_registry", true).await;
        assert!(browser.enabled("#platform").await);
        assert_eq!(value(&browser, "#platform").await, "linux/amd64");
        browser.set_text("#jobs", "1").await;
        browser
            .wait_text(
                "#estimate-size",
                "as their registries serve them",
                Duration::from_secs(30),
            )
            .await;
        let served: u64 = v1.layers.iter().map(|l| l.size).sum::<u64>() + v1.config.size;
        assert_eq!(
            browser.text("#estimate-size").await,
            format!(
                "About {} (1 image as their registries serve them)",
                human(served + OVERHEAD)
            )
        );
        create_enabled(&browser).await;
        assert_eq!(browser.text("#create-reasons").await, "");
        browser.screenshot("50-registry-estimate").await;
        let steps = create(&browser, &old).await;
        assert!(steps.iter().any(|s| s == "Downloading images"), "{steps:?}");
        let package = verified(&old);
        let manifest = package.manifest();
        assert_eq!(manifest.source_engine, "registry");
        let layers: Vec<&str> = manifest.images[0]
            .layers
            .iter()
            .map(|l| l.digest.as_str())
            .collect();
        let pushed: Vec<&str> = v1.layers.iter().map(|l| l.digest.as_str()).collect();
        assert_eq!(layers, pushed, "the layers as the registry serves them");
        assert!(!browser.shown("#result-base").await, "a whole package");
        let old_id = package.id().to_owned();

        // An update of it: picked in the packages list with one click.
        browser
            .wait_text("#packages", "old.zip", Duration::from_secs(10))
            .await;
        browser.toggle_node("App One").await;
        browser.toggle_node("App Two").await;
        let update = out.join("update.zip");
        browser.set_text("#output", update.to_str().unwrap()).await;
        browser.click("#packages button[data-base]").await;
        assert_eq!(value(&browser, "#since").await, old.to_str().unwrap());
        let left_out: u64 = v1.layers.iter().map(|l| l.size).sum();
        let new_bytes = v2.layers.last().unwrap().size + v2.config.size;
        browser
            .wait_text(
                "#estimate-size",
                "old package holds",
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(
            browser.text("#estimate-size").await,
            format!(
                "About {} (1 image as their registries serve them), without the {} the old package holds",
                human(new_bytes + OVERHEAD),
                human(left_out)
            )
        );
        create_enabled(&browser).await;
        browser.screenshot("51-update-estimate").await;
        create(&browser, &update).await;
        let base = browser.text("#result-base").await;
        assert_eq!(
            base,
            format!(
                "“old.zip” (package id {}…), {} left out",
                &old_id[..12],
                human(left_out)
            )
        );
        assert!(browser.shown("#result-base-note").await);
        let package = verified(&update);
        let recorded = package.manifest().base.clone().unwrap();
        assert_eq!(recorded.package_id, old_id);
        assert_eq!(recorded.savings(), left_out);
        browser.screenshot("52-update-created").await;

        // The list and Inspect say what it updates.
        browser
            .wait_text("#packages", "update.zip", Duration::from_secs(10))
            .await;
        assert!(
            browser
                .text("#packages")
                .await
                .contains(&format!("Update of {base}")),
            "{}",
            browser.text("#packages").await
        );
        browser
            .click("#packages button[data-inspect$='update.zip']")
            .await;
        browser
            .wait_text("#inspected-base", "old.zip", Duration::from_secs(20))
            .await;
        assert!(browser.text("#inspected-base").await.starts_with(&base));

        // An old package that is not there, or not a package: at the field.
        let nowhere = home.path().join("nowhere.zip");
        browser.set_text("#since", nowhere.to_str().unwrap()).await;
        browser
            .wait_text("#since-error", "There is no file", Duration::from_secs(20))
            .await;
        assert!(!browser.enabled("#create-button").await);
        let garbage = home.path().join("garbage.zip");
        std::fs::write(&garbage, b"not a package").unwrap();
        browser.set_text("#since", garbage.to_str().unwrap()).await;
        browser
            .wait_text(
                "#since-error",
                "The old package in “Update of” cannot be used",
                Duration::from_secs(20),
            )
            .await;
        browser.screenshot("53-update-of-no-package").await;
        browser.set_text("#since", "").await;
        browser
            .wait_for("the field to be clear", Duration::from_secs(20), || async {
                browser.text("#since-error").await.is_empty()
            })
            .await;

        // A platform the image lacks, and text that is no platform: at the
        // platform field.
        browser.toggle_node("App Two").await;
        browser.toggle_node("App Arm").await;
        browser
            .set_text("#output", out.join("arm.zip").to_str().unwrap())
            .await;
        browser
            .wait_text(
                "#platform-error",
                "has no image for linux/amd64; it has linux/arm64: enter one of those in “Platform”.",
                Duration::from_secs(30),
            )
            .await;
        assert!(!browser.enabled("#create-button").await);
        browser.screenshot("54-wrong-platform").await;
        browser.set_text("#platform", "linux").await;
        browser
            .wait_text(
                "#platform-error",
                "is not a platform",
                Duration::from_secs(20),
            )
            .await;
        browser.set_text("#platform", "linux/arm64").await;
        create_enabled(&browser).await;
        assert_eq!(browser.text("#platform-error").await, "");

        // An image the registry does not have: Create says so in its own
        // words, beside the registry option.
        browser.toggle_node("App Arm").await;
        browser.toggle_node("App Gone").await;
        browser
            .set_text("#output", out.join("gone.zip").to_str().unwrap())
            .await;
        browser
            .wait_text("#estimate-size", "(404", Duration::from_secs(30))
            .await;
        create_enabled(&browser).await;
        browser.click("#create-button").await;
        browser
            .wait_text("#job-title", "Create failed", Duration::from_secs(60))
            .await;
        let error = browser.text("#from_registry-error").await;
        assert!(
            error.contains("team/gone:1” is not on") && error.contains("(404"),
            "{error}"
        );
        assert!(
            error.ends_with(
                "Or untick “Read images from their registries” to package the images Docker has."
            ),
            "{error}"
        );

        // A reload keeps the registry options.
        browser.driver.refresh().await.unwrap();
        assert!(browser
            .find("#from_registry")
            .await
            .is_selected()
            .await
            .unwrap());
        assert_eq!(value(&browser, "#platform").await, "linux/arm64");
        assert_eq!(value(&browser, "#jobs").await, "1");
        assert_eq!(value(&browser, "#since").await, "");
        browser.quit().await;
        server.stop().await;
        assert_eq!(files_in(&out), ["old.zip", "update.zip"]);
    });
}

fn an_update_of_dockers_images_leaves_out_what_the_old_package_holds() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let shared = [
            Layer::Random(12 << 20, 81),
            Layer::Compressible(4 << 20, 82),
        ];
        let old_image = ImageSpec {
            reference: images::unique_reference("gui-old"),
            layers: shared.to_vec(),
        };
        let new_image = ImageSpec {
            reference: images::unique_reference("gui-new"),
            layers: [&shared[..], &[Layer::Random(1 << 20, 83)]].concat(),
        };
        let _images = images::load(&engine, &[old_image.clone(), new_image.clone()]);
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(
            home.path(),
            &[
                ("Old", &old_image.reference, 9311),
                ("New", &new_image.reference, 9311),
            ],
        );
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();

        let old = home.path().join("old.zip");
        browser.toggle_node("Old").await;
        browser.set_text("#output", old.to_str().unwrap()).await;
        browser
            .wait_text("#estimate-size", "(1 image)", Duration::from_secs(20))
            .await;
        create_enabled(&browser).await;
        create(&browser, &old).await;
        let old_package = verified(&old);
        let left_out: u64 = old_package.manifest().images[0]
            .layers
            .iter()
            .map(|l| l.size)
            .sum();

        // The new image on the same two layers: they are left out.
        browser.toggle_node("Old").await;
        browser.toggle_node("New").await;
        let update = home.path().join("update.zip");
        browser.set_text("#output", update.to_str().unwrap()).await;
        browser.set_text("#since", old.to_str().unwrap()).await;
        browser
            .wait_text(
                "#estimate-size",
                "old package holds",
                Duration::from_secs(20),
            )
            .await;
        let size = browser.text("#estimate-size").await;
        assert!(
            size.ends_with(&format!(
                "(1 image), without the {} the old package holds",
                human(left_out)
            )),
            "{size}"
        );
        create_enabled(&browser).await;
        create(&browser, &update).await;
        let package = verified(&update);
        let base = package.manifest().base.clone().unwrap();
        assert_eq!(base.package_id, old_package.id());
        assert_eq!(base.blobs.len(), 2, "the two shared layers: {base:?}");
        assert_eq!(base.savings(), left_out);
        assert!(browser
            .text("#result-base")
            .await
            .ends_with(&format!("{} left out", human(left_out))));
        browser.quit().await;
        server.stop().await;
    });
}

/// The estimate of `App` read from its registry, asked of a new GUI whose
/// logins come from the hanging credential helper in `home`, stopped
/// after `time_limit`; returns the answer's body and how long it took.
async fn estimate_with_hanging_helper(home: &Path, time_limit: Duration) -> (String, Duration) {
    // A registry that asks for a login.
    let registry = Endpoint::start(
        "127.0.0.1".parse().unwrap(),
        "401 Unauthorized",
        &[("WWW-Authenticate", "Basic realm=\"testkit\"")],
    );
    let helper = home.join("docker-credential-hanging");
    std::fs::write(
        &helper,
        format!("#!/bin/sh\n{}\n", hanging_script(&home.join("pids"))),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::write(home.join("config.json"), r#"{"credsStore":"hanging"}"#).unwrap();
    let catalog = support::catalog(
        home,
        &[("App", &format!("{}/team/app:1", registry.host()), 9321)],
    );
    let mut options = options(catalog, None, home);
    let mut path = home.as_os_str().to_owned();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    options.auth = RegistryAuth {
        docker_config: Some(home.join("config.json")),
        helper_path: Some(path),
        helper_time_limit: time_limit,
        ..RegistryAuth::default()
    };
    let server = Server::start(options).await;
    let form = serde_json::json!({
        "nodes": ["App"],
        "output": home.join("p.zip"),
        "compression": "none",
        "from_registry": true,
    });
    let started = std::time::Instant::now();
    let reply = server
        .post("/api/package/estimate", &form.to_string())
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, 200, "{}", reply.body);
    server.stop().await;
    (reply.body, took)
}

fn a_hanging_credential_helper_never_outlives_its_request() {
    run(Duration::from_secs(120), async {
        // Stopped at its time limit, with its child: the estimate says so.
        let home = tempfile::tempdir().unwrap();
        let (body, took) = estimate_with_hanging_helper(home.path(), Duration::from_secs(1)).await;
        assert!(
            body.contains("docker-credential-hanging")
                && body.contains("did not answer within 1 s and was stopped"),
            "{body}"
        );
        assert!(took < Duration::from_secs(10), "{took:?}");
        wait_ended(&home.path().join("pids"), 2, Duration::from_secs(5));

        // With its 30 s: the estimate gives up first (20 s), and the helper
        // goes with the request.
        let home = tempfile::tempdir().unwrap();
        let (body, _) = estimate_with_hanging_helper(home.path(), Duration::from_secs(30)).await;
        assert!(body.contains("did not answer within 20 s"), "{body}");
        wait_ended(&home.path().join("pids"), 2, Duration::from_secs(5));
    });
}
