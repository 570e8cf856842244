//! States that stay true, in Chromium: the "Docker unreachable" banner
//! goes once Docker answers again, and comes back when it stops answering
//! (the engine's socket appears and goes, as when Docker starts and
//! stops).

use std::time::Duration;

use budgetguard::catalog::Catalog;
use testkit::engines;

use crate::support::{options, run, Browser, Server};

testkit::tests![the_docker_banner_goes_when_docker_is_back];

fn the_docker_banner_goes_when_docker_is_back() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        let Some(socket) = engine.host.strip_prefix("unix://") else {
            engines::skip("the primary engine is not on a Unix socket");
        };
        let home = tempfile::tempdir().unwrap();
        let link = home.path().join("docker.sock");
        let host = format!("unix://{}", link.display());
        let server = Server::start(options(Catalog::builtin(), Some(&host), home.path())).await;
        let browser = Browser::start().await;
        browser.open_install_page(&server.url).await;
        assert!(browser.shown("#engine-detail").await);
        assert!(browser
            .text("#engine-detail")
            .await
            .starts_with("Docker does not answer"));
        assert!(browser.text("#install-reasons").await.contains("Docker"));

        // Docker "starts": the banner and the reason go.
        std::os::unix::fs::symlink(socket, &link).unwrap();
        browser
            .wait_for("the banner to go", Duration::from_secs(30), || async {
                !browser.shown("#engine-detail.banner-down").await
            })
            .await;
        assert!(browser.text("#engine-status").await.starts_with("Docker "));
        assert!(!browser.text("#install-reasons").await.contains("Docker"));
        browser.screenshot("states-docker-back").await;

        // Docker "stops": the banner is back.
        std::fs::remove_file(&link).unwrap();
        browser
            .wait_text(
                "#engine-detail",
                "Docker does not answer",
                Duration::from_secs(30),
            )
            .await;
        assert_eq!(browser.text("#engine-status").await, "Docker unreachable");
        browser.quit().await;
        server.stop().await;
    });
}
