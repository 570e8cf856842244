//! `install-package`: check the package, check the workstation, stream the
//! images into the engine, then configure and create or start the nodes.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::configure::{Configure, NodeConfig, NodeReport};
use super::dir::InstallDir;
use super::load::{load_images, ImageOutcome, LoadPlan};
use super::{preflight, InstallError};
use crate::engine::Engine;
use crate::package::Package;
use crate::progress::SharedReporter;
use crate::Cancel;

/// The largest Compose file a package may carry.
const MAX_COMPOSE_FILE: u64 = 1 << 20;

/// What to install, and how.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The package file.
    pub package: PathBuf,
    /// The install folder.
    pub dir: InstallDir,
    /// Start the nodes (and wait until they are ready).
    pub start: bool,
    /// How long to wait for readiness.
    pub wait: Duration,
}

/// What an install did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// The package file.
    pub package: PathBuf,
    /// Each image and whether it was loaded.
    pub images: Vec<ImageReport>,
    /// Each node.
    pub nodes: Vec<NodeReport>,
    /// Bytes streamed into the engine (layers it had were left out).
    pub loaded_bytes: u64,
    /// Whether anything changed on the workstation.
    pub changed: bool,
}

/// What happened to one image.
#[derive(Debug, Clone, Serialize)]
pub struct ImageReport {
    /// Its references.
    pub references: Vec<String>,
    /// Its ID (config digest).
    pub id: String,
    /// Loaded, or already present.
    pub outcome: ImageOutcome,
}

/// Installs the package as `options` say. A package that fails verification
/// or a workstation that fails the preflight changes nothing.
pub async fn install_package(
    engine: &Engine,
    options: &InstallOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<InstallReport, InstallError> {
    let package = Arc::new(Package::open(&options.package)?);
    let configs = package_nodes(&package)?;
    let facts = engine.facts().await?;
    let (plan, outcomes) = LoadPlan::prepare(engine, &package, facts.containerd_store).await?;

    let nodes: Vec<_> = configs.iter().map(|c| c.node.clone()).collect();
    let loaded_bytes = plan.stream_bytes();
    let needs = preflight::Needs {
        nodes: &nodes,
        load_bytes: loaded_bytes,
        start: options.start,
    };
    let compose = preflight::check(engine, &facts, &options.dir, &needs).await?;

    load_images(
        engine,
        &package,
        plan,
        facts.containerd_store,
        &reporter,
        cancel,
    )
    .await?;
    let reports = Configure {
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

    let images: Vec<ImageReport> = package
        .manifest()
        .images
        .iter()
        .zip(outcomes)
        .map(|(image, outcome)| ImageReport {
            references: image.references.clone(),
            id: image.id.clone(),
            outcome,
        })
        .collect();
    let changed = images.iter().any(|i| i.outcome == ImageOutcome::Loaded)
        || reports.iter().any(|n| n.changed);
    Ok(InstallReport {
        package: options.package.clone(),
        images,
        nodes: reports,
        loaded_bytes,
        changed,
    })
}

/// Each node of the package with its Compose file, read and checked
/// against the manifest before anything changes.
fn package_nodes(package: &Package) -> Result<Vec<NodeConfig>, InstallError> {
    let mut configs = Vec::new();
    for packaged in &package.manifest().nodes {
        configs.push(NodeConfig {
            node: packaged.node.clone(),
            compose_yaml: package.read_small(&packaged.compose_file, MAX_COMPOSE_FILE)?,
        });
    }
    Ok(configs)
}
