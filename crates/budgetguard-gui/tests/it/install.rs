//! The workstation's side in the browser: a Demo package made on one engine
//! is inspected and installed from the GUI into another engine, started,
//! and uninstalled from the Installed page; and a package whose texts are
//! hostile markup shows them as text, never as markup.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use budgetguard::engine::{Engine, RegistryAuth};
use budgetguard::package::{create_package, zip::Compression, CreateOptions};
use budgetguard::progress::Silent;
use budgetguard::Cancel;
use testkit::engines::{self, TestEngine};
use testkit::fixtures::demo_copy;
use testkit::images::{self, ImageGuard, ImageSpec, Layer};

use crate::support::{self, free_port, options, run, within, Browser, NodeCleanup, Server};

testkit::tests![
    install_a_demo_package_into_another_engine_from_the_browser,
    a_hostile_package_shows_its_texts_as_text
];

/// Makes a package of `nodes` from `engine` at `output`.
async fn make_package(
    engine: &TestEngine,
    catalog_dir: &Path,
    nodes: &[(&str, &str, u16)],
    output: PathBuf,
) -> PathBuf {
    let catalog = support::catalog(catalog_dir, nodes);
    let names: Vec<&str> = nodes.iter().map(|(name, _, _)| *name).collect();
    make_package_of(engine, catalog.select_names(names).unwrap(), output).await
}

/// Makes the package `home/<file>` of the one catalog node `node` (its
/// catalog JSON) from `engine`: the node, the package, and the guard that
/// removes the node's container and claim.
pub(crate) async fn package_of_node(
    engine: &TestEngine,
    home: &Path,
    node: serde_json::Value,
    file: &str,
) -> (budgetguard::catalog::Node, PathBuf, NodeCleanup) {
    let catalog_file = home.join(format!("{file}.catalog.json"));
    let name = node["name"].as_str().expect("a node name").to_owned();
    std::fs::write(
        &catalog_file,
        serde_json::json!({ "nodes": [node] }).to_string(),
    )
    .unwrap();
    let node = Catalog::load(Some(&catalog_file), true)
        .unwrap()
        .get(&name)
        .unwrap()
        .clone();
    let package = make_package_of(engine, vec![node.clone()], home.join(file)).await;
    let cleanup = NodeCleanup {
        engine: engine.clone(),
        project: compose::project_name(&node),
    };
    (node, package, cleanup)
}

/// Makes a package of the catalog nodes `nodes` from `engine` at `output`.
async fn make_package_of(
    engine: &TestEngine,
    nodes: Vec<budgetguard::catalog::Node>,
    output: PathBuf,
) -> PathBuf {
    let connected = Engine::connect(Some(&engine.host)).await.unwrap();
    let options = CreateOptions {
        nodes,
        output: output.clone(),
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
        "making the package",
        Duration::from_secs(300),
        create_package(Some(&connected), &options, Arc::new(Silent), &Cancel::new()),
    )
    .await
    .unwrap();
    output
}

/// A Demo node's package made on the first engine, to install into
/// another one (when there is one: its image then travels only in the
/// package) through a GUI: the guards remove the image copy, the image the
/// install loads and the node's container when dropped.
pub(crate) struct DemoSetup {
    // Dropped first: the node before the images it uses.
    _cleanup: NodeCleanup,
    _loaded: ImageGuard,
    _copy: ImageGuard,
    pub home: tempfile::TempDir,
    pub source: TestEngine,
    pub target: TestEngine,
    pub demo: String,
    pub name: String,
    pub port: u16,
    pub node: budgetguard::catalog::Node,
    pub package: PathBuf,
    /// The GUI's home: its install folder and settings.
    pub workstation: PathBuf,
    pub server: Server,
}

impl DemoSetup {
    /// The package of the node `name` (tagged `tag`) as `home/<file>`, and
    /// a GUI on the target engine.
    pub(crate) async fn new(tag: &str, name: String, file: &str) -> Self {
        let all = engines::require_available();
        let source = all[0].clone();
        let target = all.get(1).unwrap_or(&source).clone();
        let (demo, copy) = demo_copy(&source, tag);
        let home = tempfile::tempdir().unwrap();
        let port = free_port();
        let output = home.path().join(file);
        std::fs::create_dir_all(output.parent().unwrap()).unwrap();
        let package = make_package(&source, home.path(), &[(&name, &demo, port)], output).await;
        let loaded = ImageGuard::new(&target, vec![demo.clone()]);
        let node = Catalog::load(Some(&home.path().join("catalog.json")), true)
            .unwrap()
            .get(&name)
            .unwrap()
            .clone();
        let cleanup = NodeCleanup {
            engine: target.clone(),
            project: compose::project_name(&node),
        };
        let workstation = home.path().join("workstation");
        std::fs::create_dir(&workstation).unwrap();
        let server = Server::start(options(
            Catalog::builtin(),
            Some(&target.host),
            &workstation,
        ))
        .await;
        Self {
            home,
            source,
            target,
            demo,
            name,
            port,
            node,
            package,
            workstation,
            server,
            _copy: copy,
            _loaded: loaded,
            _cleanup: cleanup,
        }
    }
}

fn install_a_demo_package_into_another_engine_from_the_browser() {
    run(Duration::from_secs(900), async {
        let setup = DemoSetup::new(
            "gui-install",
            format!("GUI Install {}", std::process::id()),
            "demo.zip",
        )
        .await;
        let DemoSetup {
            ref source,
            ref target,
            ref demo,
            ref name,
            port,
            ref node,
            ref package,
            ref workstation,
            ..
        } = setup;
        let server = &setup.server;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        assert!(!browser.enabled("#install-button").await);
        assert_eq!(
            browser.text("#install-reasons").await,
            "Enter the path of the package file."
        );

        // A name that is no ZIP is refused at the field.
        browser.set_text("#package-path", "/tmp/package.tar").await;
        browser
            .wait_text(
                "#package-path-error",
                "must end in .zip",
                Duration::from_secs(5),
            )
            .await;

        // Inspect first: what it holds, and what is here already.
        browser
            .set_text("#package-path", package.to_str().unwrap())
            .await;
        assert_eq!(
            browser.text("#install-reasons").await,
            "Inspect the package first."
        );
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", "unsigned", Duration::from_secs(30))
            .await;
        let inspection = browser.text("#inspection").await;
        assert!(inspection.contains(name.as_str()), "{inspection}");
        assert!(inspection.contains(demo.as_str()), "{inspection}");
        assert!(inspection.contains("Not installed"), "{inspection}");
        assert_eq!(
            browser.text("#inspected-start").await,
            "The nodes stay stopped (set at Create)"
        );
        assert_eq!(
            browser.text("#start-as-package").await,
            "(the nodes stay stopped)"
        );
        if target != source {
            assert!(inspection.contains("To load"), "{inspection}");
        }
        browser.screenshot("20-install-inspected").await;

        // Install, starting the nodes although the package says not to.
        browser.click("input[name='start'][value='start']").await;
        assert!(browser.enabled("#install-button").await);
        let steps = browser.install_package(Duration::from_secs(600)).await;
        let nodes = browser.text("#result-nodes").await;
        assert!(nodes.contains("Ready"), "{nodes}");
        assert!(
            nodes.contains(&format!("http://localhost:{port}/v1/infer")),
            "{nodes}"
        );
        assert!(
            steps.iter().any(|s| s == "Loading images") || target == source,
            "the load showed progress: {steps:?}"
        );
        browser.screenshot("21-installed-from-gui").await;
        // Inspect again: now it is installed here.
        browser
            .wait_text(
                "#inspection",
                "Installed, same settings",
                Duration::from_secs(30),
            )
            .await;

        // The node runs, on the Installed page; uninstall it from there.
        browser.click("nav a[href^='/installed']").await;
        browser
            .wait_for("the node to be ready", Duration::from_secs(120), || async {
                browser.shown("#installed .state-ok").await
            })
            .await;
        assert!(browser.text("#installed").await.contains(name.as_str()));
        browser.click("button[data-uninstall]").await;
        browser.click("#uninstall-purge").await;
        browser.click("#uninstall-confirm").await;
        browser
            .wait_text("#job-title", "Uninstalled", Duration::from_secs(120))
            .await;
        assert!(browser
            .text("#result-uninstalled")
            .await
            .contains("model cache deleted"));
        browser
            .wait_text(
                "#installed",
                "No node is installed here yet",
                Duration::from_secs(30),
            )
            .await;
        let cache = workstation
            .join("install/compose")
            .join(node.service_name())
            .join("cache");
        assert!(!cache.exists(), "the cache went, as asked");
        if target != source {
            let kept = target
                .docker()
                .args(["image", "inspect", demo])
                .output()
                .unwrap();
            assert!(
                !kept.status.success(),
                "the image the install loaded is removed with its last node"
            );
        }
        setup.server.stop().await;
        browser.quit().await;
    });
}

/// Markup in a node's name and a package's file name: a page that inserted
/// it as HTML would grow an `<img>` (whose handler the CSP would block
/// anyway); shown escaped, it is plain text.
const HOSTILE: &str = "\"><img src=x onerror=alert(1)>";

fn a_hostile_package_shows_its_texts_as_text() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-hostile"),
            layers: vec![Layer::Random(1 << 20, 5)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        let home = tempfile::tempdir().unwrap();
        let out = home.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let file = out.join(format!("{HOSTILE}.zip"));
        make_package(
            &engine,
            home.path(),
            &[(HOSTILE, &spec.reference, free_port())],
            file.clone(),
        )
        .await;

        let mut gui = options(Catalog::builtin(), Some(&engine.host), home.path());
        gui.default_output = out.join("next.zip");
        let server = Server::start(gui).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        browser
            .wait_text("#packages", HOSTILE, Duration::from_secs(20))
            .await;
        browser.click("#packages button[data-inspect]").await;
        browser
            .wait_text("#inspection", "unsigned", Duration::from_secs(20))
            .await;
        assert!(browser.text("#inspection").await.contains(HOSTILE));
        assert_eq!(
            browser.text("#inspected-path").await,
            file.display().to_string()
        );
        let images = browser
            .js("return document.querySelectorAll('img').length")
            .await;
        assert_eq!(images, serde_json::json!(0), "no markup from the package");
        browser.screenshot("22-hostile-inspected").await;

        // The Install page's Inspect, too.
        browser.go_to_install_page().await;
        browser
            .set_text("#package-path", file.to_str().unwrap())
            .await;
        browser.click("#inspect-button").await;
        browser
            .wait_text("#inspection", HOSTILE, Duration::from_secs(20))
            .await;
        let images = browser
            .js("return document.querySelectorAll('img').length")
            .await;
        assert_eq!(images, serde_json::json!(0), "no markup from the package");
        assert!(
            browser.driver.get_alert_text().await.is_err(),
            "no script ran"
        );
        server.stop().await;
        browser.quit().await;
    });
}
