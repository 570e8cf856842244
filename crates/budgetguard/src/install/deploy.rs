//! `deploy-local`: run catalog nodes on this workstation directly, without a
//! package (the GUI's "Deploy on this workstation"): pull if needed, the same
//! preflight and configuration as an install.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeReport, NodeSetup};
use super::dir::InstallDir;
use super::journal::{Step, Transaction};
use super::state::LoadedImage;
use super::{owner, preflight, InstallError};
use crate::catalog::Node;
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
    /// Publish every node's port on this address instead of the node's own.
    pub listen: Option<IpAddr>,
}

/// What a deploy did.
#[derive(Debug, Clone, Serialize)]
pub struct DeployReport {
    /// Each node.
    pub nodes: Vec<NodeReport>,
}

/// Deploys the nodes as `options` say, as one journaled transaction (the
/// same as an install's): a failure takes back what the run changed,
/// images it pulled included.
pub async fn deploy_local(
    engine: &Engine,
    options: &DeployOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<DeployReport, InstallError> {
    let nodes: Vec<Node> = options
        .nodes
        .iter()
        .map(|node| Node {
            listen: options.listen.or(node.listen),
            ..node.clone()
        })
        .collect();
    for node in &nodes {
        node.validate()?;
    }
    let lock = options.dir.lock(&*reporter, cancel).await?;
    let mut transaction =
        Transaction::begin(&options.dir, &lock, engine, "deploy-local", &*reporter).await?;
    let mut loaded = options.dir.loaded_images()?;
    let needs = preflight::Needs {
        nodes: &nodes,
        load_bytes: 0,
        model_bytes: 0,
        start: options.start,
        compose: true,
    };
    let compose = preflight::check(engine, &engine.facts().await?, &options.dir, &needs).await?;
    if let Err(e) = owner::claim_nodes(engine, &options.dir, &nodes, &mut transaction).await {
        transaction.take_back(engine, &*reporter, false).await;
        return Err(e);
    }
    let configure = Configure {
        engine,
        compose: compose.as_ref(),
        dir: &options.dir,
        start: options.start,
        wait: options.wait,
        reporter: &*reporter,
        cancel,
    };
    let deployed = deploy(
        engine,
        options,
        &nodes,
        &configure,
        &reporter,
        &mut transaction,
    )
    .await;
    let (setups, pulled, changed) = match deployed {
        Ok(deployed) => deployed,
        Err(e) => {
            transaction.take_back(engine, &*reporter, false).await;
            return Err(e);
        }
    };
    // Started nodes answer ready before the run commits, as in an install.
    let (nodes, endpoints) = match configure.conclude(&setups, changed).await {
        Ok(done) => done,
        Err(e) => {
            transaction.take_back(engine, &*reporter, false).await;
            return Err(e);
        }
    };
    for image in pulled {
        loaded.record(image);
    }
    transaction
        .commit(engine, &*reporter, Some(&endpoints), Some(&loaded))
        .await?;
    Ok(DeployReport { nodes })
}

/// The deploy's changes, each recorded in `transaction` before it is made:
/// pulls (an image the engine had under another name is the user's: taking
/// the run back only takes back the name the pull added), then the nodes.
/// The nodes, the images pulled, and whether each node changed.
async fn deploy(
    engine: &Engine,
    options: &DeployOptions,
    nodes: &[Node],
    configure: &Configure<'_>,
    reporter: &SharedReporter,
    transaction: &mut Transaction<'_>,
) -> Result<(Vec<NodeSetup>, Vec<LoadedImage>, Vec<bool>), InstallError> {
    let ids_before = engine.image_ids().await?;
    let mut pulled: Vec<LoadedImage> = Vec::new();
    for node in nodes {
        let before = engine.image(&node.image).await?;
        if before.is_none() {
            transaction.record(Step::Pull {
                reference: node.image.clone(),
                ids_before: ids_before.clone(),
            })?;
        }
        let info = tokio::select! {
            info = engine.ensure_image(&node.image, options.pull, &options.auth, &**reporter) => info?,
            _ = configure.cancel.cancelled() => return Err(InstallError::Cancelled),
        };
        let new = before.is_none() && !ids_before.contains(&info.id);
        if new && !pulled.iter().any(|p| p.id == info.id) {
            pulled.push(LoadedImage {
                engine: engine.host().to_owned(),
                id: info.id,
                blobs: Vec::new(),
                references: vec![node.image.clone()],
                replaced: Default::default(),
            });
        }
    }
    let setups: Vec<NodeSetup> = nodes
        .iter()
        .map(|node| NodeSetup {
            node: node.clone(),
            offline: false,
            renewed: pulled.iter().any(|p| p.references.contains(&node.image)),
            keeps_state: false,
        })
        .collect();
    let changed = configure.apply(&setups, transaction).await?;
    Ok((setups, pulled, changed))
}
