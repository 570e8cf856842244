//! `deploy-local`: run catalog nodes on this workstation directly, without a
//! package (the GUI's "Deploy on this workstation"): pull if needed, the same
//! preflight and configuration as an install.

use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeConfig, NodeReport};
use super::dir::InstallDir;
use super::{preflight, InstallError};
use crate::catalog::Node;
use crate::compose::compose_file;
use crate::engine::{Engine, RegistryAuth};
use crate::progress::SharedReporter;
use crate::Cancel;

/// What to deploy, and how.
#[derive(Debug, Clone)]
pub struct DeployOptions {
    /// The catalog nodes.
    pub nodes: Vec<Node>,
    /// The install folder.
    pub dir: InstallDir,
    /// Start the nodes (and wait until they are ready).
    pub start: bool,
    /// How long to wait for readiness.
    pub wait: Duration,
    /// Pull images the engine lacks.
    pub pull: bool,
    /// Credentials for pulls.
    pub auth: RegistryAuth,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Each node.
    pub nodes: Vec<NodeReport>,
}

/// Deploys the nodes as `options` say.
pub async fn deploy_local(
    engine: &Engine,
    options: &DeployOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<DeployReport, InstallError> {
    let needs = preflight::Needs {
        nodes: &options.nodes,
        load_bytes: 0,
        start: options.start,
    };
    let compose = preflight::check(engine, &engine.facts().await?, &options.dir, &needs).await?;
    for node in &options.nodes {
        tokio::select! {
            info = engine.ensure_image(&node.image, options.pull, &options.auth, &*reporter) => { info?; }
            _ = cancel.cancelled() => return Err(InstallError::Cancelled),
        }
    }
    let configs: Vec<NodeConfig> = options
        .nodes
        .iter()
        .map(|node| NodeConfig {
            node: node.clone(),
            compose_yaml: compose_file(node).to_yaml().into_bytes(),
        })
        .collect();
    let nodes = Configure {
        engine,
        compose: &compose,
        dir: &options.dir,
        start: options.start,
        wait: options.wait,
        reporter: &*reporter,
        cancel,
    }
    .run(&configs)
    .await?;
    Ok(DeployReport { nodes })
}
