//! Managing installed nodes: status, start, stop, uninstall.

use std::time::Duration;

use serde::Serialize;

use super::dir::{InstallDir, InstalledNode};
use super::{health, InstallError};
use crate::compose::Compose;
use crate::engine::Engine;
use crate::progress::{Event, Reporter};
use crate::Cancel;

/// The state of one installed node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeStatus {
    /// The node's name.
    pub name: String,
    /// Its container's state, or `missing`.
    pub state: String,
    /// `ready`, `not ready` (running but not answering 200), or `-`.
    pub health: String,
    /// Its inference URL.
    pub endpoint: String,
    /// Its image.
    pub image: String,
}

/// The state and health of every installed node.
pub async fn status(engine: &Engine, dir: &InstallDir) -> Result<Vec<NodeStatus>, InstallError> {
    let mut statuses = Vec::new();
    for installed in dir.endpoints()?.nodes {
        let state = engine
            .container_state(&installed.container)
            .await?
            .unwrap_or_else(|| "missing".into());
        let health = if state == "running" {
            match health::http_status(installed.node.host_port, &installed.node.health_path).await {
                Some(200) => "ready",
                _ => "not ready",
            }
        } else {
            "-"
        };
        statuses.push(NodeStatus {
            name: installed.name,
            state,
            health: health.to_owned(),
            endpoint: installed.infer_url,
            image: installed.image,
        });
    }
    Ok(statuses)
}

/// Resolves node names (all installed nodes when `names` is empty and `all`).
pub fn select(
    dir: &InstallDir,
    names: &[String],
    all: bool,
) -> Result<Vec<InstalledNode>, InstallError> {
    if all {
        return Ok(dir.endpoints()?.nodes);
    }
    names.iter().map(|name| dir.installed(name)).collect()
}

/// Starts the nodes and waits until each is ready.
pub async fn start(
    engine: &Engine,
    nodes: &[InstalledNode],
    wait: Duration,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let compose = Compose::detect(engine.host()).await?;
    for node in nodes {
        reporter.report(Event::Note {
            message: format!("Starting {}", node.name),
        });
        compose
            .up(&node.compose_project, &node.compose_file, true)
            .await?;
    }
    for node in nodes {
        health::wait_ready(node, wait, cancel).await?;
    }
    Ok(())
}

/// Stops the nodes' containers, keeping them.
pub async fn stop(
    engine: &Engine,
    nodes: &[InstalledNode],
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let compose = Compose::detect(engine.host()).await?;
    for node in nodes {
        reporter.report(Event::Note {
            message: format!("Stopping {}", node.name),
        });
        compose
            .stop(&node.compose_project, &node.compose_file)
            .await?;
    }
    Ok(())
}

/// Removes the nodes: containers, Compose files, endpoint entries, and each
/// image no remaining node uses. The model cache stays unless `purge_cache`.
pub async fn uninstall(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[InstalledNode],
    purge_cache: bool,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let compose = Compose::detect(engine.host()).await?;
    for node in nodes {
        reporter.report(Event::Note {
            message: format!("Removing {}", node.name),
        });
        if node.compose_file.exists() {
            compose
                .down(&node.compose_project, &node.compose_file)
                .await?;
        }
        let node_dir = dir.node_dir(&node.node);
        remove(if purge_cache {
            &node_dir
        } else {
            &node.compose_file
        })?;
        let mut endpoints = dir.endpoints()?;
        endpoints.nodes.retain(|n| n.name != node.name);
        dir.write_endpoints(&endpoints)?;
        if !endpoints.nodes.iter().any(|n| n.image == node.image)
            && engine.remove_image_if_unused(&node.image).await?
        {
            reporter.report(Event::Note {
                message: format!("Removed image {}", node.image),
            });
        }
    }
    Ok(())
}

/// Removes a file or a whole folder; one that is already gone is fine.
fn remove(path: &std::path::Path) -> Result<(), InstallError> {
    let removed = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(InstallError::io("remove", path)(e))
        }
        _ => Ok(()),
    }
}
