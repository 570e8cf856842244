//! The values the templates show, made from the library's types.

use budgetguard::catalog::Node;
use budgetguard::engine::GpuRequest;
use budgetguard::install::{GpuReadiness, InstallReport};
use budgetguard::package::estimate::ImageSize;
use budgetguard::package::zip::Compression;
use budgetguard::package::CreateReport;
use budgetguard::signing::Signer;
use budgetguard::size::human;

use super::OutcomeView;
use crate::format::{base_text, duration, node_state, shell_word, utc_time, utc_time_text};
use crate::jobs::{Finished, JobKind, JobState, Outcome, ProgressView};
use crate::messages::controls;
use crate::workstation::{fit_view, Activity, Capabilities, FitView, InstalledView, ModelFacts};

/// The engine's state in the page header, and said in words under it when
/// something is missing.
#[derive(Debug, Clone)]
pub(crate) struct EngineBadge {
    /// Short text, e.g. `Docker 20.10.24 · no NVIDIA runtime`.
    pub text: String,
    /// `ok`, `warn` or `down`, for the colour.
    pub class: &'static str,
    /// The full story, shown as text under the header unless all is well.
    pub detail: String,
}

impl EngineBadge {
    /// The badge for what was probed.
    pub(crate) fn new(capabilities: &Capabilities) -> Self {
        match capabilities.engine() {
            Some(engine) if engine.nvidia_runtime => Self {
                text: format!("Docker {} · NVIDIA runtime", engine.version),
                class: "ok",
                detail: "Docker answers and can run GPU nodes.".into(),
            },
            Some(engine) => Self {
                text: format!("Docker {} · no NVIDIA runtime listed", engine.version),
                class: "warn",
                detail: "Docker answers, and lists no NVIDIA runtime. GPU nodes may still run here (Docker Desktop with WSL2, the NVIDIA Container Toolkit's hook, CDI): deploying or installing one first starts a short GPU test container and says what Docker answered.".into(),
            },
            None => Self {
                text: "Docker unreachable".into(),
                class: "down",
                detail: format!(
                    "Docker does not answer, so nothing can be deployed or installed here, and packages can be made only with “{}” ticked, without models: {}",
                    controls::FROM_REGISTRY,
                    capabilities.blocker().unwrap_or_default()
                ),
            },
        }
    }
}

/// One catalog node in the table.
#[derive(Debug, Clone)]
pub(crate) struct NodeRow {
    /// Its name.
    pub name: String,
    /// Its image.
    pub image: String,
    /// Its model variant, if any.
    pub variant: Option<String>,
    /// The port it is published on.
    pub host_port: u16,
    /// Whether it needs a GPU.
    pub gpu: bool,
    /// What the engine has of its image.
    pub facts: ImageSize,
    /// Its model cache on this machine, when it has a model section.
    pub model: Option<ModelFacts>,
}

impl NodeRow {
    /// The row of `node`.
    pub(crate) fn new(node: &Node, facts: ImageSize, model: Option<ModelFacts>) -> Self {
        Self {
            name: node.name.clone(),
            image: node.image.clone(),
            variant: node.variant.clone(),
            host_port: node.host_port,
            gpu: node.gpu,
            facts,
            model,
        }
    }

    /// Its image's size, when the engine has it.
    pub(crate) fn size(&self) -> Option<String> {
        match &self.facts {
            ImageSize::Present { size, .. } => Some(human(*size)),
            _ => None,
        }
    }

    /// Where its image comes from: `in Docker`, `to pull` or `unknown`.
    pub(crate) fn source(&self) -> (&'static str, &'static str) {
        match &self.facts {
            ImageSize::Present { .. } => ("In Docker", "ok"),
            ImageSize::Missing => ("Must be pulled", "warn"),
            ImageSize::Unknown => ("Unknown", "idle"),
        }
    }
}

/// The job card: progress while a job runs, its outcome once it ended.
#[derive(Debug)]
pub(crate) struct JobPanel {
    /// The card's title.
    pub title: &'static str,
    /// What the job is (`package`, `install`, …), for the script.
    pub kind: &'static str,
    /// Whether there is anything to show.
    pub visible: bool,
    /// Whether a job runs (the cancel button shows).
    pub running: bool,
    /// Whether the bar shows (while a job runs, and full once it succeeded).
    pub show_progress: bool,
    /// The bar's state.
    pub progress: ProgressView,
    /// The outcome fragment, rendered.
    pub outcome: String,
}

impl JobPanel {
    /// The card for `state`.
    pub(crate) fn new(state: &JobState) -> Self {
        match state {
            JobState::Idle => Self {
                title: "",
                kind: "",
                visible: false,
                running: false,
                show_progress: false,
                progress: ProgressView::complete(),
                outcome: String::new(),
            },
            JobState::Running { kind, progress, .. } => Self {
                title: kind.running_title(),
                kind: kind.name(),
                visible: true,
                running: true,
                show_progress: true,
                progress: progress.view(),
                outcome: String::new(),
            },
            JobState::Finished(finished) => {
                let view = OutcomeView::of(finished);
                Self {
                    title: finished.kind.finished_title(&finished.outcome),
                    kind: finished.kind.name(),
                    visible: true,
                    running: false,
                    show_progress: view.succeeded(),
                    progress: ProgressView::complete(),
                    outcome: view.to_string(),
                }
            }
        }
    }
}

/// One job of the job list: the running one, or one that ended.
#[derive(Debug)]
pub(crate) struct JobEntry {
    /// The ended job's number (`None`: the running job).
    pub id: Option<u64>,
    /// Its title, as its card says it.
    pub title: &'static str,
    /// `Running`, `Done`, `Failed` or `Cancelled`.
    pub outcome: &'static str,
    /// The outcome's colour class.
    pub class: &'static str,
    /// When it ended and how long it took; empty while it runs.
    pub when: String,
}

impl JobEntry {
    /// The job list: the running job, then the last ones that ended.
    pub(crate) fn list(state: &JobState, ended: &[std::sync::Arc<Finished>]) -> Vec<Self> {
        let running = match state {
            JobState::Running { kind, .. } => Some(Self {
                id: None,
                title: kind.running_title(),
                outcome: "Running",
                class: "warn",
                when: String::new(),
            }),
            _ => None,
        };
        running
            .into_iter()
            .chain(ended.iter().map(|finished| {
                let (outcome, class) = match finished.outcome {
                    Outcome::Failed(_) => ("Failed", "bad"),
                    Outcome::Cancelled(_) => ("Cancelled", "idle"),
                    _ => ("Done", "ok"),
                };
                Self {
                    id: Some(finished.id),
                    title: finished.kind.finished_title(&finished.outcome),
                    outcome,
                    class,
                    when: format!(
                        "{} · took {}",
                        utc_time(finished.ended),
                        duration(finished.elapsed.as_secs_f64())
                    ),
                }
            }))
            .collect()
    }
}

impl OutcomeView {
    /// The view of a job that ended.
    pub(crate) fn of(finished: &Finished) -> Self {
        let (outcome, elapsed) = (&finished.outcome, &finished.elapsed);
        let elapsed = duration(elapsed.as_secs_f64());
        match outcome {
            Outcome::Created(report, public_key) => OutcomeView::Created {
                view: Box::new(CreatedView::new(report, public_key.as_deref())),
                elapsed,
            },
            Outcome::Deployed(report) => OutcomeView::Deployed {
                nodes: report.nodes.clone(),
                gpu: report.gpu.as_ref().map(gpu_text),
                elapsed,
            },
            Outcome::Installed(report) => OutcomeView::Installed {
                view: InstalledOutcome::new(report),
                report: report.clone(),
                elapsed,
            },
            Outcome::Verified(report) => OutcomeView::Verified {
                bytes: human(report.bytes),
                report: report.clone(),
                elapsed,
            },
            Outcome::Copied(copied) => OutcomeView::Copied {
                folder: copied.folder.display().to_string(),
                files: copied.files.clone(),
                entries: copied.verified.entries,
                bytes: human(copied.verified.bytes),
                elapsed,
            },
            Outcome::Published(report) => OutcomeView::Published {
                uploaded: human(report.uploaded_bytes),
                command: format!(
                    "budgetguard-techops install-package --package {}",
                    shell_word(&report.address)
                ),
                report: report.clone(),
                elapsed,
            },
            Outcome::Uninstalled(nodes, purged) => OutcomeView::Uninstalled {
                nodes: nodes.clone(),
                purged: *purged,
            },
            Outcome::Failed(message) => OutcomeView::Failed {
                message: message.clone(),
            },
            Outcome::Cancelled(message) => OutcomeView::Cancelled {
                message: message.clone(),
            },
        }
    }

    /// Whether the job succeeded.
    pub(crate) fn succeeded(&self) -> bool {
        !matches!(
            self,
            OutcomeView::Failed { .. } | OutcomeView::Cancelled { .. }
        )
    }

    /// The field a failure concerns, for the page to mark.
    pub(crate) fn field(&self) -> Option<crate::messages::Field> {
        match self {
            OutcomeView::Failed { message } => message.field,
            _ => None,
        }
    }
}

impl JobKind {
    /// The kind's name for the script.
    pub(crate) fn name(self) -> &'static str {
        match self {
            JobKind::Package => "package",
            JobKind::Deploy => "deploy",
            JobKind::Install => "install",
            JobKind::Verify => "verify",
            JobKind::Uninstall => "uninstall",
            JobKind::Copy => "copy",
            JobKind::Publish => "publish",
        }
    }
}

/// What an install did beyond images and nodes, in the page's words.
#[derive(Debug, Clone)]
pub(crate) struct InstalledOutcome {
    /// Bytes streamed into the engine.
    pub loaded: String,
    /// What was written into the model caches, if the package has any.
    pub models: Option<String>,
    /// What the GPU test container found, when a node needs a GPU.
    pub gpu: Option<String>,
    /// Whether each cache of a GPU node fits this workstation's GPU.
    pub fits: Vec<FitView>,
    /// Who signed the package.
    pub signer: String,
}

impl InstalledOutcome {
    /// The view of `report`.
    pub(crate) fn new(report: &InstallReport) -> Self {
        let models = &report.models;
        let files = |n: usize| {
            if n == 1 {
                "1 file".to_owned()
            } else {
                format!("{n} files")
            }
        };
        Self {
            loaded: human(report.loaded_bytes),
            models: (models.written + models.present > 0).then(|| {
                let mut text = format!(
                    "{} written ({})",
                    files(models.written),
                    human(models.written_bytes)
                );
                if models.present > 0 {
                    text.push_str(&format!(", {} in place already", files(models.present)));
                }
                text
            }),
            gpu: report.gpu.as_ref().map(gpu_text),
            fits: report
                .gpu_fit
                .iter()
                .map(|(cache, fit)| fit_view(cache, fit))
                .collect(),
            signer: signer_text(&report.signer),
        }
    }
}

/// What the GPU test container of an install or deploy found, in plain
/// words.
pub(crate) fn gpu_text(readiness: &GpuReadiness) -> String {
    match readiness {
        GpuReadiness::Ready { request, gpus } => format!(
            "Ready: Docker ran a GPU test container, which saw {} ({}).",
            gpus.join(", "),
            match request {
                GpuRequest::Nvidia => "through the NVIDIA driver",
                GpuRequest::Cdi => "through the CDI device nvidia.com/gpu=all",
            }
        ),
        GpuReadiness::NotReady { reason, fix } => format!(
            "Not ready: Docker could not run a GPU test container (it said: {reason}). To fix it, {fix}."
        ),
        GpuReadiness::Unanswered { detail } => {
            format!("Unknown: Docker did not answer the GPU test: {detail}.")
        }
    }
}

/// Who signed a package, in the page's words.
pub(crate) fn signer_text(signer: &Signer) -> String {
    match signer {
        Signer::Unsigned => "Nobody: the package is not signed".to_owned(),
        Signer::Trusted { key_id } => format!("Key {key_id}, trusted here"),
        Signer::Untrusted { key_id } => format!("Key {key_id}, not trusted here"),
        Signer::Invalid { key_id } => {
            format!("Key {key_id}, but the signature does NOT match: the package was altered")
        }
    }
}

/// A model cache of a written package: name, profiles, size.
#[derive(Debug, Clone)]
pub(crate) struct CreatedCache {
    /// Its name.
    pub name: String,
    /// Its profiles' ids.
    pub profiles: String,
    /// Its files' bytes.
    pub size: String,
    /// The nodes that start offline with it.
    pub nodes: String,
}

/// A written package, as the page shows it.
#[derive(Debug, Clone)]
pub(crate) struct CreatedView {
    /// The file.
    pub path: String,
    /// Its size for people.
    pub size: String,
    /// Its size in bytes.
    pub bytes: u64,
    /// Its package id (the SHA-256 of its manifest).
    pub package_id: String,
    /// How its entries are compressed.
    pub compression: String,
    /// Whether its nodes start after install.
    pub start_after_install: bool,
    /// `(name, host port, image)` of each node.
    pub nodes: Vec<(String, u16, String)>,
    /// `(references, ID, layer count, size)` of each image.
    pub images: Vec<(String, String, usize, String)>,
    /// Its model caches.
    pub caches: Vec<CreatedCache>,
    /// The key that signed it, if any.
    pub signed_by: Option<String>,
    /// The command that stores credentials, when a node needs them.
    pub credentials_command: Option<String>,
    /// The command that installs it on a workstation, in the folder the
    /// package was copied to.
    pub command: String,
    /// The files to copy to the workstation: the package, or its parts and
    /// their list.
    pub files: Vec<String>,
    /// The public key file that must travel with a signed package, and be
    /// trusted on the workstation.
    pub public_key: Option<String>,
    /// The id of the key that signed the package when no public key file
    /// of it is beside the secret key (the user must find it).
    pub key_without_file: Option<String>,
    /// The command that trusts it, on the workstation.
    pub trust_command: Option<String>,
    /// The commands without this tool; `None` when `unzip` cannot read it.
    pub fallback_command: Option<String>,
    /// For an update package, its base and what it leaves out.
    pub base: Option<String>,
}

impl CreatedView {
    /// The view of `report`; `public_key`: the key file of a signed one.
    pub(crate) fn new(report: &CreateReport, public_key: Option<&std::path::Path>) -> Self {
        let manifest = &report.manifest;
        let path = report.path.display().to_string();
        let name = |path: &std::path::Path| {
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let file = name(&report.path);
        let files = package_files(report).iter().map(|f| name(f)).collect();
        let given = if report.parts.is_some() {
            budgetguard::package::split::part_name(&file, 1)
        } else {
            file.clone()
        };
        let public_key = report.signed_by.as_ref().and(public_key).map(name);
        let start = if manifest.start_after_install {
            " --start"
        } else {
            ""
        };
        let folder = report
            .path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "package".to_owned());
        Self {
            size: human(report.size),
            bytes: report.size,
            package_id: report.package_id.clone(),
            compression: manifest.compression.to_string(),
            start_after_install: manifest.start_after_install,
            nodes: manifest
                .nodes
                .iter()
                .map(|n| (n.node.name.clone(), n.node.host_port, n.node.image.clone()))
                .collect(),
            images: manifest
                .images
                .iter()
                .map(|i| {
                    (
                        i.references.join(", "),
                        i.id.clone(),
                        i.layers.len(),
                        human(i.size()),
                    )
                })
                .collect(),
            caches: manifest
                .caches
                .iter()
                .map(|cache| CreatedCache {
                    name: cache.name.clone(),
                    profiles: cache
                        .profiles
                        .iter()
                        .map(|p| p.id.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                    size: human(cache.size()),
                    nodes: manifest
                        .nodes
                        .iter()
                        .filter(|n| n.model_cache.as_deref() == Some(cache.name.as_str()))
                        .map(|n| n.node.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", "),
                })
                .collect(),
            signed_by: report.signed_by.clone(),
            base: manifest.base.as_ref().map(base_text),
            // Nodes whose models come in the package start offline, without
            // credentials.
            credentials_command: manifest
                .nodes
                .iter()
                .any(|n| n.model_cache.is_none() && !n.node.credentials.is_empty())
                .then(|| "budgetguard-techops install-credentials".to_owned()),
            // Run where the package was copied to: the TechOps path means
            // nothing on the workstation.
            command: format!(
                "budgetguard-techops install-package --package {}{start}",
                shell_word(&given)
            ),
            trust_command: public_key
                .as_ref()
                .map(|key| format!("budgetguard-techops trust-key {}", shell_word(key))),
            key_without_file: report.signed_by.clone().filter(|_| public_key.is_none()),
            public_key,
            fallback_command: (manifest.compression != Compression::Zstd && report.parts.is_none())
                .then(|| {
                    format!(
                        "unzip -q {} -d {folder} && cd {folder} && sh install/install.sh{start}",
                        shell_word(&file),
                        folder = shell_word(&folder)
                    )
                }),
            files,
            path,
        }
    }
}

/// The files of the package `report` made, as they must travel: the
/// package, or its parts, their list and the list's signature when there
/// is one.
pub(crate) fn package_files(report: &CreateReport) -> Vec<std::path::PathBuf> {
    use budgetguard::package::split::{list_name, list_signature_name, part_name};
    let Some(parts) = &report.parts else {
        return vec![report.path.clone()];
    };
    let package = report.path.display().to_string();
    let mut files: Vec<std::path::PathBuf> = (1..=parts.parts.len())
        .map(|n| part_name(&package, n).into())
        .collect();
    files.push(list_name(&package).into());
    files.extend(
        Some(std::path::PathBuf::from(list_signature_name(&package))).filter(|sig| sig.is_file()),
    );
    files
}

/// A node's state right after a deploy or an install, in the page's words
/// and its colour class: a running node answered ready (the job waits for
/// it).
pub(crate) fn reported_state(state: &str) -> (&'static str, &'static str) {
    node_state(state, "ready", false, false)
}

impl InstalledView {
    /// Its state in the page's words (Stopped, Starting, Ready, Failed) and
    /// its colour class.
    pub(crate) fn state(&self) -> (&'static str, &'static str) {
        node_state(
            &self.status.state,
            &self.status.health,
            self.activity == Some(Activity::Starting),
            matches!(self.activity, Some(Activity::Failed(_))),
        )
    }

    /// Whether it listens beyond loopback, where other machines reach it.
    pub(crate) fn on_network(&self) -> bool {
        self.status
            .listen
            .parse::<std::net::IpAddr>()
            .is_ok_and(|address| !address.is_loopback())
    }

    /// Its host port, from its endpoint.
    pub(crate) fn port(&self) -> String {
        self.status
            .endpoint
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|host| host.rsplit(':').next())
            .unwrap_or("-")
            .to_owned()
    }

    /// When it was installed.
    pub(crate) fn installed_at(&self) -> String {
        utc_time_text(&self.status.installed_at)
    }
}
