//! Managing installed nodes: status, start, stop, uninstall.

use std::time::Duration;

use serde::Serialize;

use super::dir::{remove_any, InstallDir};
use super::journal::{Step, Transaction};
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
    /// What does not match its record, each naming the fix (checked only
    /// when asked: its model files are read whole).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub mismatches: Vec<String>,
}

/// The state and health of every installed node; with `verify`, also
/// whether its image and model files are still what was installed.
pub async fn status(
    engine: &Engine,
    dir: &InstallDir,
    verify: bool,
) -> Result<Vec<NodeStatus>, InstallError> {
    let mut statuses = Vec::new();
    // A shared cache is read once, whichever nodes use it.
    let mut caches = std::collections::HashMap::new();
    let record = verify.then(|| dir.loaded_images()).transpose()?;
    for installed in dir.endpoints()?.nodes {
        let mismatches = match &record {
            Some(record) => mismatches(engine, dir, record, &installed, &mut caches).await?,
            None => Vec::new(),
        };
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
            mismatches,
        });
    }
    Ok(statuses)
}

/// What of `node` is not as installed: its image (missing, or its tag moved
/// to another image than the one `record`, the folder's `images.json`,
/// says this tool loaded or tagged) and the files of its packaged model
/// cache (each re-hashed against the cache's log).
async fn mismatches(
    engine: &Engine,
    dir: &InstallDir,
    record: &LoadedImages,
    node: &InstalledNode,
    caches: &mut std::collections::HashMap<String, Vec<String>>,
) -> Result<Vec<String>, InstallError> {
    let mut found = Vec::new();
    let reinstall = "reinstall the package";
    match engine.image(&node.image).await? {
        None => found.push(format!("image `{}` is missing: {reinstall}", node.image)),
        Some(info) => {
            let loaded = record
                .images
                .iter()
                .map(|i| (&i.engine, &i.id, &i.references));
            let held = record.held.iter().map(|i| (&i.engine, &i.id, &i.tagged));
            let recorded = loaded
                .chain(held)
                .find(|(e, _, tags)| *e == engine.host() && tags.contains(&node.image));
            if recorded.is_some_and(|(_, id, _)| *id != info.id) {
                found.push(format!(
                    "image `{}` names another image than the one installed: {reinstall}",
                    node.image
                ));
            }
        }
    }
    if let Some(model) = node.node.model.as_ref().filter(|_| node.offline) {
        if !caches.contains_key(&model.cache) {
            let changed = super::models::changed_files(dir, &model.cache)?;
            caches.insert(model.cache.clone(), changed);
        }
        for path in &caches[&model.cache] {
            found.push(format!(
                "model file `{path}` of cache `{}` changed since install: {reinstall}",
                model.cache
            ));
        }
    }
    Ok(found)
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

/// Checks what a start needs ([`start_problems`](super::start_problems):
/// credentials, the GPU probe, ports), then starts the nodes and waits
/// until each is ready.
pub async fn start(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[InstalledNode],
    wait: Duration,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let plain: Vec<_> = nodes.iter().map(|n| n.node.clone()).collect();
    let problems = super::preflight::start_problems(engine, dir, &plain, reporter, cancel).await?;
    if !problems.is_empty() {
        return Err(InstallError::Preflight { problems });
    }
    start_checked(engine, nodes, wait, reporter, cancel).await
}

/// Starts nodes whose [`start_problems`](super::start_problems) were
/// found to be none, and waits until each is ready.
pub async fn start_checked(
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
            .start(&node.compose_project, &node.compose_file)
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
/// each image this tool loaded for them, in any version, that no remaining
/// node uses (an image the user had before stays, and a tag a package took
/// from another image is given back). The model cache stays unless
/// `purge_cache`; files of the user's in a node's folder always stay. One
/// journaled transaction: a run killed half-way is finished by the next
/// command in the folder, and an unfinished install is taken back first.
pub async fn uninstall(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[InstalledNode],
    purge_cache: bool,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let lock = dir.lock(reporter, cancel).await?;
    let mut transaction = Transaction::begin(dir, &lock, engine, "uninstall", reporter).await?;
    let names: Vec<String> = nodes.iter().map(|n| n.name.clone()).collect();
    let mut removed = Ok(());
    if !names.is_empty() {
        removed = transaction.record(Step::Uninstall {
            nodes: names.clone(),
            purge_cache,
        });
    }
    if removed.is_ok() {
        removed = remove_nodes(dir, engine, &names, purge_cache, reporter).await;
    }
    match removed {
        Ok(()) => transaction.commit(engine, reporter, None, None).await,
        Err(e) => {
            // Each node removed so far is recorded as such: nothing to undo.
            transaction.take_back(engine, reporter, false).await;
            Err(e)
        }
    }
}

/// Removes the nodes called `names` that are still installed in `dir`
/// (the caller holds the lock): their containers, Compose files and
/// entries, and with `purge_cache` their model caches. Each node's entry
/// goes last, so a run killed half-way leaves it listed for the next.
pub(crate) async fn remove_nodes(
    dir: &InstallDir,
    engine: &Engine,
    names: &[String],
    purge_cache: bool,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let mut endpoints = dir.endpoints()?;
    let mut compose = None;
    for name in names {
        // As recorded now that this run holds the lock: a run that held it
        // before may have changed the node (another image, say).
        let Some(node) = endpoints.nodes.iter().find(|n| &n.name == name).cloned() else {
            reporter.report(Event::Note {
                message: format!("{name} is not installed any more"),
            });
            continue;
        };
        reporter.report(Event::Note {
            message: format!("Removing {}", node.name),
        });
        let node_dir = InstallDir::node_dir_relative(&node.node);
        dir.check_no_links(&node_dir.join("docker-compose.yml"))?;
        dir.check_no_links(&node_dir.join("cache"))?;
        let claim = super::owner::claim_name(&node.node);
        let ours = super::owner::owner_of(dir);
        if let Some(folder) = engine.claim_owner(&claim).await?.filter(|f| *f != ours) {
            // Installed since from another folder: the engine's container is
            // that folder's, so only this folder's entry goes.
            reporter.report(Event::Note {
                message: format!(
                    "{} is installed on this engine from `{folder}` now: removed from this folder only",
                    node.name
                ),
            });
            remove_any(&dir.compose_file(&node.node))?;
            endpoints.nodes.retain(|n| n.name != node.name);
            dir.write_endpoints(&endpoints)?;
            continue;
        }
        // The file and project the node's settings give in this folder, not
        // paths read back from a state file.
        let file = dir.compose_file(&node.node);
        if file.exists() {
            let compose = match &compose {
                Some(found) => found,
                None => compose.insert(Compose::detect(engine.host()).await?),
            };
            compose
                .down(&crate::compose::project_name(&node.node), &file)
                .await?;
        }
        remove_any(&file)?;
        super::owner::release(engine, &claim, &ours).await?;
        endpoints.nodes.retain(|n| n.name != node.name);
        if purge_cache {
            purge(dir, &node, &endpoints)?;
        }
        let _ = std::fs::remove_dir(dir.node_dir(&node.node));
        dir.write_endpoints(&endpoints)?;
    }
    if purge_cache && endpoints.nodes.is_empty() {
        // What unfinished installs staged goes too.
        remove_any(&dir.root().join(InstallDir::staging_relative()))?;
    }
    for folder in ["models", "compose"] {
        let _ = std::fs::remove_dir(dir.root().join(folder));
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
        None => remove_any(&dir.cache_dir(&node.node)),
        Some(cache) => {
            let in_use = remaining
                .nodes
                .iter()
                .any(|n| n.offline && n.node.model.as_ref().is_some_and(|m| &m.cache == cache));
            if in_use {
                return Ok(());
            }
            dir.check_no_links(&std::path::Path::new("models").join(cache))?;
            remove_any(&dir.models_dir(cache))?;
            remove_any(&dir.models_log(cache))?;
            super::models::remove_staged(dir, cache)
        }
    }
}
