//! `deploy-local`: run catalog nodes on this workstation directly, without a
//! package (the GUI's "Deploy on this workstation"): pull if needed, the same
//! preflight and configuration as an install.

use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeConfig, NodeReport};
use super::dir::InstallDir;
use super::{preflight, InstallError};
use crate::catalog::Node;
use crate::compose::{compose_file, Compose};
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

/// Problems that stop `nodes` from running here; empty when they can.
pub async fn deploy_problems(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[Node],
    start: bool,
) -> Result<Vec<String>, InstallError> {
    let facts = engine.facts().await?;
    let mut problems = preflight::problems(
        engine,
        &facts,
        dir,
        &preflight::Needs {
            nodes,
            load_bytes: 0,
            start,
        },
    )
    .await;
    if let Err(e) = Compose::detect(engine.host()).await {
        problems.insert(0, e.to_string());
    }
    Ok(problems)
}

/// Deploys the nodes as `options` say.
pub async fn deploy_local(
    engine: &Engine,
    options: &DeployOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<DeployReport, InstallError> {
    let problems = deploy_problems(engine, &options.dir, &options.nodes, options.start).await?;
    if !problems.is_empty() {
        return Err(InstallError::Preflight { problems });
    }
    let compose = Compose::detect(engine.host()).await?;
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
