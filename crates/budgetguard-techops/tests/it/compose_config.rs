//! Every node's Compose file passes `config` on Compose v1 and v2.

use std::path::Path;
use std::process::Command;

use budgetguard::catalog::Catalog;
use budgetguard::compose::compose_file;
use testkit::engines;

testkit::tests![every_builtin_node_passes_compose_config_on_v1_and_v2_online_and_offline,];

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
