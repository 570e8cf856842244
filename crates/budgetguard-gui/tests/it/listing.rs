//! The listing of a folder's packages, over plain HTTP with no engine: a
//! folder holding packages of 40 000 or 1 000 nodes (forged with Python's
//! `zipfile`) is listed in little more than opening them takes (which the
//! CLI's tests bound by CPU time), and the other pages answer while it
//! runs, even from a server of one worker.

use std::time::{Duration, Instant};

use budgetguard::catalog::Catalog;
use budgetguard::package::Package;
use testkit::fixtures::{forge_package, Forge};

use crate::support::{options, run, Server};

testkit::tests![a_folder_of_huge_packages_is_listed_quickly_and_other_pages_answer_meanwhile];

fn a_folder_of_huge_packages_is_listed_quickly_and_other_pages_answer_meanwhile() {
    run(Duration::from_secs(600), async {
        let home = tempfile::tempdir().unwrap();
        let forge = |nodes, images| Forge {
            nodes,
            images,
            blobs: 0,
            model_files: 0,
        };
        forge_package(&home.path().join("huge.zip"), forge(40_000, 1), "");
        forge_package(&home.path().join("most.zip"), forge(1_000, 1_000), "");
        // What opening the two takes on this machine at this moment: tests
        // running beside this one stretch it as much as the listing.
        let opened = Instant::now();
        for name in ["huge.zip", "most.zip"] {
            let _ = Package::open(&home.path().join(name));
        }
        let opening_took = opened.elapsed();
        // The server on a runtime of one worker: a listing that held its
        // worker would keep every other page waiting, however fast the
        // machine.
        let one_worker = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .expect("a tokio runtime");
        let server = one_worker
            .spawn(Server::start(options(
                Catalog::builtin(),
                None,
                home.path(),
            )))
            .await
            .expect("the server starts");
        let output = home.path().join("install-package.zip");
        let body = serde_json::json!({ "output": output }).to_string();
        let started = Instant::now();
        let listing = async {
            let reply = server.post("/api/packages", &body).await;
            (reply, Instant::now())
        };
        let other_page = async {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let asked = Instant::now();
            let reply = server.get("/installed").await;
            (reply, asked, Instant::now())
        };
        let ((listed, listed_at), (page, asked, page_at)) = tokio::join!(listing, other_page);
        let listing_took = listed_at - started;
        assert_eq!(listed.status, 200, "{}", listed.body);
        assert!(
            listed.body.contains("40000 nodes, more than the 1000"),
            "{}",
            listed.body
        );
        assert!(listed.body.contains("n999"), "{}", listed.body);
        assert!(
            listing_took < opening_took * 2 + Duration::from_secs(1),
            "the listing took {listing_took:?}, opening its packages {opening_took:?}"
        );
        assert_eq!(page.status, 200, "{}", page.body);
        // Answered while the listing still ran, well before it ended (a
        // listing that held the server's one worker would keep the page
        // until it ends: both answers then leave together).
        let (page_took, listing_left) =
            (page_at - asked, listed_at.saturating_duration_since(asked));
        assert!(
            page_took < listing_left / 2,
            "the Installed page, asked {:?} into the listing, took {page_took:?}; the listing ended {listing_left:?} after it was asked",
            asked - started,
        );
        server.stop().await;
        one_worker.shutdown_background();
    });
}
