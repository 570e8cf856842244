//! End to end in Chromium: pick nodes, see the warnings and the deploy
//! button's state, create a package and watch its progress reach 100 %,
//! then a refused second press and a cancelled build.

use std::time::Duration;

use budgetguard::package::Package;
use budgetguard::progress::Silent;
use budgetguard::Cancel;
use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, files_in, options, Browser, Server};

/// A registry that accepts connections and never answers: a pull from it
/// waits until cancelled.
async fn silent_registry() -> (u16, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((connection, _)) = listener.accept().await {
            held.push(connection);
        }
    });
    (port, task)
}

#[tokio::test(flavor = "multi_thread")]
async fn create_a_package_in_the_browser() {
    let Some(engine) = engines::primary() else {
        return;
    };
    let spec = ImageSpec {
        reference: images::unique_reference("gui"),
        layers: vec![Layer::Random(96 << 20, 1), Layer::Compressible(32 << 20, 2)],
    };
    let _image = images::load(&engine, std::slice::from_ref(&spec));
    let (registry, registry_task) = silent_registry().await;
    let hanging = format!("127.0.0.1:{registry}/budgetguard-test/never:1");
    let home = tempfile::tempdir().unwrap();
    let catalog = support::catalog(
        home.path(),
        &[
            ("GUI Test", &spec.reference, 9201),
            ("GUI Clash", &spec.reference, 9201),
            ("GUI Never", &hanging, 9202),
        ],
    );
    let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
    let browser = Browser::start().await;
    browser.driver.goto(&server.url).await.unwrap();
    assert!(browser
        .driver
        .title()
        .await
        .unwrap()
        .starts_with("Nodes & packages"));
    browser.screenshot("1-nodes-laptop").await;

    // GPU nodes cannot be deployed on this machine (no NVIDIA runtime); Demo can.
    let nvidia = engine
        .docker_ok(&["info", "--format", "{{json .Runtimes}}"])
        .contains("nvidia");
    let deploy = browser.find("#deploy-button").await;
    assert!(!deploy.is_enabled().await.unwrap(), "nothing selected yet");
    assert_eq!(
        browser.text("#deploy-reasons").await,
        "Select the nodes to deploy."
    );
    browser.toggle_node("FLUX Dev").await;
    browser.toggle_node("FLUX Canny").await;
    let warnings = browser.text("#selection-warnings").await;
    assert!(
        warnings.contains("FLUX Dev and FLUX Canny need a GPU each"),
        "{warnings}"
    );
    if !nvidia {
        assert!(!deploy.is_enabled().await.unwrap());
        let reasons = browser.text("#deploy-reasons").await;
        assert!(
            reasons.contains("`FLUX Dev` needs an NVIDIA GPU"),
            "{reasons}"
        );
        assert!(
            reasons.contains("`FLUX Canny` needs an NVIDIA GPU"),
            "{reasons}"
        );
    }
    browser.screenshot("2-gpu-nodes-selected").await;
    browser.toggle_node("FLUX Dev").await;
    browser.toggle_node("FLUX Canny").await;
    browser.toggle_node("Demo").await;
    assert!(deploy.is_enabled().await.unwrap(), "Demo needs no GPU");
    assert_eq!(browser.text("#deploy-reasons").await, "");
    browser.toggle_node("Demo").await;

    // Two nodes on one host port.
    browser.toggle_node("GUI Test").await;
    browser.toggle_node("GUI Clash").await;
    let warnings = browser.text("#selection-warnings").await;
    assert!(
        warnings.contains("GUI Test and GUI Clash all want host port 9201"),
        "{warnings}"
    );
    browser.toggle_node("GUI Clash").await;
    assert_eq!(browser.text("#selection-warnings").await, "");

    // Create the package and watch the bar.
    let out = home.path().join("out");
    std::fs::create_dir(&out).unwrap();
    let output = out.join("gui-package.zip");
    let field = browser.find("#output").await;
    field.clear().await.unwrap();
    field.send_keys(output.to_str().unwrap()).await.unwrap();
    browser
        .find("input[name='compression'][value='zstd']")
        .await
        .click()
        .await
        .unwrap();
    browser.find("#create-button").await.click().await.unwrap();
    let mut seen: Vec<u8> = Vec::new();
    let started = std::time::Instant::now();
    while !browser.shown("#result-package-id").await {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "no package after 5 minutes: {}",
            browser.text("#job").await
        );
        let bar = browser.find("#job-bar").await;
        if let Some(percent) = bar.attr("aria-valuenow").await.unwrap() {
            let percent: u8 = percent.parse().unwrap();
            if seen.last() != Some(&percent) {
                if percent > 0 && percent < 100 && seen.iter().all(|p| *p == 0 || *p == 100) {
                    browser.screenshot("3-package-progress").await;
                }
                seen.push(percent);
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bar = browser.find("#job-bar").await;
    if let Some(percent) = bar.attr("aria-valuenow").await.unwrap() {
        seen.push(percent.parse().unwrap());
    }
    assert_eq!(seen.last(), Some(&100), "the bar reached 100 %: {seen:?}");
    assert_eq!(browser.text("#job-percent").await, "100%");
    assert!(!browser.shown("#cancel-button").await);
    browser.screenshot("4-package-created").await;

    // The page tells the truth about the file.
    assert_eq!(files_in(&out), ["gui-package.zip"]);
    let package = Package::open(&output).unwrap();
    package.verify(&Silent, &Cancel::new()).unwrap();
    assert_eq!(browser.text("#result-path").await, output.to_str().unwrap());
    // The package id is the SHA-256 of the manifest, as Python reads it.
    let id = std::process::Command::new("python3")
        .args(["-c", "import sys,zipfile,hashlib; print(hashlib.sha256(zipfile.ZipFile(sys.argv[1]).read('budgetguard-package.json')).hexdigest())"])
        .arg(&output)
        .output()
        .unwrap();
    assert_eq!(
        browser.text("#result-package-id").await,
        String::from_utf8(id.stdout).unwrap().trim()
    );
    assert_eq!(
        browser.text("#result-command").await,
        "budgetguard-techops install-package --package gui-package.zip"
    );
    let outcome = browser.text("#job-outcome").await;
    assert!(outcome.contains("GUI Test"), "{outcome}");
    assert!(outcome.contains(&spec.reference), "{outcome}");
    assert!(outcome.contains("zstd"), "{outcome}");

    // The same output again: the library's refusal, word for word.
    browser.find("#create-button").await.click().await.unwrap();
    browser
        .wait_for("the refusal", Duration::from_secs(60), || {
            browser.shown(".outcome-error")
        })
        .await;
    let error = browser.text("#result-error").await;
    assert_eq!(error, format!("`{}` already exists", output.display()));
    browser.screenshot("5-output-exists").await;

    // A build that waits on a silent registry: a second press is refused,
    // and cancel stops it without leaving a file.
    browser.toggle_node("GUI Test").await;
    browser.toggle_node("GUI Never").await;
    let never = out.join("never.zip");
    field.clear().await.unwrap();
    field.send_keys(never.to_str().unwrap()).await.unwrap();
    browser.find("#create-button").await.click().await.unwrap();
    browser
        .wait_for("the pull to start", Duration::from_secs(60), || async {
            browser.text("#job-step").await.starts_with("Pulling")
        })
        .await;
    browser.find("#create-button").await.click().await.unwrap();
    browser
        .wait_for(
            "the second press to be refused",
            Duration::from_secs(10),
            || async {
                browser
                    .text("#create-message")
                    .await
                    .contains("A package is being created")
            },
        )
        .await;
    browser.screenshot("6-busy").await;
    browser.find("#cancel-button").await.click().await.unwrap();
    browser
        .wait_for("the build to stop", Duration::from_secs(60), || {
            browser.shown(".outcome-neutral")
        })
        .await;
    assert_eq!(
        browser.text("#result-error").await,
        "interrupted; no package was written"
    );
    browser.screenshot("7-cancelled").await;
    assert_eq!(
        files_in(&out),
        ["gui-package.zip"],
        "nothing beside the first package"
    );

    // The other page, and the main page at desktop width.
    browser
        .find("nav a[href^='/installed']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for("the installed page", Duration::from_secs(10), || {
            browser.shown("#installed")
        })
        .await;
    assert!(browser
        .text("#installed")
        .await
        .contains("No node is installed here yet"));
    browser.screenshot("8-installed-empty").await;
    browser.resize(1680, 1000).await;
    browser.driver.goto(&server.url).await.unwrap();
    browser.screenshot("9-nodes-desktop").await;

    browser.quit().await;
    server.stop().await;
    registry_task.abort();
}
