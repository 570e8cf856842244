//! Writing nodes' Compose files into the install folder, creating or starting
//! their containers, and registering their endpoints. If Compose fails for a
//! node, the nodes of this run are put back as they were.

use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use super::dir::{write_atomic, InstallDir, InstalledNode};
use super::{health, InstallError};
use crate::catalog::Node;
use crate::compose::{self, Compose};
use crate::engine::Engine;
use crate::progress::{Event, Reporter};
use crate::Cancel;

/// A node and the Compose file to install for it.
#[derive(Debug, Clone)]
pub(crate) struct NodeConfig {
    /// The node.
    pub node: Node,
    /// Its Compose file.
    pub compose_yaml: Vec<u8>,
}

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
}

/// How nodes are configured.
pub(crate) struct Configure<'a> {
    pub engine: &'a Engine,
    pub compose: &'a Compose,
    pub dir: &'a InstallDir,
    pub start: bool,
    pub wait: Duration,
    pub reporter: &'a dyn Reporter,
    pub cancel: &'a Cancel,
}

/// A node as it was before this run, to put back on failure.
struct Before {
    config: NodeConfig,
    compose_yaml: Option<Vec<u8>>,
    state: Option<String>,
    cache_existed: bool,
}

impl Configure<'_> {
    /// Configures every node, then waits for readiness when starting.
    pub(crate) async fn run(&self, nodes: &[NodeConfig]) -> Result<Vec<NodeReport>, InstallError> {
        let mut done: Vec<Before> = Vec::new();
        let mut changed = Vec::new();
        for config in nodes {
            let node = &config.node;
            let file = self.dir.compose_file(node);
            let container = compose::container_name(node);
            let before = Before {
                config: config.clone(),
                compose_yaml: std::fs::read(&file).ok(),
                state: self.engine.container_state(&container).await?,
                cache_existed: self.dir.cache_dir(node).exists(),
            };
            changed.push(
                before.compose_yaml.as_deref() != Some(config.compose_yaml.as_slice())
                    || before.state.is_none()
                    || (self.start && before.state.as_deref() != Some("running")),
            );
            done.push(before);
            if let Err(e) = self.apply(config, &file).await {
                self.roll_back(&done).await;
                return Err(e);
            }
        }
        let mut endpoints = self.dir.endpoints()?;
        for config in nodes {
            let entry = InstalledNode::new(self.dir, &config.node);
            endpoints
                .nodes
                .retain(|n| n.node.service_name() != config.node.service_name());
            endpoints.nodes.push(entry);
        }
        endpoints.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.dir.write_endpoints(&endpoints)?;
        if self.start {
            for config in nodes {
                self.wait_ready(&config.node).await?;
            }
        }
        let mut reports = Vec::new();
        for (config, changed) in nodes.iter().zip(changed) {
            let node = &config.node;
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
            });
        }
        Ok(reports)
    }

    async fn apply(&self, config: &NodeConfig, file: &std::path::Path) -> Result<(), InstallError> {
        let node = &config.node;
        write_atomic(file, &config.compose_yaml)?;
        let cache = self.dir.cache_dir(node);
        std::fs::create_dir_all(&cache).map_err(InstallError::io("create", &cache))?;
        // NIM containers run as another user and must write their model cache.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&cache, std::fs::Permissions::from_mode(0o777))
                .map_err(InstallError::io("set permissions of", &cache))?;
        }
        self.reporter.report(Event::Note {
            message: format!(
                "{} {} ({})",
                if self.start { "Starting" } else { "Creating" },
                node.name,
                compose::container_name(node)
            ),
        });
        self.compose
            .up(&compose::project_name(node), file, self.start)
            .await?;
        Ok(())
    }

    /// Puts the nodes of this run back as they were, as far as Compose lets.
    async fn roll_back(&self, done: &[Before]) {
        for before in done.iter().rev() {
            let node = &before.config.node;
            let file = self.dir.compose_file(node);
            let project = compose::project_name(node);
            match &before.compose_yaml {
                Some(yaml) => {
                    let _ = write_atomic(&file, yaml);
                    let running = before.state.as_deref() == Some("running");
                    let _ = self.compose.up(&project, &file, running).await;
                }
                None => {
                    let _ = self.compose.down(&project, &file).await;
                    let _ = std::fs::remove_file(&file);
                    // A cache kept by an earlier uninstall stays.
                    if !before.cache_existed {
                        let _ = std::fs::remove_dir_all(self.dir.node_dir(node));
                    }
                }
            }
        }
    }

    async fn wait_ready(&self, node: &Node) -> Result<(), InstallError> {
        self.reporter.report(Event::Note {
            message: format!(
                "Waiting for {} to be ready (up to {} s)",
                node.name,
                self.wait.as_secs()
            ),
        });
        health::wait_ready(&InstalledNode::new(self.dir, node), self.wait, self.cancel).await
    }
}
