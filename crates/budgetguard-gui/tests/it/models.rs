//! Models in the browser: a Demo node's model cache, filled at Create by
//! the image's own `download-to-cache` from a model server on loopback, is
//! shown in the Nodes table and the estimate before and after, carried in
//! the package (inspected), and written on install.

use std::path::Path;
use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use budgetguard::credentials::Credentials;
use budgetguard::package::Package;
use testkit::engines;
use testkit::fixtures::demo_copy;
use testkit::model_server::ModelServer;

use crate::support::{free_port, options, run, Browser, NodeCleanup, Server};

testkit::tests![create_a_package_with_models_in_the_browser];

/// The bearer token the model server wants, as NGC would.
const TOKEN: &str = "nvapi-gui-model-token";

/// A catalog with one Demo node of `image` whose models are the cache
/// `cache`, downloaded from `server` (its URL in the node's environment,
/// which the fill's container gets).
fn model_catalog(
    dir: &Path,
    name: &str,
    image: &str,
    cache: &str,
    port: u16,
    server: &str,
) -> Catalog {
    let node = serde_json::json!({
        "name": name, "image": image, "host_port": port, "variant": "base",
        "cache_mount": "/opt/nim/.cache",
        "credentials": ["NGC_API_KEY"],
        "environment": {"DEMO_NIM_MODEL_SERVER": server},
        "model": {
            "cache": cache,
            "fill": ["download-to-cache", "--profiles", "{profiles}"],
            "fill_all": ["download-to-cache", "--all"],
            "list": ["list-model-profiles"],
            "profiles": ["demo-base-cpu"],
            "credentials": ["NGC_API_KEY"],
        }
    });
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::json!({ "nodes": [node] }).to_string()).unwrap();
    Catalog::load(Some(&path), true).unwrap()
}

fn create_a_package_with_models_in_the_browser() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
        let (demo, _copy) = demo_copy(&engine, "gui-models");
        let models = ModelServer::demo(2 << 20);
        models.set_token(Some(TOKEN));
        let home = tempfile::tempdir().unwrap();
        let name = format!("GUI Models {}", std::process::id());
        let cache = format!("gui-models-{}", std::process::id());
        let port = free_port();
        let catalog = model_catalog(home.path(), &name, &demo, &cache, port, &models.url());
        let node = catalog.get(&name).unwrap().clone();
        let _cleanup = NodeCleanup {
            engine: engine.clone(),
            project: compose::project_name(&node),
        };
        // The fill's secret, stored as `install-credentials` stores it.
        Credentials {
            ngc_api_key: Some(TOKEN.to_owned()),
            hf_token: None,
        }
        .store(&home.path().join("install/credentials.env"))
        .unwrap();
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();

        // Before: nothing held here, so the models are downloaded at Create.
        let row = format!("tr:has(input[value='{name}'])");
        let model = browser.text(&format!("{row} .model")).await;
        assert!(model.contains(&cache), "{model}");
        assert!(
            model.contains("downloaded at Create (demo-base-cpu)"),
            "{model}"
        );
        assert!(browser.find("#models").await.is_selected().await.unwrap());
        browser.toggle_node(&name).await;
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let output = out.join("models.zip");
        browser.set_text("#output", output.to_str().unwrap()).await;
        browser
            .wait_text(
                "#estimate-size",
                &format!("plus models to download ({cache})"),
                Duration::from_secs(20),
            )
            .await;
        assert_eq!(
            browser.text("#estimate-models").await,
            format!("{cache} (demo-base-cpu): downloaded at Create")
        );

        // A profile for a cache no selected node uses: said at the field.
        browser.set_text("#profiles", "flux-dev=abc").await;
        browser
            .wait_text(
                "#profiles-error",
                "No selected node uses a model cache called “flux-dev”",
                Duration::from_secs(20),
            )
            .await;
        assert!(!browser.enabled("#create-button").await);
        browser.set_text("#profiles", "demo-base-cpu").await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(20), || async {
                browser.enabled("#create-button").await
            })
            .await;
        assert_eq!(browser.text("#profiles-error").await, "");
        browser.screenshot("30-models-estimate").await;

        // Create: the download, then the models into the package.
        browser.click("#create-button").await;
        let mut steps: Vec<String> = Vec::new();
        let began = std::time::Instant::now();
        while !browser.shown("#result-package-id").await {
            assert!(
                !browser.shown(".outcome-error").await,
                "Create failed: {}",
                browser.text("#job").await
            );
            assert!(
                began.elapsed() < Duration::from_secs(300),
                "no package after 5 minutes: {}",
                browser.text("#job").await
            );
            let step = browser.text("#job-step").await;
            if steps.last() != Some(&step) && !step.is_empty() {
                if step.starts_with("Downloading models") {
                    browser.screenshot("31-models-downloading").await;
                }
                steps.push(step);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(
            steps.contains(&format!("Downloading models ({cache})")),
            "{steps:?}"
        );
        assert_eq!(browser.text("#job-title").await, "Package created");
        let listed = browser.text("#result-models").await;
        assert!(listed.contains(&cache), "{listed}");
        assert!(listed.contains("demo-base-cpu"), "{listed}");
        assert!(
            listed.contains(&format!("{name} start offline")),
            "{listed}"
        );
        assert!(
            !browser.shown("#result-credentials").await,
            "a node that starts offline needs no credentials on the workstation"
        );
        assert_eq!(
            models.total_file_requests(),
            models.files("demo-base-cpu").len() as u64
        );
        browser
            .wait_text("#packages", "models.zip", Duration::from_secs(10))
            .await;
        browser
            .wait_text(
                &format!("{row} .model"),
                "demo-base-cpu ·",
                Duration::from_secs(10),
            )
            .await;
        // The README's picture: the file may be replaced now. (Ticked again
        // should a live refresh have drawn the form anew meanwhile.)
        browser.click("#force").await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(20), || async {
                if !browser
                    .find("#force")
                    .await
                    .is_selected()
                    .await
                    .unwrap_or(true)
                {
                    browser.click("#force").await;
                }
                browser.enabled("#create-button").await
            })
            .await;
        browser.screenshot("32-models-created").await;
        browser.click("#force").await;
        let package = Package::open(&output).unwrap();
        let manifest = package.manifest();
        assert_eq!(manifest.format_version, 2);
        assert_eq!(manifest.caches[0].name, cache);
        assert_eq!(manifest.caches[0].profiles[0].id, "demo-base-cpu");
        assert_eq!(
            manifest.nodes[0].model_cache.as_deref(),
            Some(cache.as_str())
        );

        // After: the cache is held here, with its size (the table says so
        // without a reload), and counts in the estimate.
        browser.driver.refresh().await.unwrap();
        let model = browser.text(&format!("{row} .model")).await;
        assert!(model.contains("demo-base-cpu ·"), "{model}");
        assert!(model.ends_with("KiB") || model.ends_with("MiB"), "{model}");
        browser.toggle_node(&name).await;
        browser
            .wait_text(
                "#estimate-models",
                "on this machine",
                Duration::from_secs(20),
            )
            .await;
        let size = browser.text("#estimate-size").await;
        assert!(size.contains(", models "), "{size}");
        assert!(!size.contains("download"), "{size}");

        // Inspect: the cache, its profile, the node starting offline.
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_text("#inspected-caches", &cache, Duration::from_secs(20))
            .await;
        let caches = browser.text("#inspected-caches").await;
        assert!(caches.contains("demo-base-cpu"), "{caches}");
        assert!(caches.contains(&format!("for {name}")), "{caches}");
        assert!(browser
            .text(".inspected-nodes .node-model")
            .await
            .contains("Starts offline"));
        browser.screenshot("33-models-inspected").await;

        // Install it here, stopped: the models are written.
        browser.go_to_install_page().await;
        browser
            .set_text("#package-path", output.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", &cache, Duration::from_secs(30))
            .await;
        browser.click("input[name='start'][value='stop']").await;
        let steps = browser.install_package(Duration::from_secs(300)).await;
        let written = browser.text("#result-installed-models").await;
        assert!(written.contains("written"), "{written} (steps: {steps:?})");
        assert!(browser.text("#result-signer").await.starts_with("Nobody"));
        browser.screenshot("34-models-installed").await;
        let placed = home.path().join("install/models").join(&cache);
        assert!(placed.is_dir(), "the cache is written on the workstation");
        server.stop().await;
        browser.quit().await;
    });
}
