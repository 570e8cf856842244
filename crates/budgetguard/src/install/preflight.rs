//! Checks made before anything changes: each problem is one line naming its
//! fix, and all of them are reported at once.

use std::net::TcpListener;
use std::path::Path;

use super::dir::InstallDir;
use super::InstallError;
use crate::catalog::Node;
use crate::compose::Compose;
use crate::credentials::Credentials;
use crate::engine::{Engine, EngineFacts};
use crate::size::human;

/// What the nodes about to be installed need.
pub(crate) struct Needs<'a> {
    /// The nodes.
    pub nodes: &'a [Node],
    /// Bytes the engine will receive (it writes them twice while loading).
    pub load_bytes: u64,
    /// Whether the nodes will be started.
    pub start: bool,
}

/// Finds Compose and runs every check: the Compose to use, or an error
/// listing every problem found.
pub(crate) async fn check(
    engine: &Engine,
    facts: &EngineFacts,
    dir: &InstallDir,
    needs: &Needs<'_>,
) -> Result<Compose, InstallError> {
    let compose = Compose::detect(engine.host()).await;
    let mut problems = problems(engine, facts, dir, needs).await;
    match compose {
        Ok(compose) if problems.is_empty() => Ok(compose),
        Ok(_) => Err(InstallError::Preflight { problems }),
        Err(missing) => {
            problems.insert(0, missing.to_string());
            Err(InstallError::Preflight { problems })
        }
    }
}

/// Runs every check but Compose's and returns the problems found.
async fn problems(
    engine: &Engine,
    facts: &EngineFacts,
    dir: &InstallDir,
    needs: &Needs<'_>,
) -> Vec<String> {
    let mut problems = Vec::new();
    credentials(dir, needs.nodes, &mut problems);
    disk(facts, needs.load_bytes, &mut problems);
    duplicate_ports(needs.nodes, &mut problems);
    if needs.start {
        gpu(facts, needs.nodes, &mut problems);
        ports(engine, needs.nodes, &mut problems).await;
    }
    problems
}

fn credentials(dir: &InstallDir, nodes: &[Node], problems: &mut Vec<String>) {
    let path = dir.credentials_file();
    let stored = match Credentials::load(&path) {
        Ok(stored) => stored,
        Err(e) => {
            problems.push(format!("cannot read `{}` ({e}): fix its permissions or run `budgetguard-techops install-credentials`", path.display()));
            return;
        }
    };
    for node in nodes {
        let missing: Vec<&str> = node
            .credentials
            .iter()
            .filter(|c| stored.get(**c).is_none())
            .map(|c| c.env_name())
            .collect();
        if !missing.is_empty() {
            problems.push(format!(
                "node `{}` needs {} in `{}`: run `budgetguard-techops install-credentials`",
                node.name,
                missing.join(" and "),
                path.display()
            ));
        }
    }
}

/// The classic loader unpacks the whole stream to a temporary folder before
/// it extracts the layers: twice the bytes, at the peak.
fn disk(facts: &EngineFacts, load_bytes: u64, problems: &mut Vec<String>) {
    let Some(root) = facts
        .root_dir
        .as_deref()
        .map(Path::new)
        .filter(|p| p.exists())
    else {
        return;
    };
    let needed = load_bytes.saturating_mul(2);
    if let Ok(available) = fs4::available_space(root) {
        if available < needed {
            problems.push(format!(
                "the Docker engine's folder `{}` has {} free, loading needs about {}: free some space (`docker system prune`) and retry",
                root.display(),
                human(available),
                human(needed)
            ));
        }
    }
}

fn duplicate_ports(nodes: &[Node], problems: &mut Vec<String>) {
    for (i, node) in nodes.iter().enumerate() {
        if let Some(other) = nodes[..i].iter().find(|o| o.host_port == node.host_port) {
            problems.push(format!(
                "nodes `{}` and `{}` both want port {}: give one another `host_port` in the catalog",
                other.name, node.name, node.host_port
            ));
        }
    }
}

fn gpu(facts: &EngineFacts, nodes: &[Node], problems: &mut Vec<String>) {
    if facts.nvidia_runtime {
        return;
    }
    for node in nodes.iter().filter(|n| n.gpu) {
        problems.push(format!(
            "node `{}` needs an NVIDIA GPU, but the Docker engine has no `nvidia` runtime: install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker",
            node.name
        ));
    }
}

/// A port held by the node's own running container is fine: it is replaced.
async fn ports(engine: &Engine, nodes: &[Node], problems: &mut Vec<String>) {
    for node in nodes {
        if TcpListener::bind(("0.0.0.0", node.host_port)).is_ok() {
            continue;
        }
        let own = engine
            .container_state(&crate::compose::container_name(node))
            .await
            .ok()
            .flatten()
            .is_some_and(|state| state == "running");
        if !own {
            problems.push(format!(
                "port {} for node `{}` is already in use: stop what uses it, or give the node another `host_port` in the catalog",
                node.host_port, node.name
            ));
        }
    }
}
