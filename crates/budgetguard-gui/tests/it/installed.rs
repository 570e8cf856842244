//! The Installed page over plain HTTP: a run of the install folder that did
//! not finish (its journal left by a kill) is said above the nodes, as
//! `status` says it. No engine is needed.

use std::time::Duration;

use budgetguard::catalog::Catalog;

use crate::support::{options, run, Server};

testkit::tests![an_unfinished_run_is_shown_on_the_installed_page];

fn an_unfinished_run_is_shown_on_the_installed_page() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = Server::start(options(Catalog::builtin(), None, home.path())).await;
        let table = server.get("/api/installed").await;
        assert_eq!(table.status, 200, "{}", table.body);
        assert!(!table.body.contains("has not finished"), "{}", table.body);

        let dir = home.path().join("install");
        std::fs::create_dir_all(&dir).unwrap();
        let journal = serde_json::json!({
            "command": "install-package", "pid": 4242,
            "started_at": "2026-12-06T10:00:00Z",
            "engine": "unix:///nonexistent/docker.sock", "committed": false, "steps": [],
        });
        std::fs::write(dir.join("journal.json"), journal.to_string()).unwrap();
        for path in ["/api/installed", "/installed"] {
            let page = server.get(path).await;
            assert_eq!(page.status, 200, "{}", page.body);
            assert!(
                page.body.contains("id=\"unfinished-run\"")
                    && page
                        .body
                        .contains("run of 2026-12-06T10:00:00Z (process 4242) has not finished")
                    && page.body.contains("takes it back"),
                "{path}: {}",
                page.body
            );
        }
        server.stop().await;
    });
}
