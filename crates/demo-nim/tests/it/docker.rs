//! The Demo image itself, on the machine's engine (`scripts/build-demo-image`
//! first, which `scripts/test` runs).

use std::time::{Duration, Instant};

use crate::support::*;
use testkit::engines::{self, TestEngine};
use testkit::fixtures::demo_copy;

testkit::tests![the_image_downloads_lists_and_serves_as_uid_1000,];

fn docker(engine: &TestEngine, args: &[&str]) -> std::process::Output {
    engine.docker().args(args).output().expect("docker runs")
}

/// Removes the container when dropped.
struct Container<'a>(&'a TestEngine, String);

impl Drop for Container<'_> {
    fn drop(&mut self) {
        let _ = docker(self.0, &["rm", "-f", &self.1]);
    }
}

fn the_image_downloads_lists_and_serves_as_uid_1000() {
    let engine = engines::require_primary();
    let (image, _copy) = demo_copy(&engine, "demo-nim-it");
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    std::os::unix::fs::chown(dir.path(), Some(1000), Some(1000)).unwrap();
    let mount = format!("{}:/opt/nim/.cache", dir.path().display());
    let model_server = format!("DEMO_NIM_MODEL_SERVER={}", server.url());
    let base = [
        "run",
        "--rm",
        "--network",
        "host",
        "-u",
        "1000:1000",
        "-v",
        &mount,
    ];

    let mut args = base.to_vec();
    args.extend([
        "-e",
        &model_server,
        &image,
        "download-to-cache",
        "--profiles",
        "demo-base-cpu",
    ]);
    let out = docker(&engine, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.starts_with("download-to-cache: profiles demo-base-cpu cached in /opt/nim/.cache: 3 files, 3 downloaded"), "{stdout}");
    let link = repo(dir.path())
        .join("snapshots")
        .join(&server.spec().revision)
        .join("transformer/diffusion-cpu.safetensors");
    assert!(std::fs::canonicalize(link).is_ok());

    // Offline: no model server.
    let mut args = base.to_vec();
    args.extend([&image, "list-model-profiles"]);
    let out = docker(&engine, &args);
    assert!(String::from_utf8_lossy(&out.stdout)
        .contains("demo-base-cpu (FLUX demo base for any machine; gpus=; cached)"));

    // Serving from the cache, then docker stop (SIGTERM to PID 1).
    let port = free_port().to_string();
    let name = format!("demo-nim-it-{}", std::process::id());
    let port_env = format!("DEMO_NIM_PORT={port}");
    let mut args = vec![
        "run",
        "-d",
        "--name",
        &name,
        "--network",
        "host",
        "-u",
        "1000:1000",
        "-v",
        &mount,
    ];
    args.extend(["-e", &port_env, &image]);
    let out = docker(&engine, &args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let _container = Container(&engine, name.clone());
    let start = Instant::now();
    let ready = loop {
        let probe = std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap()));
        let answer = probe.ok().and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /v1/health/ready HTTP/1.1\r\nHost: t\r\n\r\n")
                .ok()?;
            let mut text = String::new();
            s.read_to_string(&mut text).ok()?;
            Some(text)
        });
        if answer.is_some_and(|a| a.starts_with("HTTP/1.1 200")) {
            break true;
        }
        if start.elapsed() > Duration::from_secs(60) {
            break false;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    let logs = docker(&engine, &["logs", &name]);
    assert!(ready, "{}", String::from_utf8_lossy(&logs.stderr));
    let stop = Instant::now();
    assert!(docker(&engine, &["stop", &name]).status.success());
    assert!(
        stop.elapsed() < Duration::from_secs(5),
        "SIGTERM ends it at once"
    );
    let code = docker(
        &engine,
        &["inspect", "--format", "{{.State.ExitCode}}", &name],
    );
    assert_eq!(String::from_utf8_lossy(&code.stdout).trim(), "0");
}
