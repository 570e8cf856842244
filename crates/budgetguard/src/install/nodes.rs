//! Managing installed nodes: status, start, stop, uninstall.

use std::time::Duration;

use serde::Serialize;

use super::dir::InstallDir;
use super::state::{Endpoints, InstalledNode, LoadedImages};
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
    /// The address its port is published on.
    pub listen: String,
    /// Its image.
    pub image: String,
    /// When it was installed or last changed (RFC 3339, UTC).
    pub installed_at: String,
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
            match health::http_status(installed.node.local_address(), &installed.node.health_path)
                .await
            {
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
            listen: installed.listen,
            image: installed.image,
            installed_at: installed.installed_at,
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

/// Removes the nodes: containers, Compose files and endpoint entries, and
/// each image this tool loaded for them that no remaining node uses (an
/// image the user had before stays, and a tag the package took from another
/// image is given back). The model cache stays unless `purge_cache`; files
/// of the user's in a node's folder always stay.
pub async fn uninstall(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[InstalledNode],
    purge_cache: bool,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let compose = Compose::detect(engine.host()).await?;
    let _lock = dir.lock(reporter, cancel).await?;
    let mut endpoints = dir.endpoints()?;
    let mut loaded = dir.loaded_images()?;
    for asked in nodes {
        // As recorded now that this run holds the lock: a run that held it
        // before may have changed the node (another image, say).
        let Some(node) = endpoints
            .nodes
            .iter()
            .find(|n| n.name == asked.name)
            .cloned()
        else {
            reporter.report(Event::Note {
                message: format!("{} is not installed any more", asked.name),
            });
            continue;
        };
        reporter.report(Event::Note {
            message: format!("Removing {}", node.name),
        });
        let node_dir = InstallDir::node_dir_relative(&node.node);
        dir.check_no_links(&node_dir.join("docker-compose.yml"))?;
        dir.check_no_links(&node_dir.join("cache"))?;
        // The file and project the node's settings give in this folder, not
        // paths read back from a state file.
        let file = dir.compose_file(&node.node);
        if file.exists() {
            compose
                .down(&crate::compose::project_name(&node.node), &file)
                .await?;
        }
        remove(&file, false)?;
        endpoints.nodes.retain(|n| n.name != node.name);
        if purge_cache {
            purge(dir, &node, &endpoints)?;
        }
        let _ = std::fs::remove_dir(dir.node_dir(&node.node));
        // The image first, the node's entry last: a run killed in between
        // leaves the node listed, for the next uninstall to finish.
        if !endpoints.nodes.iter().any(|n| n.image == node.image) {
            remove_loaded_image(engine, &mut loaded, &node.image, reporter).await?;
            dir.write_loaded_images(&loaded)?;
        }
        dir.write_endpoints(&endpoints)?;
    }
    Ok(())
}

/// Removes the image `reference` names if this tool loaded it, and gives
/// back the tag it took from another image.
async fn remove_loaded_image(
    engine: &Engine,
    loaded: &mut LoadedImages,
    reference: &str,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let Some(current) = engine.image(reference).await? else {
        return Ok(());
    };
    let Some(index) = loaded.images.iter().position(|image| {
        image.engine == engine.host()
            && image.id == current.id
            && image.references.iter().any(|r| r == reference)
    }) else {
        reporter.report(Event::Note {
            message: format!("Kept image {reference}: it was not loaded by this tool"),
        });
        return Ok(());
    };
    if !engine.remove_image_if_unused(reference).await? {
        // A container still uses it (a node of another install folder on
        // this engine, say): the tag stays on it, and so does the record.
        reporter.report(Event::Note {
            message: format!("Kept image {reference}: a container still uses it"),
        });
        return Ok(());
    }
    reporter.report(Event::Note {
        message: format!("Removed image {reference}"),
    });
    let image = &mut loaded.images[index];
    image.references.retain(|r| r != reference);
    if let Some(previous) = image.replaced.remove(reference) {
        if engine.image(&previous).await?.is_some() {
            engine.tag(&previous, reference).await?;
            if let Some(kept) = super::load::kept_name(reference) {
                engine.untag(&kept).await?;
            }
            reporter.report(Event::Note {
                message: format!("Gave `{reference}` back to the image it named before"),
            });
        }
    }
    if image.references.is_empty() {
        loaded.images.remove(index);
    }
    Ok(())
}

/// Deletes the node's model cache: its own, or the shared one of its
/// packaged models once no remaining node uses that.
fn purge(
    dir: &InstallDir,
    node: &InstalledNode,
    remaining: &Endpoints,
) -> Result<(), InstallError> {
    let shared = node
        .node
        .model
        .as_ref()
        .filter(|_| node.offline)
        .map(|m| &m.cache);
    match shared {
        None => remove(&dir.cache_dir(&node.node), true),
        Some(cache) => {
            let in_use = remaining
                .nodes
                .iter()
                .any(|n| n.offline && n.node.model.as_ref().is_some_and(|m| &m.cache == cache));
            if in_use {
                return Ok(());
            }
            dir.check_no_links(&std::path::Path::new("models").join(cache))?;
            remove(&dir.models_dir(cache), true)?;
            remove(&dir.models_log(cache), false)
        }
    }
}

/// Removes a file, or a folder and everything in it; one that is already
/// gone is fine.
fn remove(path: &std::path::Path, folder: bool) -> Result<(), InstallError> {
    let removed = if folder {
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
