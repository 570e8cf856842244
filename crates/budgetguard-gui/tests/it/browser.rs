//! End to end in Chromium: pick nodes, see the warnings and the deploy
//! button's state, create a package and watch its progress reach 100 %,
//! then a refused second press and a cancelled build.

use std::time::Duration;

use budgetguard::package::Package;
use budgetguard::progress::Silent;
use budgetguard::Cancel;
use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, files_in, options, run, Browser, Server, Tmpfs};

testkit::tests![create_a_package_in_the_browser];

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

fn create_a_package_in_the_browser() {
    run(Duration::from_secs(600), async {
        let engine = engines::require_primary();
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
        assert!(browser.text("#engine-status").await.starts_with("Docker "));

        // GPU nodes are not refused for want of an `nvidia` runtime: the
        // deploy's GPU probe decides.
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
        assert!(deploy.is_enabled().await.unwrap());
        assert_eq!(browser.text("#deploy-reasons").await, "");
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

        // Before building: the image's size and where it comes from.
        let row = |name: &str| format!("tr:has(input[value='{name}'])");
        assert_eq!(
            browser
                .text(&format!("{} .image-source", row("GUI Test")))
                .await,
            "In Docker"
        );
        assert!(browser
            .text(&format!("{} .image-size", row("GUI Test")))
            .await
            .ends_with("MiB"));
        // Its registry is asked whether it could be pulled: it never answers.
        browser
            .wait_text(
                &format!("{} .image-source", row("GUI Never")),
                "Registry slow to answer",
                Duration::from_secs(30),
            )
            .await;

        // Create the package and watch the bar.
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let output = out.join("gui-package.zip");
        // A name that is no ZIP is refused at the field, and Create says why.
        browser
            .set_text(
                "#output",
                &out.join("gui-package.tar").display().to_string(),
            )
            .await;
        browser
            .wait_text("#output-error", "must end in .zip", Duration::from_secs(10))
            .await;
        assert!(!browser.enabled("#create-button").await);
        assert!(browser
            .text("#create-reasons")
            .await
            .contains("must end in .zip"));
        browser.set_text("#output", output.to_str().unwrap()).await;
        browser
            .wait_text("#estimate-size", "(1 image)", Duration::from_secs(20))
            .await;
        let size = browser.text("#estimate-size").await;
        assert!(size.starts_with("About 1"), "{size}");
        // The free space of the folder now chosen (an earlier estimate may
        // still show another folder's for a moment).
        browser
            .wait_text(
                "#estimate-space",
                out.to_str().unwrap(),
                Duration::from_secs(10),
            )
            .await;
        assert!(browser.text("#estimate-space").await.contains("free in"));
        assert_eq!(browser.text("#output-error").await, "");
        assert!(
            browser.enabled("#create-button").await,
            "{}",
            browser.text("#create-reasons").await
        );
        browser.click("#start_after_install").await;
        browser.screenshot("2b-estimate").await;
        browser.click("#create-button").await;
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
        assert_eq!(browser.text("#job-title").await, "Package created");
        assert!(!browser.shown("#cancel-button").await);
        browser
            .wait_text("#packages", "gui-package.zip", Duration::from_secs(10))
            .await;
        browser.screenshot("4-package-created").await;

        // The page tells the truth about the file.
        assert_eq!(files_in(&out), ["gui-package.zip"]);
        let package = Package::open(&output).unwrap();
        package.verify(&Silent, &Cancel::new()).unwrap();
        assert!(package.manifest().start_after_install);
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
        // The hand-off names the files, not this machine's path.
        let steps = browser.text("#handoff-steps").await;
        assert!(
            steps.contains("Copy the package gui-package.zip"),
            "{steps}"
        );
        assert!(steps.contains("Install a package"), "{steps}");
        assert!(!steps.contains(out.to_str().unwrap()), "{steps}");
        browser.reveal("#result-command").await;
        assert_eq!(
            browser.text("#result-command").await,
            "budgetguard-techops install-package --package gui-package.zip --start"
        );
        assert_eq!(
            browser.text("#result-fallback").await,
            "unzip -q gui-package.zip -d gui-package && cd gui-package && sh install/install.sh --start"
        );
        assert!(
            !browser.shown("#result-credentials").await,
            "GUI Test needs none"
        );
        assert!(browser
            .text("#result-size")
            .await
            .contains(&format!("({} bytes)", package.file_size())));
        let outcome = browser.text("#job-outcome").await;
        assert!(outcome.contains("GUI Test"), "{outcome}");
        assert!(outcome.contains(&spec.reference), "{outcome}");

        // The packages of the output folder, with Inspect and Verify.
        browser
            .wait_text("#packages", "gui-package.zip", Duration::from_secs(10))
            .await;
        assert!(browser.text("#packages").await.contains("GUI Test"));
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_text("#inspection", "unsigned", Duration::from_secs(20))
            .await;
        assert_eq!(
            browser.text("#inspected-id").await,
            browser.text("#result-package-id").await
        );
        assert_eq!(
            browser.text("#inspected-start").await,
            "The nodes start (set at Create)"
        );
        assert!(browser.text("#inspection").await.contains("GUI Test"));
        browser.screenshot("4b-inspected").await;
        browser.click("#packages button[data-verify]").await;
        browser
            .wait_text("#job-title", "Package verified", Duration::from_secs(120))
            .await;
        assert!(browser
            .text("#result-verified")
            .await
            .contains("match the manifest"));
        browser.screenshot("4c-verified").await;

        // A reload keeps the output path and the options.
        browser.driver.refresh().await.unwrap();
        assert_eq!(
            browser
                .find("#output")
                .await
                .prop("value")
                .await
                .unwrap()
                .as_deref(),
            Some(output.to_str().unwrap())
        );
        assert!(browser
            .find("#start_after_install")
            .await
            .is_selected()
            .await
            .unwrap());
        // The last job's card is still there after the reload.
        assert_eq!(browser.text("#job-title").await, "Package verified");

        // The same output again: Create says why not, at the field, in the
        // GUI's words.
        browser.toggle_node("GUI Test").await;
        browser
            .wait_text("#output-error", "already exists", Duration::from_secs(20))
            .await;
        let error = browser.text("#output-error").await;
        assert!(
            error.contains("tick “Replace the file if it exists”"),
            "{error}"
        );
        assert!(!error.contains("--"), "{error}");
        assert!(!browser.enabled("#create-button").await);
        browser.screenshot("5-output-exists").await;
        browser.click("#force").await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(20), || async {
                browser.enabled("#create-button").await
            })
            .await;
        browser.click("#force").await;
        browser.toggle_node("GUI Test").await;

        // A build that waits on a silent registry: Create is disabled while it
        // runs, and cancel stops it without leaving a file.
        browser.toggle_node("GUI Never").await;
        let never = out.join("never.zip");
        browser.set_text("#output", never.to_str().unwrap()).await;
        browser
            .wait_for("Create to be enabled", Duration::from_secs(20), || async {
                browser.enabled("#create-button").await
            })
            .await;
        browser.click("#create-button").await;
        browser
            .wait_for("the pull to start", Duration::from_secs(60), || async {
                browser.text("#job-step").await.starts_with("Pulling")
            })
            .await;
        assert!(!browser.enabled("#create-button").await);
        assert!(browser
            .text("#create-reasons")
            .await
            .contains("A job is running"));
        browser.screenshot("6-busy").await;
        browser.click("#cancel-button").await;
        browser
            .wait_for("the build to stop", Duration::from_secs(60), || {
                browser.shown(".outcome-neutral")
            })
            .await;
        assert_eq!(browser.text("#job-title").await, "Create cancelled");
        assert_eq!(
            browser.text("#result-error").await,
            "Cancelled: no package was written."
        );
        browser.screenshot("7-cancelled").await;
        assert_eq!(
            files_in(&out),
            ["gui-package.zip"],
            "nothing beside the first package"
        );
        browser.toggle_node("GUI Never").await;

        // No room in the output folder: the estimate warns, Create is disabled.
        let small = Tmpfs::mount("1m");
        browser.toggle_node("GUI Test").await;
        browser
            .set_text(
                "#output",
                &small.dir.path().join("p.zip").display().to_string(),
            )
            .await;
        browser
            .wait_text("#estimate-warning", "will not fit", Duration::from_secs(20))
            .await;
        assert!(!browser.enabled("#create-button").await);
        assert!(browser
            .text("#create-reasons")
            .await
            .contains("will not fit"));
        browser.screenshot("7b-no-space").await;
        browser.toggle_node("GUI Test").await;

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
        // Readable at 800 px: nothing wider than the window but the tables,
        // which scroll in their own frame.
        browser.resize(800, 900).await;
        browser.driver.goto(&server.url).await.unwrap();
        let width = browser
            .js("return document.documentElement.scrollWidth")
            .await;
        assert!(
            width.as_u64().unwrap() <= 800,
            "the page is {width} px wide"
        );
        browser.screenshot("9b-nodes-800px").await;
        browser.quit().await;

        // Dark mode follows the system setting.
        let dark = Browser::start_dark().await;
        dark.driver.goto(&server.url).await.unwrap();
        assert_eq!(
            dark.js("return matchMedia('(prefers-color-scheme: dark)').matches")
                .await,
            serde_json::json!(true)
        );
        let background = dark
            .js("return getComputedStyle(document.body).backgroundColor")
            .await;
        assert_eq!(background, "rgb(15, 22, 29)", "the dark background");
        dark.screenshot("9c-nodes-dark").await;
        dark.quit().await;
        server.stop().await;
        registry_task.abort();
    });
}
