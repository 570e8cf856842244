//! The token, Host and Origin checks, over plain HTTP with hand-made
//! headers. No engine is needed: the servers point at one that is absent.

use budgetguard::catalog::Catalog;

use std::time::Duration;

use crate::support::{options, run, Server};

testkit::tests![
    the_printed_url_opens_the_page_and_others_are_refused,
    only_the_servers_own_host_is_answered,
    state_changes_need_the_token_and_the_servers_own_origin,
    paths_from_the_page_must_be_zip_files_and_errors_say_which_field,
    the_event_stream_needs_the_token,
    pages_forbid_framing_and_caching,
    fifos_and_devices_never_hold_a_job
];

async fn server(home: &std::path::Path) -> Server {
    Server::start(options(Catalog::builtin(), None, home)).await
}

fn the_printed_url_opens_the_page_and_others_are_refused() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        assert!(
            server.url.starts_with("http://127.0.0.1:"),
            "{}",
            server.url
        );

        let page = server.get("/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(
            page.body.contains("Create Local Install Package"),
            "{}",
            page.body
        );
        assert!(
            page.body.contains("cannot reach the Docker engine"),
            "the deploy reason shows: {}",
            page.body
        );

        let host = server.host();
        for target in [
            "/",
            "/?token=",
            "/?token=0000",
            "/installed",
            "/install",
            "/api/installed",
            "/api/installed/states",
            "/api/jobs",
            "/api/jobs/show?id=1",
            "/api/engine",
            "/api/nodes/availability",
            "/api/files/media",
        ] {
            let reply = server.request("GET", target, &[("Host", &host)], "").await;
            assert_eq!(reply.status, 403, "{target}: {}", reply.body);
            assert!(reply.body.contains("access token"), "{}", reply.body);
        }
        let wrong = format!("/?token={}", "0".repeat(64));
        assert_eq!(
            server
                .request("GET", &wrong, &[("Host", &host)], "")
                .await
                .status,
            403
        );

        // The assets hold nothing secret and need no token.
        let css = server
            .request("GET", "/assets/app.css", &[("Host", &host)], "")
            .await;
        assert_eq!(css.status, 200);
        assert!(css.head.contains("content-type: text/css"), "{}", css.head);
        assert!(css.body.contains(".card"));
        server.stop().await;
    });
}

fn only_the_servers_own_host_is_answered() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        let target = format!("/?token={}", server.token);
        let localhost = format!("localhost:{}", server.port);
        let reply = server
            .request("GET", &target, &[("Host", &localhost)], "")
            .await;
        assert_eq!(reply.status, 200, "localhost is the same server");

        // DNS rebinding: a foreign name resolved to 127.0.0.1 still sends its Host.
        let rebound = format!("evil.example:{}", server.port);
        let suffixed = format!("127.0.0.1.evil.example:{}", server.port);
        let other_port = format!("127.0.0.1:{}", server.port.wrapping_add(1));
        for host in [
            rebound.as_str(),
            suffixed.as_str(),
            "127.0.0.1",
            other_port.as_str(),
        ] {
            let reply = server.request("GET", &target, &[("Host", host)], "").await;
            assert_eq!(reply.status, 403, "Host {host}: {}", reply.body);
            assert!(reply.body.contains("answers only"), "{}", reply.body);
            let asset = server
                .request("GET", "/assets/app.js", &[("Host", host)], "")
                .await;
            assert_eq!(asset.status, 403, "assets too, Host {host}");
        }
        let reply = server.request("GET", &target, &[], "").await;
        assert_eq!(reply.status, 403, "no Host at all");
        server.stop().await;
    });
}

fn state_changes_need_the_token_and_the_servers_own_origin() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        let host = server.host();
        let own_origin = format!("http://{host}");
        let output = home.path().join("p.zip");
        let body = serde_json::json!({"nodes": ["Demo"], "output": output, "compression": "none"})
            .to_string();

        // A cross-site form post or fetch: right token, foreign Origin.
        for origin in [
            "http://evil.example",
            "null",
            &format!("https://{host}"),
            "http://localhost:1",
        ] {
            let headers = [
                ("Host", host.as_str()),
                ("Origin", origin),
                ("Content-Type", "application/json"),
                ("X-BudgetGuard-Token", server.token.as_str()),
            ];
            let reply = server
                .request("POST", "/api/package", &headers, &body)
                .await;
            assert_eq!(reply.status, 403, "Origin {origin}: {}", reply.body);
            assert!(reply.body.contains("another site"), "{}", reply.body);
        }

        // No token, or a wrong one, with the right Origin.
        let no_token = [
            ("Host", host.as_str()),
            ("Origin", own_origin.as_str()),
            ("Content-Type", "application/json"),
        ];
        for path in STATE_CHANGES {
            let reply = server.request("POST", path, &no_token, &body).await;
            assert_eq!(reply.status, 403, "{path} without token");
        }
        // A foreign Origin with the right token, on every endpoint.
        for path in STATE_CHANGES {
            let headers = [
                ("Host", host.as_str()),
                ("Origin", "http://evil.example"),
                ("Content-Type", "application/json"),
                ("X-BudgetGuard-Token", server.token.as_str()),
            ];
            let reply = server.request("POST", path, &headers, &body).await;
            assert_eq!(reply.status, 403, "{path} from another site");
        }
        let wrong = "f".repeat(64);
        let wrong_token = [
            ("Host", host.as_str()),
            ("Content-Type", "application/json"),
            ("X-BudgetGuard-Token", wrong.as_str()),
        ];
        let reply = server
            .request("POST", "/api/package", &wrong_token, &body)
            .await;
        assert_eq!(reply.status, 403);

        // None of them started a job.
        let state = server
            .next_event("idle", std::time::Duration::from_secs(5))
            .await;
        assert_eq!(state, serde_json::json!({}));

        // The page's own request passes the checks (and is refused, for want
        // of an engine, saying why and what to do in the page's words).
        let reply = server.post("/api/package", &body).await;
        assert_eq!(reply.status, 409, "{}", reply.body);
        let message: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        let text = message["text"].as_str().unwrap();
        assert!(text.starts_with("Docker does not answer"), "{text}");
        assert!(text.contains("unix:///nonexistent/docker.sock"), "{text}");
        assert!(
            text.ends_with("Start Docker, or tick “Read images from their registries”."),
            "{text}"
        );
        let state = server
            .next_event("idle", std::time::Duration::from_secs(5))
            .await;
        assert_eq!(state, serde_json::json!({}));
        assert!(!output.exists());
        server.stop().await;
    });
}

/// Every endpoint that acts, or reads files or logs.
const STATE_CHANGES: [&str; 23] = [
    "/api/package",
    "/api/package/settings",
    "/api/package/estimate",
    "/api/packages",
    "/api/inspect",
    "/api/verify",
    "/api/install",
    "/api/deploy",
    "/api/cancel",
    "/api/installed/start",
    "/api/installed/restart",
    "/api/installed/stop",
    "/api/installed/uninstall",
    "/api/installed/logs",
    "/api/trust/add",
    "/api/trust/remove",
    "/api/installed/try",
    "/api/files",
    "/api/files/chosen",
    "/api/copy",
    "/api/publish",
    "/api/install-dir",
    "/api/keys/generate",
];

fn paths_from_the_page_must_be_zip_files_and_errors_say_which_field() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        for (path, body, field) in [
            (
                "/api/package",
                serde_json::json!({"nodes": ["Demo"], "output": "/tmp/p.tar", "compression": "none"}),
                "output",
            ),
            (
                "/api/inspect",
                serde_json::json!({"path": "/etc/passwd"}),
                "package-path",
            ),
            (
                "/api/verify",
                serde_json::json!({"path": "/etc/passwd"}),
                "package-path",
            ),
            (
                "/api/install",
                serde_json::json!({"path": "~/nothing.txt"}),
                "package-path",
            ),
            (
                "/api/publish",
                serde_json::json!({"path": "/etc/passwd", "to": "localhost:5000/a:1"}),
                "package-path",
            ),
        ] {
            let reply = server.post(path, &body.to_string()).await;
            assert_eq!(reply.status, 400, "{path}: {}", reply.body);
            let message: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(message["field"], field, "{path}");
            assert!(
                message["text"]
                    .as_str()
                    .unwrap()
                    .contains("must end in .zip"),
                "{path}: {message}"
            );
        }
        // A .zip that does not exist: said cleanly, at the field.
        let missing = home.path().join("missing.zip");
        let reply = server
            .post(
                "/api/inspect",
                &serde_json::json!({"path": missing, "install": true}).to_string(),
            )
            .await;
        assert_eq!(reply.status, 422, "{}", reply.body);
        let message: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(message["field"], "package-path");
        assert!(
            message["text"]
                .as_str()
                .unwrap()
                .contains(&missing.display().to_string()),
            "{message}"
        );
        // Nothing started.
        let state = server
            .next_event("idle", std::time::Duration::from_secs(5))
            .await;
        assert_eq!(state, serde_json::json!({}));
        server.stop().await;
    });
}

fn the_event_stream_needs_the_token() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        let host = server.host();
        let reply = server
            .request("GET", "/api/events", &[("Host", &host)], "")
            .await;
        assert_eq!(reply.status, 403);
        let state = server
            .next_event("idle", std::time::Duration::from_secs(5))
            .await;
        assert_eq!(state, serde_json::json!({}));
        server.stop().await;
    });
}

fn pages_forbid_framing_and_caching() {
    run(Duration::from_secs(60), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        let head = server.get("/").await.head;
        assert!(head.contains("frame-ancestors 'none'"), "{head}");
        assert!(head.contains("cache-control: no-store"), "{head}");
        assert!(head.contains("referrer-policy: no-referrer"), "{head}");
        server.stop().await;
    });
}

/// A package path that is a named pipe or a device: Inspect answers at
/// once with a clear error at the field, a Verify job finishes at once with
/// one, and a Verify cancelled at once leaves the slot free for the next.
fn fifos_and_devices_never_hold_a_job() {
    run(Duration::from_secs(120), async {
        let home = tempfile::tempdir().unwrap();
        let server = server(home.path()).await;
        let fifo = home.path().join("pipe.zip");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success());
        let zero = home.path().join("zero.zip");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        let null = home.path().join("null.zip");
        std::os::unix::fs::symlink("/dev/null", &null).unwrap();
        for (path, what) in [
            (&fifo, "a named pipe (FIFO)"),
            (&zero, "a device"),
            (&null, "a device"),
        ] {
            let expected = format!("it is {what}, not a regular file");
            let body = serde_json::json!({ "path": path }).to_string();
            let reply = server.post("/api/inspect", &body).await;
            assert_eq!(reply.status, 422, "{}: {}", path.display(), reply.body);
            let message: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(message["field"], "package-path");
            let text = message["text"].as_str().unwrap();
            assert!(text.contains(&expected), "{}: {text}", path.display());

            let reply = server.post("/api/verify", &body).await;
            assert_eq!(reply.status, 202, "{}: {}", path.display(), reply.body);
            let finished = server.next_event("finished", Duration::from_secs(10)).await;
            assert_eq!(finished["ok"], false, "{finished}");
            let html = finished["html"].as_str().unwrap();
            assert!(html.contains(&expected), "{}: {html}", path.display());

            // Install says what the path is, before any job starts.
            let reply = server.post("/api/install", &body).await;
            assert_eq!(reply.status, 400, "{}: {}", path.display(), reply.body);
            let message: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(message["field"], "package-path");
            assert!(
                message["text"]
                    .as_str()
                    .unwrap()
                    .contains(&format!("is {what}, not a package file: check the path.")),
                "{message}"
            );

            // Cancelled as soon as it started: the slot is free again.
            let reply = server.post("/api/verify", &body).await;
            assert_eq!(reply.status, 202, "{}: {}", path.display(), reply.body);
            let cancel = server.post("/api/cancel", "").await;
            assert!([202, 409].contains(&cancel.status), "{}", cancel.body);
            let finished = server.next_event("finished", Duration::from_secs(10)).await;
            assert_eq!(finished["ok"], false, "{finished}");
        }
        server.stop().await;
    });
}
