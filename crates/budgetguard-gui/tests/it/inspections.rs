//! The Nodes page asks the engine about each catalog image once per load
//! (an image several nodes share, too):
//! the page is rendered with the engine's answers, and the availability
//! call it makes right after takes them rather than asking again (counted
//! on a socket relay in front of the engine).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::{self, free_port, options, run, Server};

testkit::tests![a_nodes_page_load_asks_the_engine_about_each_image_once];

/// A relay in front of an engine's socket that counts the image
/// inspections (`GET …/images/<name>/json`) passed on.
struct CountingRelay {
    _dir: tempfile::TempDir,
    host: String,
    inspections: Arc<AtomicUsize>,
}

impl CountingRelay {
    fn start(upstream: &Path) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let socket = dir.path().join("engine.sock");
        let listener = UnixListener::bind(&socket).unwrap();
        let inspections = Arc::new(AtomicUsize::new(0));
        let (upstream, counted) = (upstream.to_owned(), inspections.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    return;
                };
                relay(client, server, counted.clone());
            }
        });
        Self {
            host: format!("unix://{}", socket.display()),
            _dir: dir,
            inspections,
        }
    }

    fn inspections(&self) -> usize {
        self.inspections.load(Ordering::SeqCst)
    }
}

/// Copies both ways, counting the image inspections in the requests' lines.
fn relay(client: UnixStream, server: UnixStream, inspections: Arc<AtomicUsize>) {
    let (mut answers, mut back) = (server.try_clone().unwrap(), client.try_clone().unwrap());
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut answers, &mut back);
        let _ = back.shutdown(Shutdown::Both);
    });
    std::thread::spawn(move || {
        let (mut from, mut to) = (client, server);
        let mut line = Vec::new();
        let mut chunk = [0u8; 8192];
        // Requests are counted before they go on, so the count is whole
        // by the time the engine can answer them.
        while let Ok(read) = from.read(&mut chunk) {
            if read == 0 {
                break;
            }
            for &byte in &chunk[..read] {
                line.push(byte);
                if line.ends_with(b"\r\n") {
                    let text = String::from_utf8_lossy(&line);
                    let path = text.split(' ').nth(1).unwrap_or_default();
                    let path = path.split('?').next().unwrap_or_default();
                    if text.starts_with("GET ")
                        && path.contains("/images/")
                        && path.ends_with("/json")
                    {
                        inspections.fetch_add(1, Ordering::SeqCst);
                    }
                    line.clear();
                }
            }
            if to.write_all(&chunk[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

fn a_nodes_page_load_asks_the_engine_about_each_image_once() {
    run(Duration::from_secs(300), async {
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference("gui-inspections"),
            layers: vec![Layer::Random(1 << 20, 11)],
        };
        let _image = images::load(&engine, std::slice::from_ref(&spec));
        // A registry nobody listens on: the missing image is refused at once.
        let missing = format!("127.0.0.1:{}/budgetguard-test/absent:1", free_port());
        let home = tempfile::tempdir().unwrap();
        let catalog = support::catalog(
            home.path(),
            &[
                ("GUI Here", &spec.reference, 9231),
                ("GUI Absent", &missing, 9232),
            ],
        );
        let images: std::collections::HashSet<_> =
            catalog.nodes.iter().map(|n| n.image.clone()).collect();
        let relay = CountingRelay::start(engine.socket());
        let server = Server::start(options(catalog, Some(&relay.host), home.path())).await;

        // A load: the page, then its availability call.
        let page = server.get("/").await;
        assert_eq!(page.status, 200);
        assert!(page.body.contains("In Docker"), "{}", page.body);
        let found = server.get("/api/nodes/availability").await;
        let found: serde_json::Value = serde_json::from_str(&found.body).unwrap();
        assert_eq!(found["GUI Here"]["state"], "docker", "{found}");
        assert_eq!(found["GUI Absent"]["state"], "unreachable", "{found}");
        assert_eq!(
            relay.inspections(),
            images.len(),
            "one inspection per image"
        );

        // Asked again later (an option changed), the engine is asked anew.
        server.get("/api/nodes/availability").await;
        assert_eq!(relay.inspections(), 2 * images.len());
        server.stop().await;
    });
}
