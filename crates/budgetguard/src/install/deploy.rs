//! `deploy-local`: run catalog nodes on this workstation directly, without a
//! package (the GUI's "Deploy on this workstation"): pull if needed, the same
//! preflight and configuration as an install.

use std::net::IpAddr;
use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeReport, NodeSetup};
use super::dir::InstallDir;
use super::state::LoadedImage;
use super::{preflight, InstallError};
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

/// Deploys the nodes as `options` say; a failure takes back what the run
/// changed, images it pulled included.
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
    let _lock = options.dir.lock(&*reporter, cancel).await?;
    let mut loaded = options.dir.loaded_images()?;
    let needs = preflight::Needs {
        nodes: &nodes,
        load_bytes: 0,
        model_bytes: 0,
        start: options.start,
        compose: true,
    };
    let compose = preflight::check(engine, &engine.facts().await?, &options.dir, &needs).await?;
    // An image the engine had under another name is the user's: a rollback
    // only takes back the name the pull added.
    let ids_before = engine.image_ids().await?;
    let mut pulled: Vec<LoadedImage> = Vec::new();
    let mut named: Vec<String> = Vec::new();
    let undo_pulls = |pulled: Vec<LoadedImage>, named: Vec<String>| async move {
        for image in pulled {
            let _ = engine.remove_image(&image.id, true).await;
        }
        for reference in named {
            let _ = engine.untag(&reference).await;
        }
    };
    for node in &nodes {
        let before = engine.image(&node.image).await?;
        let info = tokio::select! {
            info = engine.ensure_image(&node.image, options.pull, &options.auth, &*reporter) => info.map_err(InstallError::from),
            _ = cancel.cancelled() => Err(InstallError::Cancelled),
        };
        match info {
            Ok(info) if before.is_none() && ids_before.contains(&info.id) => {
                named.push(node.image.clone());
            }
            Ok(info) if before.is_none() && !pulled.iter().any(|p| p.id == info.id) => {
                pulled.push(LoadedImage {
                    engine: engine.host().to_owned(),
                    id: info.id,
                    blobs: Vec::new(),
                    references: vec![node.image.clone()],
                    replaced: Default::default(),
                });
            }
            Ok(_) => {}
            Err(e) => {
                undo_pulls(pulled, named).await;
                return Err(e);
            }
        }
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
    let setups: Vec<NodeSetup> = nodes
        .iter()
        .map(|node| NodeSetup {
            node: node.clone(),
            offline: false,
            renewed: pulled.iter().any(|p| p.references.contains(&node.image)),
        })
        .collect();
    let applied = match configure.apply(&setups).await {
        Ok(applied) => applied,
        Err(e) => {
            undo_pulls(pulled, named).await;
            return Err(e);
        }
    };
    for image in pulled.iter().cloned() {
        loaded.record(image);
    }
    let recorded = configure
        .register(&setups)
        .and_then(|()| options.dir.write_loaded_images(&loaded));
    if let Err(e) = recorded {
        configure.roll_back(&applied).await;
        undo_pulls(pulled, named).await;
        return Err(e);
    }
    let nodes = configure.finish(&setups, applied).await?;
    Ok(DeployReport { nodes })
}
