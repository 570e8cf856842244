//! Every node's Compose file passes `config` on Compose v1 and v2.

use std::path::Path;
use std::process::Command;

use budgetguard::catalog::Catalog;
use budgetguard::compose::compose_file;
use testkit::engines;

testkit::tests![
    every_builtin_node_passes_compose_config_on_v1_and_v2_online_and_offline,
    no_value_of_a_node_reads_the_environment_compose_runs_in,
];

/// The Compose commands of this machine: v2 (`docker compose`) and v1
/// (`docker-compose`); both are required when Docker tests are.
fn compose_commands() -> Vec<Vec<&'static str>> {
    let mut found = Vec::new();
    for command in [vec!["docker", "compose"], vec!["docker-compose"]] {
        let works = Command::new(command[0])
            .args(&command[1..])
            .arg("version")
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            works || !engines::docker_required(),
            "{command:?} is not installed"
        );
        if works {
            found.push(command);
        }
    }
    found
}

fn config_passes(command: &[&str], file: &Path) {
    let out = Command::new(command[0])
        .args(&command[1..])
        .args(["-p", "budgetguard-config-test", "-f"])
        .arg(file)
        .args(["config", "-q"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{command:?} config of {}: {}",
        file.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn every_builtin_node_passes_compose_config_on_v1_and_v2_online_and_offline() {
    let install = tempfile::tempdir().unwrap();
    std::fs::write(
        install.path().join("credentials.env"),
        "NGC_API_KEY=x\nHF_TOKEN=y\n",
    )
    .unwrap();
    let commands = compose_commands();
    if commands.is_empty() {
        engines::skip("neither `docker compose` nor `docker-compose` is installed");
    }
    for node in Catalog::builtin().nodes {
        let dir = install.path().join("compose").join(node.service_name());
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("docker-compose.yml");
        // As installed with the models in the package, and without.
        for offline in [false, true] {
            std::fs::write(&file, compose_file(&node, offline).to_yaml()).unwrap();
            for command in &commands {
                config_passes(command, &file);
            }
        }
    }
}

/// A package's node whose path and environment name `${SECRET}`: Compose
/// v1 and v2 read them as they are, never the secret of the environment
/// they run in.
fn no_value_of_a_node_reads_the_environment_compose_runs_in() {
    let commands = compose_commands();
    if commands.is_empty() {
        engines::skip("neither `docker compose` nor `docker-compose` is installed");
    }
    let mut node = Catalog::builtin().get("Demo").unwrap().clone();
    node.cache_mount = Some("/opt/${SECRET}".into());
    node.environment
        .insert("PLAIN".into(), "a-$SECRET-b".into());
    node.validate().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("docker-compose.yml");
    for offline in [false, true] {
        std::fs::write(&file, compose_file(&node, offline).to_yaml()).unwrap();
        for command in &commands {
            let out = Command::new(command[0])
                .args(&command[1..])
                .args(["-p", "budgetguard-config-test", "-f"])
                .arg(&file)
                .arg("config")
                .env("SECRET", "leaked-secret")
                .output()
                .unwrap();
            let config = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success(),
                "{command:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            assert!(config.contains("SECRET"), "{command:?}: {config}");
            assert!(!config.contains("leaked-secret"), "{command:?}: {config}");
        }
    }
}
