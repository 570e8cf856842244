//! `deploy-local`: run catalog nodes on this workstation directly, without a
//! package (the GUI's "Deploy on this workstation"): pull if needed, the same
//! preflight and configuration as an install.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeReport, NodeSetup};
use super::dir::InstallDir;
use super::gpu::{self, GpuReadiness};
use super::journal::{Step, Transaction};
use super::state::LoadedImage;
use super::{owner, preflight, InstallError};
use crate::catalog::Node;
use crate::engine::{Engine, EngineFacts, GpuRequest, RegistryAuth};
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
    /// Whether a GPU container runs here, when a node needs a GPU.
    pub gpu: Option<GpuReadiness>,
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
    // Compose is looked for while the run waits for its lock and probes.
    let detecting = crate::compose::Detecting::start(engine.host());
    let lock = options.dir.lock(&*reporter, cancel).await?;
    let mut transaction =
        Transaction::begin(&options.dir, &lock, engine, "deploy-local", &*reporter).await?;
    let mut loaded = options.dir.loaded_images()?;
    let facts = engine.facts().await?;
    // Probed before any change when a GPU node's image is here already,
    // else once it is pulled.
    let gpu = gpu::judge(engine, &facts, &nodes, &*reporter, cancel).await?;
    let needs = preflight::Needs {
        nodes: &nodes,
        load_bytes: 0,
        model_bytes: 0,
        start: options.start,
        compose: true,
        gpu: gpu.as_ref(),
        // A deploy pulls only a name that names no image.
        moved_tags: &[],
    };
    let compose = preflight::check(engine, &facts, &options.dir, &needs, Some(detecting)).await?;
    if !options.start {
        gpu::warn(gpu.as_ref(), &nodes, &*reporter);
    }
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
        (&nodes, &facts, gpu),
        &configure,
        &reporter,
        &mut transaction,
    )
    .await;
    let (setups, pulled, changed, gpu) = match deployed {
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
    Ok(DeployReport { nodes, gpu })
}

/// What a deploy's changes give: the nodes, the images pulled, whether each
/// node changed, and the GPU's verdict.
type Deployed = (
    Vec<NodeSetup>,
    Vec<LoadedImage>,
    Vec<bool>,
    Option<GpuReadiness>,
);

/// The deploy's changes, each recorded in `transaction` before it is made:
/// pulls (an image the engine had under another name is the user's: taking
/// the run back only takes back the name the pull added), then the GPU
/// probe unless it ran before, then the nodes. The nodes, the images
/// pulled, whether each node changed, and the GPU's verdict.
async fn deploy(
    engine: &Engine,
    options: &DeployOptions,
    (nodes, facts, gpu): (&[Node], &EngineFacts, Option<GpuReadiness>),
    configure: &Configure<'_>,
    reporter: &SharedReporter,
    transaction: &mut Transaction<'_>,
) -> Result<Deployed, InstallError> {
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
        // A pull writes layers as a load does.
        let _writeback = before
            .is_none()
            .then(|| crate::engine::Writeback::start(engine, facts))
            .flatten();
        let info = tokio::select! {
            info = engine.ensure_image(&node.image, options.pull, &options.auth, &**reporter) => info?,
            _ = configure.cancel.cancelled() => return Err(InstallError::Cancelled),
        };
        if before.is_none() {
            // A run stopped here has pulled without saying which image.
            super::journal::fault("pull_done")?;
            transaction.record(Step::Pulled {
                reference: node.image.clone(),
                id: info.id.clone(),
            })?;
        }
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
    let mut setups: Vec<NodeSetup> = nodes
        .iter()
        .map(|node| NodeSetup {
            node: node.clone(),
            offline: false,
            renewed: pulled.iter().any(|p| p.references.contains(&node.image)),
            keeps_state: false,
            gpu: GpuRequest::Nvidia,
        })
        .collect();
    let gpu = match gpu {
        Some(gpu) => {
            gpu::ask_as(&mut setups, Some(&gpu));
            Some(gpu)
        }
        None => {
            let (start, cancel) = (configure.start, configure.cancel);
            gpu::judge_loaded(engine, facts, &mut setups, start, &**reporter, cancel).await?
        }
    };
    let changed = configure
        .apply(&setups, transaction, Default::default())
        .await?;
    Ok((setups, pulled, changed, gpu))
}
