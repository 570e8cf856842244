//! Writing nodes' Compose files into the install folder and creating or
//! starting their containers. A run remembers what it changed, so that a
//! failure puts the nodes back as they were, removing only what this run
//! created (never a file someone else put in a node's folder).

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::dir::{write_atomic, InstallDir};
use super::models::give_to_container;
use super::state::{Endpoints, InstalledNode};
use super::{health, InstallError};
use crate::catalog::Node;
use crate::compose::{self, compose_file, Compose, ComposeError};
use crate::engine::Engine;
use crate::progress::{Event, Reporter};
use crate::Cancel;

/// What was done for one node.
#[derive(Debug, Clone, Serialize)]
pub struct NodeReport {
    /// The node's name.
    pub name: String,
    /// Its Compose file.
    pub compose_file: PathBuf,
    /// Whether its Compose file or container changed in this run.
    pub changed: bool,
    /// Its container's state afterwards (`created`, `running`, …).
    pub state: String,
    /// Its inference URL.
    pub endpoint: String,
    /// The address its port is published on.
    pub listen: String,
}

/// How nodes are configured.
pub(crate) struct Configure<'a> {
    pub engine: &'a Engine,
    /// Compose, found by the preflight when some node changes (a run that
    /// changes nothing starts no Compose process, not even to find it).
    pub compose: Option<&'a Compose>,
    pub dir: &'a InstallDir,
    pub start: bool,
    pub wait: Duration,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a Cancel,
}

/// A node to configure.
#[derive(Debug, Clone)]
pub(crate) struct NodeSetup {
    /// Its settings.
    pub node: Node,
    /// Whether its models came in its package: it mounts the shared cache
    /// and needs no credentials.
    pub offline: bool,
    /// Whether this run loaded a new image for it: its container is made
    /// anew even if its Compose file stays the same.
    pub renewed: bool,
}

/// A node as it was before this run, and what the run created for it.
struct Before {
    node: Node,
    compose_yaml: Option<Vec<u8>>,
    state: Option<String>,
    created_dirs: Vec<PathBuf>,
}

impl Before {
    /// How `node` is configured now.
    async fn read(engine: &Engine, dir: &InstallDir, node: &Node) -> Result<Self, InstallError> {
        Ok(Self {
            node: node.clone(),
            compose_yaml: super::dir::read_own(&dir.compose_file(node))?,
            state: engine
                .container_state(&compose::container_name(node))
                .await?,
            created_dirs: Vec::new(),
        })
    }

    /// Whether configuring `setup` with the Compose file `yaml` changes
    /// it: a new image, another Compose file, no container, or a container
    /// to start.
    fn changes(&self, setup: &NodeSetup, yaml: &[u8], start: bool) -> bool {
        setup.renewed
            || self.compose_yaml.as_deref() != Some(yaml)
            || self.state.is_none()
            || (start && self.state.as_deref() != Some("running"))
    }
}

/// The Compose file generated for a node.
fn yaml_of(setup: &NodeSetup) -> Vec<u8> {
    compose_file(&setup.node, setup.offline)
        .to_yaml()
        .into_bytes()
}

/// Whether configuring `nodes` changes any of them, so that Compose must
/// run (the same test [`Configure::apply`] makes).
pub(crate) async fn changes_any(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[NodeSetup],
    start: bool,
) -> Result<bool, InstallError> {
    for setup in nodes {
        let before = Before::read(engine, dir, &setup.node).await?;
        if before.changes(setup, &yaml_of(setup), start) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What a run changed, to put back if a later step fails.
pub(crate) struct Applied {
    before: Vec<Before>,
    changed: Vec<bool>,
}

impl Configure<'_> {
    /// Writes each node's Compose file (generated here, from the node's
    /// validated settings), then creates or starts the containers of the
    /// nodes that change, all at once (Compose's own start-up dominates).
    /// On failure the nodes of this run are put back first.
    pub(crate) async fn apply(&self, nodes: &[NodeSetup]) -> Result<Applied, InstallError> {
        let mut applied = Applied {
            before: Vec::new(),
            changed: Vec::new(),
        };
        let mut changing = Vec::new();
        for setup in nodes {
            let prepared = self.prepare(setup, &mut applied).await;
            match prepared {
                Ok(true) => changing.push(setup),
                Ok(false) => {}
                Err(e) => {
                    self.roll_back(&applied).await;
                    return Err(e);
                }
            }
        }
        let ups = changing.iter().map(|setup| self.up(&setup.node));
        let failed = futures_util::future::join_all(ups)
            .await
            .into_iter()
            .find_map(Result::err);
        if let Some(e) = failed {
            self.roll_back(&applied).await;
            return Err(e);
        }
        Ok(applied)
    }

    /// Records how `setup`'s node is now and, when this run changes it,
    /// makes its folders and writes its Compose file; returns whether it
    /// changes.
    async fn prepare(
        &self,
        setup: &NodeSetup,
        applied: &mut Applied,
    ) -> Result<bool, InstallError> {
        let node = &setup.node;
        let yaml = yaml_of(setup);
        let before = Before::read(self.engine, self.dir, node).await?;
        let changes = before.changes(setup, &yaml, self.start);
        applied.changed.push(changes);
        applied.before.push(before);
        if !changes {
            // Compose would change nothing: it is not even started.
            return Ok(false);
        }
        let before = applied.before.last_mut().expect("just pushed");
        let node_dir = InstallDir::node_dir_relative(node);
        if setup.offline {
            before.created_dirs = self.dir.make_dirs(&node_dir)?;
        } else {
            before.created_dirs = self.dir.make_dirs(&node_dir.join("cache"))?;
            if before.created_dirs.last() == Some(&self.dir.cache_dir(node)) {
                give_to_container(&self.dir.cache_dir(node), 0o2775)?;
            }
        }
        self.compose.ok_or(ComposeError::Missing)?;
        write_atomic(&self.dir.compose_file(node), &yaml)?;
        Ok(true)
    }

    /// Creates or starts `node`'s container with its Compose file.
    async fn up(&self, node: &Node) -> Result<(), InstallError> {
        let compose = self.compose.ok_or(ComposeError::Missing)?;
        self.reporter.report(Event::Note {
            message: format!(
                "{} {} ({})",
                if self.start { "Starting" } else { "Creating" },
                node.name,
                compose::container_name(node)
            ),
        });
        compose
            .up(
                &compose::project_name(node),
                &self.dir.compose_file(node),
                self.start,
            )
            .await?;
        Ok(())
    }

    /// Puts the nodes of a run back as they were, as far as Compose lets,
    /// and removes the folders the run created if they are empty again.
    pub(crate) async fn roll_back(&self, applied: &Applied) {
        // Without Compose, no node was changed through it.
        let Some(compose) = self.compose else {
            return;
        };
        for before in applied.before.iter().rev() {
            let node = &before.node;
            let file = self.dir.compose_file(node);
            let project = compose::project_name(node);
            match &before.compose_yaml {
                Some(yaml) => {
                    let _ = write_atomic(&file, yaml);
                    let running = before.state.as_deref() == Some("running");
                    let _ = compose.up(&project, &file, running).await;
                }
                None => {
                    if file.exists() {
                        let _ = compose.down(&project, &file).await;
                        let _ = std::fs::remove_file(&file);
                    }
                }
            }
            for dir in before.created_dirs.iter().rev() {
                // Only if empty: whatever else is there stays.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }

    /// Adds the nodes to `endpoints.json`; a node installed again with the
    /// same settings keeps its install time.
    pub(crate) fn register(&self, nodes: &[NodeSetup]) -> Result<(), InstallError> {
        let mut endpoints: Endpoints = self.dir.endpoints()?;
        for setup in nodes {
            let node = &setup.node;
            let mut entry = InstalledNode::new(self.dir, node);
            entry.offline = setup.offline;
            if let Some(same) = endpoints.nodes.iter().find(|n| &n.node == node) {
                entry.installed_at.clone_from(&same.installed_at);
            }
            endpoints
                .nodes
                .retain(|n| n.node.service_name() != node.service_name());
            endpoints.nodes.push(entry);
        }
        endpoints.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.dir.write_endpoints(&endpoints)
    }

    /// Waits for readiness when starting, then reports each node.
    pub(crate) async fn finish(
        &self,
        nodes: &[NodeSetup],
        applied: Applied,
    ) -> Result<Vec<NodeReport>, InstallError> {
        if self.start {
            for node in nodes.iter().map(|s| &s.node) {
                self.reporter.report(Event::Note {
                    message: format!(
                        "Waiting for {} to be ready (up to {} s)",
                        node.name,
                        self.wait.as_secs()
                    ),
                });
                health::wait_ready(&InstalledNode::new(self.dir, node), self.wait, self.cancel)
                    .await?;
            }
        }
        let mut reports = Vec::new();
        for (node, changed) in nodes.iter().map(|s| &s.node).zip(applied.changed) {
            let entry = InstalledNode::new(self.dir, node);
            reports.push(NodeReport {
                name: node.name.clone(),
                compose_file: entry.compose_file,
                changed,
                state: self
                    .engine
                    .container_state(&entry.container)
                    .await?
                    .unwrap_or_else(|| "missing".into()),
                endpoint: entry.infer_url,
                listen: entry.listen,
            });
        }
        Ok(reports)
    }
}
