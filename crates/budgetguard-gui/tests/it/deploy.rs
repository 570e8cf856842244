//! Deploying the demo node from the browser: it becomes ready on the
//! Installed page, and stops from there.

use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::compose;
use testkit::engines::{self, TestEngine};

use crate::support::{self, free_port, options, Browser, Server};
use testkit::fixtures::demo_copy;

/// Removes a deployed node's container and network.
struct Deployed {
    engine: TestEngine,
    project: String,
}

impl Drop for Deployed {
    fn drop(&mut self) {
        for args in [
            vec!["rm", "-f", self.project.as_str()],
            vec!["network", "rm", &format!("{}_default", self.project)],
        ] {
            let _ = self.engine.docker().args(&args).output();
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_the_demo_node_and_stop_it() {
    let Some(engine) = engines::primary() else {
        return;
    };
    let Some((reference, _image)) = demo_copy(&engine, "gui-demo") else {
        return;
    };
    let home = tempfile::tempdir().unwrap();
    let name = format!("GUI Demo {}", std::process::id());
    let catalog: Catalog = support::catalog(home.path(), &[(&name, &reference, free_port())]);
    let node = catalog.get(&name).unwrap().clone();
    let _deployed = Deployed {
        engine: engine.clone(),
        project: compose::project_name(&node),
    };
    let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
    let browser = Browser::start().await;
    browser.driver.goto(&server.url).await.unwrap();

    browser.toggle_node(&name).await;
    let deploy = browser.find("#deploy-button").await;
    assert!(deploy.is_enabled().await.unwrap());
    deploy.click().await.unwrap();
    browser
        .wait_for("the deploy to end", Duration::from_secs(300), || async {
            browser.shown(".outcome").await && !browser.shown("#cancel-button").await
        })
        .await;
    let outcome = browser.text("#job-outcome").await;
    assert!(outcome.starts_with("Deployed"), "{outcome}");
    assert!(outcome.contains("running"), "{outcome}");
    browser.screenshot("10-deployed").await;

    browser
        .find("nav a[href^='/installed']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for("the node to be ready", Duration::from_secs(120), || async {
            browser.shown(".health-ok").await
        })
        .await;
    let table = browser.text("#installed").await;
    assert!(table.contains(&name), "{table}");
    assert!(
        table.contains(&format!("http://localhost:{}/v1/infer", node.host_port)),
        "{table}"
    );
    browser.screenshot("11-installed-running").await;

    browser
        .find("button[data-action='stop']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for("the node to stop", Duration::from_secs(120), || async {
            browser.shown("button[data-action='start']").await
        })
        .await;
    let state = browser.text("#installed .state").await;
    assert_eq!(state, "exited");
    assert_eq!(browser.text("#installed-message").await, "");
    browser.screenshot("12-installed-stopped").await;

    // Started again from the page, it becomes ready again.
    browser
        .find("button[data-action='start']")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for(
            "the node to be ready again",
            Duration::from_secs(120),
            || async { browser.shown(".health-ok").await },
        )
        .await;

    // The server stops while the page still listens to its events.
    server.stop().await;
    browser.quit().await;
}
