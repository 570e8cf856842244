//! Nothing is published beyond this workstation without its user's consent:
//! a package asking for the network installs on 127.0.0.1 (checked with the
//! engine's own port bindings) unless `--listen` says otherwise; the
//! address is shown before (inspect) and after (status); and a cancelled
//! install takes back the container it already started.

use std::path::{Path, PathBuf};

use testkit::engines::{self, TestEngine};

use crate::install_errors::install;
use crate::support::*;

testkit::tests![
    a_package_asking_for_the_network_listens_on_loopback_unless_the_user_says_so,
    a_cancelled_install_takes_back_the_container_it_started,
];

/// Packages one Demo node `name` on `port` with `extra` catalog settings.
fn package_of(
    engine: &TestEngine,
    home: &Path,
    name: &str,
    image: &str,
    port: u16,
    extra: serde_json::Value,
) -> PathBuf {
    let mut node = serde_json::json!({
        "name": name, "image": image, "host_port": port,
        "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
    });
    for (key, value) in extra.as_object().unwrap() {
        node[key] = value.clone();
    }
    package_one(engine, home, node)
}

/// The host addresses the engine publishes `container`'s ports on.
fn bound_addresses(engine: &TestEngine, container: &str) -> String {
    engine.docker_ok(&[
        "inspect",
        "--format",
        "{{range $port, $bindings := .HostConfig.PortBindings}}{{range $bindings}}{{.HostIp}} {{end}}{{end}}",
        container,
    ])
}

fn a_package_asking_for_the_network_listens_on_loopback_unless_the_user_says_so() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _guard) = demo_copy(&engine, "exposure");
    let port = free_port();
    let package = package_of(
        &engine,
        home.path(),
        "Exposure Asks",
        &image,
        port,
        serde_json::json!({"listen": "0.0.0.0"}),
    );
    let container = "budgetguard-exposure-asks";
    let _leftovers = NodeLeftovers::new(&engine, container);
    let dir = home.path().join("install");

    let inspected = run(bin(home.path(), None)
        .args(["inspect-package", "--package"])
        .arg(&package))
    .success();
    assert!(
        inspected
            .stdout
            .contains("0.0.0.0 asked (127.0.0.1 unless `--listen`)"),
        "{}",
        inspected.stdout
    );

    let installed = install(home.path(), &engine.host, &dir, &package, &["--start"]).success();
    assert!(
        installed.stderr.contains("warning: node `Exposure Asks`'s package asks to listen on 0.0.0.0, where other machines could use it with no login; it listens on 127.0.0.1 only"),
        "{}",
        installed.stderr
    );
    assert!(
        installed
            .stderr
            .contains("hint: to publish it on the network"),
        "{}",
        installed.stderr
    );
    assert_eq!(bound_addresses(&engine, container).trim(), "127.0.0.1");
    let status = run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["status", "--json"]))
    .success()
    .json();
    assert_eq!(status[0]["listen"], "127.0.0.1", "{status}");

    // The user's own choice publishes it, and says so nowhere as a warning.
    let published = install(
        home.path(),
        &engine.host,
        &dir,
        &package,
        &["--start", "--listen", "0.0.0.0"],
    )
    .success();
    assert!(
        !published.stderr.contains("asks to listen"),
        "{}",
        published.stderr
    );
    assert_eq!(bound_addresses(&engine, container).trim(), "0.0.0.0");
    run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["uninstall", "--all"]))
    .success();
}

fn a_cancelled_install_takes_back_the_container_it_started() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _guard) = demo_copy(&engine, "cancelled-start");
    // No model and required: the node starts but never answers ready.
    let package = package_of(
        &engine,
        home.path(),
        "Cancelled Start",
        &image,
        free_port(),
        serde_json::json!({"environment": {"DEMO_NIM_REQUIRE_MODEL": "1"}}),
    );
    let container = "budgetguard-cancelled-start";
    let _leftovers = NodeLeftovers::new(&engine, container);
    let dir = home.path().join("install");
    let (code, rest) = interrupt_after(
        bin(home.path(), Some(&engine.host))
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .args(["install-package", "--start", "--package"])
            .arg(&package),
        "Waiting for Cancelled Start to be ready",
        "INT",
    );
    assert_eq!(code, Some(1), "{rest}");
    assert!(rest.contains("error: interrupted"), "{rest}");
    let left = engine.docker_ok(&[
        "ps",
        "-a",
        "--filter",
        &format!("name=^{container}$"),
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(left.trim(), "", "the started container is taken back");
    let status = run(bin(home.path(), Some(&engine.host))
        .env("BUDGETGUARD_INSTALL_DIR", &dir)
        .args(["status"]));
    assert!(
        !status.stdout.contains("Cancelled Start"),
        "{}",
        status.stdout
    );
}
