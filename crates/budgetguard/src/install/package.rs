//! `install-package`: check the package, check the workstation, stream the
//! images into the engine while the models are staged, switch the caches,
//! then configure and create or start the nodes, and commit. One install at
//! a time per install folder, as one journaled transaction: a failure at
//! any step takes back what the earlier steps of the run changed, and a
//! run killed is taken back by the next.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;

use super::configure::{self, Configure, NodeReport, NodeSetup};
use super::dir::InstallDir;
use super::gpu::{self, GpuReadiness};
use super::journal::{Step, Transaction};
use super::load::{ImageOutcome, LoadPlan, LoadRun};
use super::models::{self, cache_owner_warning, process_uid, ModelPlan, ModelsReport};
use super::{owner, preflight, InstallError};
use crate::engine::{Engine, EngineFacts, GpuRequest};
use crate::models::{gpu_fit, GpuFit};
use crate::package::http::{is_url, HttpOptions};
use crate::package::{Package, PackageError};
use crate::progress::{Event, SharedReporter, Warning};
use crate::signing::{Signer, TrustStore, TrustedKey};
use crate::Cancel;

/// What to install, and how.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// The package file (or a part of a split package).
    pub package: PathBuf,
    /// The other parts of a split package, when they are given one by one
    /// (parts in several folders); empty otherwise.
    pub parts: Vec<PathBuf>,
    /// The install folder.
    pub dir: InstallDir,
    /// Start the nodes (and wait until they are ready), or leave them
    /// stopped; `None` does what the package says.
    pub start: Option<bool>,
    /// How long to wait for readiness.
    pub wait: Duration,
    /// Where the nodes publish their ports: publishing on the network is
    /// this workstation's choice, never the package's.
    pub listen: Listen,
}

/// Where installed nodes publish their ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Listen {
    /// On 127.0.0.1, whatever address the package asks for (a node asking
    /// for another is said in a warning).
    #[default]
    Loopback,
    /// On the network, as the user consented: on the address a node's
    /// package asks for when it is beyond loopback, else on every address
    /// (0.0.0.0).
    Network,
    /// On this address, for every node.
    Address(IpAddr),
}

/// What an install did.
#[derive(Debug, Clone, Serialize)]
pub struct InstallReport {
    /// The package file.
    pub package: PathBuf,
    /// The package id.
    pub package_id: String,
    /// Who signed it.
    pub signer: Signer,
    /// Whether the nodes were started.
    pub started: bool,
    /// Each image and whether it was loaded.
    pub images: Vec<ImageReport>,
    /// Each node.
    pub nodes: Vec<NodeReport>,
    /// Bytes streamed into the engine (layers it had were left out).
    pub loaded_bytes: u64,
    /// What was written into the model caches.
    pub models: ModelsReport,
    /// Whether a GPU container runs here, when a node needs a GPU.
    pub gpu: Option<GpuReadiness>,
    /// Whether the packaged models fit this workstation's GPUs, per cache
    /// used by a GPU node.
    pub gpu_fit: Vec<(String, GpuFit)>,
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
/// or a workstation that fails the preflight changes nothing; a later
/// failure takes back what the run changed.
pub async fn install_package(
    engine: &Engine,
    options: &InstallOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<InstallReport, InstallError> {
    install_package_with(engine, options, &HttpOptions::default(), reporter, cancel).await
}

/// Installs the package as [`install_package`] does; a package given by
/// URL is read in place on its server as `http` says, and only the
/// entries the workstation lacks are downloaded.
pub async fn install_package_with(
    engine: &Engine,
    options: &InstallOptions,
    http: &HttpOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<InstallReport, InstallError> {
    let given: Vec<PathBuf> = std::iter::once(options.package.clone())
        .chain(options.parts.iter().cloned())
        .collect();
    let http = http.clone();
    let package = tokio::task::spawn_blocking(move || Package::open_given_with(&given, &http))
        .await
        .expect("opening a package does not panic")?;
    let package = Arc::new(package);
    let signer = check_signature(&package, &options.dir, &*reporter)?;
    // A split package's parts are each checked whole while the run plans,
    // and the check is waited for before the first change, so a damaged
    // part is named before anything is loaded.
    let parts_checked = {
        let (package, reporter) = (package.clone(), reporter.clone());
        let cancel = cancel.child_token();
        let stop = cancel.clone().drop_guard();
        let checking =
            tokio::task::spawn_blocking(move || package.check_parts(&*reporter, &cancel));
        async move {
            let checked = checking.await.expect("checking parts does not panic");
            drop(stop);
            checked
        }
    };
    let mut nodes = package_nodes(&package, options.listen, &*reporter)?;
    let start = options
        .start
        .unwrap_or(package.manifest().start_after_install);
    let lock = options.dir.lock(&*reporter, cancel).await?;
    let mut transaction =
        Transaction::begin(&options.dir, &lock, engine, "install-package", &*reporter).await?;
    // What the engine is and what it holds, asked at once.
    let (facts, local) = tokio::join!(engine.facts(), engine.local_images());
    let facts = facts?;
    let mut loaded = options.dir.loaded_images()?;
    let (run, plan, outcomes) =
        LoadRun::prepare(engine, &package, (facts.containerd_store, local?), &loaded).await?;
    let models = ModelPlan::new(&options.dir, &package)?;
    if let Some(base) = &package.manifest().base {
        let missing = plan
            .missing()
            .or_else(|| models.missing().map(str::to_owned));
        if let Some(missing) = missing {
            return Err(InstallError::BaseMissing {
                base: base.describe(),
                missing,
            });
        }
        tracing::info!(base = %base.package_id, "the workstation holds what the update package leaves out");
    }
    let switching: Vec<String> = models.changing().map(str::to_owned).collect();
    // A run that loads or switches makes its nodes anew: Compose is looked
    // for while the GPU is probed and the workstation checked. (A run that
    // changes nothing starts no Compose process at all.)
    let detecting = (plan.stream_bytes() > 0 || !switching.is_empty())
        .then(|| crate::compose::Detecting::start(engine.host()));

    for (setup, image) in nodes.iter_mut().zip(node_images(&package)) {
        let cache_switches = setup.offline
            && setup
                .node
                .model
                .as_ref()
                .is_some_and(|m| switching.contains(&m.cache));
        setup.renewed = cache_switches
            || package
                .manifest()
                .images
                .iter()
                .zip(&outcomes)
                .any(|(i, outcome)| {
                    *outcome == ImageOutcome::Loaded && i.references.contains(&image)
                });
    }

    let loaded_bytes = plan.stream_bytes();
    let plain: Vec<_> = nodes.iter().map(|s| s.node.clone()).collect();
    // The GPU is probed before any change when the engine has a GPU node's
    // image already, else once the images are loaded.
    let gpu = gpu::judge(engine, &facts, &plain, &*reporter, cancel).await?;
    gpu::ask_as(&mut nodes, gpu.as_ref());
    let needs = preflight::Needs {
        nodes: &plain,
        load_bytes: loaded_bytes,
        model_bytes: models.bytes_to_write(&options.dir),
        start,
        compose: configure::changes_any(engine, &options.dir, &nodes, start).await?,
        gpu: gpu.as_ref(),
        moved_tags: &run.moved_tags(),
    };
    let compose = preflight::check(engine, &facts, &options.dir, &needs, detecting).await?;
    if !start {
        gpu::warn(gpu.as_ref(), &plain, &*reporter);
    }
    parts_checked.await?;
    if let Err(e) = owner::claim_nodes(engine, &options.dir, &plain, &mut transaction).await {
        transaction.take_back(engine, &*reporter, false).await;
        return Err(e);
    }
    if !package.manifest().caches.is_empty() {
        if let Some(warning) = process_uid().and_then(cache_owner_warning) {
            reporter.report(Event::Warning { warning });
        }
    }

    let configure = Configure {
        engine,
        compose: compose.as_ref(),
        dir: &options.dir,
        start,
        wait: options.wait,
        reporter: &*reporter,
        cancel,
    };
    // Installed nodes of other packages that share a cache about to switch
    // are made anew with it too (keeping their state): the previous version
    // is removed once the run commits.
    let mut configured = nodes.clone();
    configured.extend(sharing(&options.dir, &nodes, &switching)?);
    gpu::ask_as(&mut configured, gpu.as_ref());
    let changed = apply(
        ApplyRun {
            engine,
            dir: &options.dir,
            package: &package,
            reporter: &reporter,
            cancel,
            configure: &configure,
            nodes: configured,
            facts: &facts,
            gpu,
        },
        &mut transaction,
        (&run, plan, models, &switching),
    )
    .await;
    let (placed, mut changed, gpu) = match changed {
        Ok(done) => done,
        Err((e, damaged)) => {
            transaction.take_back(engine, &*reporter, damaged).await;
            return Err(e);
        }
    };
    changed.truncate(nodes.len());
    // Started nodes answer ready before the run commits: one that does not
    // takes the run back, and the previous version serves again.
    let (reports, endpoints) = match configure.conclude(&nodes, changed).await {
        Ok(done) => done,
        Err(e) => {
            transaction.take_back(engine, &*reporter, false).await;
            return Err(e);
        }
    };
    for image in run.loaded() {
        loaded.record(image);
    }
    for image in run.held() {
        loaded.hold(image);
    }
    transaction
        .commit(engine, &*reporter, Some(&endpoints), Some(&loaded))
        .await?;
    let gpu_fit = check_gpus(&package, &nodes, gpu.as_ref(), &*reporter);

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
        || placed.written > 0
        || reports.iter().any(|n| n.changed);
    Ok(InstallReport {
        // A URL as its messages show it (no login, no query).
        package: match options.package.to_str().is_some_and(is_url) {
            true => package.path().to_owned(),
            false => options.package.clone(),
        },
        package_id: package.id().to_owned(),
        signer,
        started: start,
        images,
        nodes: reports,
        loaded_bytes,
        models: placed,
        gpu,
        gpu_fit,
        changed,
    })
}

/// The installed nodes, not among `nodes`, whose packaged cache is one of
/// `switching`: made anew with it, each keeping its state.
fn sharing(
    dir: &InstallDir,
    nodes: &[NodeSetup],
    switching: &[String],
) -> Result<Vec<NodeSetup>, InstallError> {
    Ok(dir
        .endpoints()?
        .nodes
        .into_iter()
        .filter(|installed| installed.offline)
        .filter(|installed| {
            installed
                .node
                .model
                .as_ref()
                .is_some_and(|m| switching.contains(&m.cache))
        })
        .filter(|installed| {
            !nodes
                .iter()
                .any(|s| s.node.service_name() == installed.node.service_name())
        })
        .map(|installed| NodeSetup {
            node: installed.node,
            offline: true,
            renewed: true,
            keeps_state: true,
            gpu: GpuRequest::Nvidia,
        })
        .collect())
}

/// What a run changes once the workstation passed the preflight.
struct ApplyRun<'a> {
    engine: &'a Engine,
    dir: &'a InstallDir,
    package: &'a Arc<Package>,
    reporter: &'a SharedReporter,
    cancel: &'a Cancel,
    configure: &'a Configure<'a>,
    nodes: Vec<NodeSetup>,
    facts: &'a EngineFacts,
    /// The GPU probe's verdict, when it ran before the run's changes.
    gpu: Option<GpuReadiness>,
}

/// The run's changes, each recorded in `transaction` before it is made:
/// the model files are staged while the engine loads the images (the two
/// use different resources; either failing stops the other), then the
/// caches switch and the nodes are configured. A GPU the probe could not
/// check before, for want of an image, is checked once the images are in.
/// What was placed, whether each node changed, and the GPU's verdict; or
/// the error, and whether the package was found damaged.
async fn apply(
    mut run: ApplyRun<'_>,
    transaction: &mut Transaction<'_>,
    (load, plan, models, switching): (&LoadRun, LoadPlan, ModelPlan, &[String]),
) -> Result<(ModelsReport, Vec<bool>, Option<GpuReadiness>), (InstallError, bool)> {
    let undamaged = |e| (e, false);
    transaction
        .record(Step::LoadImages(load.undo_record()))
        .map_err(undamaged)?;
    for cache in switching {
        transaction
            .record(Step::StageCache {
                cache: cache.clone(),
            })
            .map_err(undamaged)?;
    }
    let both = run.cancel.child_token();
    let placing = {
        let (dir, package, reporter, both) = (
            run.dir.clone(),
            run.package.clone(),
            run.reporter.clone(),
            both.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let placed = models.place(&dir, &package, &*reporter, &both);
            if placed.is_err() {
                both.cancel();
            }
            placed
        })
    };
    let streams = plan.stream_bytes() > 0;
    let loading = async {
        let _writeback = streams
            .then(|| crate::engine::Writeback::start(run.engine, run.facts))
            .flatten();
        let streamed = load
            .load(run.engine, run.package, plan, run.reporter, &both)
            .await;
        if streamed.is_err() {
            both.cancel();
        }
        streamed
    };
    // Compose's start-up for the nodes about to change passes meanwhile.
    let (placed, streamed, ahead) =
        tokio::join!(placing, loading, run.configure.start_ahead(&run.nodes));
    let placed = match (placed.expect("placing models does not panic"), streamed) {
        (Ok(placed), Ok(())) => placed,
        (placed, streamed) => {
            let error = first_cause(placed.err(), streamed.err());
            let damaged = matches!(error, InstallError::Package(PackageError::Mismatch { .. }));
            return Err((error, damaged));
        }
    };
    let gpu = match run.gpu.take() {
        Some(gpu) => Some(gpu),
        None => gpu::judge_loaded(
            run.engine,
            run.facts,
            &mut run.nodes,
            run.configure.start,
            &**run.reporter,
            run.cancel,
        )
        .await
        .map_err(undamaged)?,
    };
    for cache in switching {
        let staged = models::staged_inodes(run.dir, cache).map_err(undamaged)?;
        transaction
            .record(Step::SwitchCache {
                cache: cache.clone(),
                staged,
            })
            .map_err(undamaged)?;
        models::switch(run.dir, cache).map_err(undamaged)?;
    }
    let changed = run
        .configure
        .apply(&run.nodes, transaction, ahead)
        .await
        .map_err(undamaged)?;
    Ok((placed, changed, gpu))
}

/// Of the errors of two jobs that stop each other, the one that is not the
/// other's cancellation (or the cancellation, when the user cancelled).
fn first_cause(a: Option<InstallError>, b: Option<InstallError>) -> InstallError {
    match (a, b) {
        (Some(InstallError::Cancelled), Some(other)) | (Some(other), _) | (None, Some(other)) => {
            other
        }
        (None, None) => unreachable!("one of the two jobs failed"),
    }
}

/// The package's nodes, with `listen` applied: an address beyond loopback
/// the package asks for without the user's consent is said, and loopback
/// used instead. Their Compose files are
/// generated here from these validated settings; the package's own (for
/// the fallback installer) are read only to check, before anything
/// changes, that they are exactly what these settings give. A node whose models came in the
/// package needs no credentials.
fn package_nodes(
    package: &Package,
    listen: Listen,
    reporter: &dyn crate::progress::Reporter,
) -> Result<Vec<NodeSetup>, InstallError> {
    package.check_compose_files()?;
    let mut nodes = Vec::new();
    for packaged in &package.manifest().nodes {
        let mut node = packaged.node.clone();
        match listen {
            Listen::Loopback if !node.listen_address().is_loopback() => {
                reporter.report(Event::Warning {
                    warning: Warning::KeptOnLoopback {
                        node: node.name.clone(),
                        asked: node.listen_address(),
                    },
                });
                node.listen = None;
            }
            Listen::Network if node.listen_address().is_loopback() => {
                node.listen = Some(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED));
            }
            Listen::Loopback | Listen::Network => {}
            Listen::Address(address) => node.listen = Some(address),
        }
        let offline = packaged.model_cache.is_some();
        if offline {
            node.credentials.clear();
        }
        nodes.push(NodeSetup {
            node,
            offline,
            renewed: false,
            keeps_state: false,
            gpu: GpuRequest::Nvidia,
        });
    }
    Ok(nodes)
}

/// Who signed the package, checked against the keys this workstation
/// trusts, before anything changes; a warning says what a signature would
/// add.
fn check_signature(
    package: &Package,
    dir: &InstallDir,
    reporter: &dyn crate::progress::Reporter,
) -> Result<Signer, InstallError> {
    let trusted = TrustStore::new(dir.root()).keys()?;
    let signer = package.signer(&trusted);
    package.parts_signer(&trusted)?;
    if let Some(warning) = judge_signature(&signer, &trusted)? {
        reporter.report(Event::Warning { warning });
    }
    Ok(signer)
}

/// Whether a package signed by `signer` installs on a workstation that
/// trusts `trusted`, as `install_package` decides: once a key is trusted,
/// only a valid signature by a trusted key installs; a signature that does
/// not match never does. Without trusted keys it installs, with a warning.
pub fn judge_signature(
    signer: &Signer,
    trusted: &[TrustedKey],
) -> Result<Option<Warning>, InstallError> {
    let ids = || trusted.iter().map(|k| k.id()).collect::<Vec<_>>();
    match (signer, trusted.is_empty()) {
        (Signer::Trusted { .. }, _) => Ok(None),
        (Signer::Invalid { key_id }, _) => Err(InstallError::BadSignature {
            key_id: key_id.clone(),
        }),
        (Signer::Unsigned, false) => Err(InstallError::Unsigned { trusted: ids() }),
        (Signer::Untrusted { key_id }, false) => Err(InstallError::UntrustedSigner {
            key_id: key_id.clone(),
            trusted: ids(),
        }),
        (Signer::Unsigned, true) => Ok(Some(Warning::Unsigned)),
        (Signer::Untrusted { key_id }, true) => Ok(Some(Warning::UntrustedSigner {
            key_id: key_id.clone(),
        })),
    }
}

/// Each node's image reference, in node order.
fn node_images(package: &Package) -> Vec<String> {
    package
        .manifest()
        .nodes
        .iter()
        .map(|n| n.node.image.clone())
        .collect()
}

/// Compares the profiles of each packaged cache a GPU node uses with this
/// workstation's GPUs, and says so when they do not fit or cannot be
/// checked.
fn check_gpus(
    package: &Package,
    nodes: &[NodeSetup],
    gpu: Option<&GpuReadiness>,
    reporter: &dyn crate::progress::Reporter,
) -> Vec<(String, GpuFit)> {
    let mut fits: Vec<(String, GpuFit)> = Vec::new();
    for setup in nodes.iter().filter(|s| s.offline && s.node.gpu) {
        let Some(model) = &setup.node.model else {
            continue;
        };
        if fits.iter().any(|(name, _)| name == &model.cache) {
            continue;
        }
        let Some(cache) = package
            .manifest()
            .caches
            .iter()
            .find(|c| c.name == model.cache)
        else {
            continue;
        };
        let fit = gpu_fit(&cache.profiles, gpu.map_or(&[], GpuReadiness::gpus));
        let warning = match &fit {
            GpuFit::Fits { .. } => None,
            GpuFit::NoProfile { gpus } => Some(Warning::NoProfileForGpu {
                cache: model.cache.clone(),
                profile_gpus: cache
                    .profiles
                    .iter()
                    .flat_map(|p| &p.gpus)
                    .cloned()
                    .collect(),
                gpus: gpus.clone(),
            }),
            GpuFit::Unknown { reason } => Some(Warning::GpuUnchecked {
                cache: model.cache.clone(),
                reason: reason.clone(),
            }),
        };
        if let Some(warning) = warning {
            reporter.report(Event::Warning { warning });
        }
        fits.push((model.cache.clone(), fit));
    }
    fits
}
