//! Writing nodes' Compose files into the install folder and creating or
//! starting their containers. The run's journal records each node as it
//! was before any of them changes, so that taking the run back puts the
//! nodes back as they were, removing only what this run created (never a
//! file someone else put in a node's folder).

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::dir::{write_atomic, InstallDir};
use super::journal::{note, Step, Transaction};
use super::models::give_to_container;
use super::state::{Endpoints, InstalledNode};
use super::{health, InstallError};
use crate::catalog::Node;
use crate::compose::{self, compose_file_for, Compose, ComposeError, PreparedUp, Up};
use crate::engine::{Engine, GpuRequest};
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
    /// Whether this run loaded a new image or switched the model cache for
    /// it: its container is made anew even if its Compose file stays the
    /// same.
    pub renewed: bool,
    /// Whether it is an installed node of another package, made anew only
    /// because a cache it shares switched: it keeps its state (running or
    /// not) whatever the run's.
    pub keeps_state: bool,
    /// How it asks for its GPU, when it needs one.
    pub gpu: GpuRequest,
}

/// A node as it was before a run, and the folders the run creates for it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct NodeBefore {
    node: Node,
    compose_yaml: Option<String>,
    state: Option<String>,
    created_dirs: Vec<PathBuf>,
}

impl NodeBefore {
    /// How `node` is configured now.
    async fn read(engine: &Engine, dir: &InstallDir, node: &Node) -> Result<Self, InstallError> {
        Ok(Self {
            node: node.clone(),
            compose_yaml: super::dir::read_own(&dir.compose_file(node))?
                .map(|yaml| String::from_utf8_lossy(&yaml).into_owned()),
            state: engine
                .container_state(&compose::container_name(node))
                .await?,
            created_dirs: Vec::new(),
        })
    }

    /// Whether configuring `setup` with the Compose file `yaml` changes
    /// it: a new image or model cache, another Compose file, no container,
    /// or a container to start.
    fn changes(&self, setup: &NodeSetup, yaml: &[u8], start: bool) -> bool {
        setup.renewed
            || self.compose_yaml.as_deref().map(str::as_bytes) != Some(yaml)
            || self.state.is_none()
            || (start && self.state.as_deref() != Some("running"))
    }
}

/// The Compose file generated for a node.
fn yaml_of(setup: &NodeSetup) -> Vec<u8> {
    compose_file_for(&setup.node, setup.offline, setup.gpu)
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
        let before = NodeBefore::read(engine, dir, &setup.node).await?;
        if before.changes(setup, &yaml_of(setup), start) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Compose processes started ahead for the nodes a run expects to change
/// (see [`Configure::start_ahead`]); the ones left unused are killed.
#[derive(Debug, Default)]
pub(crate) struct Ahead(Vec<PreparedUp>);

impl Ahead {
    /// The process started for `project`'s `up`, if one was.
    fn take(&mut self, project: &str, up: Up) -> Option<PreparedUp> {
        let at = self.0.iter().position(|p| p.is_for(project, up))?;
        Some(self.0.swap_remove(at))
    }
}

impl Configure<'_> {
    /// Starts, for each of `nodes` that configuring would change as things
    /// stand, its `compose up`, waiting for its Compose file: called as the
    /// run starts loading, so Compose's start-up passes meanwhile. A node
    /// this cannot read is left to [`Self::apply`].
    pub(crate) async fn start_ahead(&self, nodes: &[NodeSetup]) -> Ahead {
        let mut ahead = Vec::new();
        let Some(compose) = self.compose else {
            return Ahead(ahead);
        };
        for setup in nodes {
            let Ok(before) = NodeBefore::read(self.engine, self.dir, &setup.node).await else {
                continue;
            };
            let (changes, up) = self.decide(setup, &before, &yaml_of(setup));
            if !changes {
                continue;
            }
            let node = &setup.node;
            let prepared = compose.prepare_up(
                &compose::project_name(node),
                &self.dir.compose_file(node),
                up,
            );
            match prepared {
                Ok(prepared) => ahead.push(prepared),
                Err(e) => tracing::debug!(error = %e, "compose not started ahead"),
            }
        }
        Ahead(ahead)
    }

    /// Whether configuring `setup` with the Compose file `yaml`, now as
    /// `before`, changes it, and how Compose brings it up: made anew when
    /// the run renewed its image or model cache; started when the run
    /// starts nodes, or, for a node that keeps its state, when it runs now.
    fn decide(&self, setup: &NodeSetup, before: &NodeBefore, yaml: &[u8]) -> (bool, Up) {
        let start = match setup.keeps_state {
            true => before.state.as_deref() == Some("running"),
            false => self.start,
        };
        let up = Up {
            recreate: setup.renewed,
            start,
        };
        (before.changes(setup, yaml, start), up)
    }

    /// Writes the Compose file (generated here, from the node's validated
    /// settings) of each node that changes, then creates or starts their
    /// containers, all at once (Compose's own start-up dominates), with
    /// the Compose processes started `ahead` where they match. Each node
    /// as it was is recorded in `transaction` first. Returns whether each
    /// node changed.
    pub(crate) async fn apply(
        &self,
        nodes: &[NodeSetup],
        transaction: &mut Transaction<'_>,
        mut ahead: Ahead,
    ) -> Result<Vec<bool>, InstallError> {
        let mut changed = Vec::new();
        let mut before = Vec::new();
        let mut changing = Vec::new();
        for setup in nodes {
            let mut node = NodeBefore::read(self.engine, self.dir, &setup.node).await?;
            // Generated once: the file written is the one Compose is handed.
            let yaml = yaml_of(setup);
            let (changes, up) = self.decide(setup, &node, &yaml);
            changed.push(changes);
            if changes {
                node.created_dirs = self.dir.missing_dirs(&node_folder(setup));
                before.push(node);
                let prepared = ahead.take(&compose::project_name(&setup.node), up);
                changing.push((setup, yaml, up, prepared));
            }
        }
        drop(ahead);
        if changing.is_empty() {
            // Compose would change nothing: it is not even started.
            return Ok(changed);
        }
        self.compose.ok_or(ComposeError::Missing)?;
        transaction.record(Step::ConfigureNodes { before })?;
        for (setup, yaml, _, _) in &changing {
            self.write(setup, yaml)?;
        }
        let ups = changing
            .into_iter()
            .map(|(setup, yaml, up, prepared)| self.up(setup, yaml, up, prepared));
        let failed = futures_util::future::join_all(ups)
            .await
            .into_iter()
            .find_map(Result::err);
        match failed {
            Some(e) => Err(e),
            None => Ok(changed),
        }
    }

    /// Makes `setup`'s folders and writes its Compose file `yaml`.
    fn write(&self, setup: &NodeSetup, yaml: &[u8]) -> Result<(), InstallError> {
        let node = &setup.node;
        let created = self.dir.make_dirs(&node_folder(setup))?;
        if !setup.offline && created.last() == Some(&self.dir.cache_dir(node)) {
            give_to_container(&self.dir.cache_dir(node), 0o2775)?;
        }
        write_atomic(&self.dir.compose_file(node), yaml)
    }

    /// Creates or starts the node's container with its Compose file `yaml`,
    /// as `up` says, by the Compose process `prepared` ahead when there is
    /// one.
    async fn up(
        &self,
        setup: &NodeSetup,
        yaml: Vec<u8>,
        up: Up,
        prepared: Option<PreparedUp>,
    ) -> Result<(), InstallError> {
        let node = &setup.node;
        let compose = self.compose.ok_or(ComposeError::Missing)?;
        self.reporter.report(Event::Note {
            message: format!(
                "{} {} ({})",
                if up.start { "Starting" } else { "Creating" },
                node.name,
                compose::container_name(node)
            ),
        });
        let (project, file) = (compose::project_name(node), self.dir.compose_file(node));
        let prepared = match prepared {
            Some(prepared) => prepared,
            None => compose.prepare_up(&project, &file, up)?,
        };
        match prepared.run(&yaml).await {
            // Ctrl-C reaches Compose too.
            Err(_) if self.cancel.is_cancelled() => Err(InstallError::Cancelled),
            outcome => Ok(outcome?),
        }
    }

    /// `endpoints.json` with the nodes added; a node installed again with
    /// the same settings keeps its install time.
    fn register(&self, nodes: &[NodeSetup]) -> Result<Endpoints, InstallError> {
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
        Ok(endpoints)
    }

    /// What ends a run before its commit: started nodes answer ready (see
    /// [`Self::finish`]), and `endpoints.json` as it will be with the nodes
    /// (see [`Self::register`]).
    pub(crate) async fn conclude(
        &self,
        nodes: &[NodeSetup],
        changed: Vec<bool>,
    ) -> Result<(Vec<NodeReport>, Endpoints), InstallError> {
        let reports = self.finish(nodes, changed).await?;
        Ok((reports, self.register(nodes)?))
    }

    /// Waits for readiness when starting, then reports each node.
    async fn finish(
        &self,
        nodes: &[NodeSetup],
        changed: Vec<bool>,
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
        for (node, changed) in nodes.iter().map(|s| &s.node).zip(changed) {
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

/// The folders of a node below the install folder: its Compose folder, and
/// its own cache unless it uses a packaged one.
fn node_folder(setup: &NodeSetup) -> PathBuf {
    let folder = InstallDir::node_dir_relative(&setup.node);
    match setup.offline {
        true => folder,
        false => folder.join("cache"),
    }
}

/// Puts nodes back as `before` says, newest first, and removes the
/// folders the run created if they are empty again; what fails is added to
/// `failed` (without Compose, every node with a Compose step fails).
pub(crate) async fn roll_back(
    compose: Option<&Compose>,
    dir: &InstallDir,
    before: &[NodeBefore],
    failed: &mut Vec<String>,
) {
    let Some(compose) = compose else {
        note(failed, Err::<(), _>(ComposeError::Missing));
        return;
    };
    for before in before.iter().rev() {
        let node = &before.node;
        let file = dir.compose_file(node);
        let project = compose::project_name(node);
        match &before.compose_yaml {
            Some(yaml) => {
                // Made anew, so that it runs the image and cache the take-back
                // gave back, not the ones the run had switched to.
                note(failed, write_atomic(&file, yaml.as_bytes()));
                let running = before.state.as_deref() == Some("running");
                let up = Up {
                    recreate: true,
                    start: running,
                };
                note(
                    failed,
                    compose.up(&project, &file, yaml.as_bytes(), up).await,
                );
            }
            None => {
                if file.exists() {
                    note(failed, compose.down(&project, &file).await);
                    note(failed, std::fs::remove_file(&file));
                }
            }
        }
        for dir in before.created_dirs.iter().rev() {
            // Only if empty: whatever else is there stays.
            let _ = std::fs::remove_dir(dir);
        }
    }
}
