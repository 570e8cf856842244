//! The values the templates show, made from the library's types.

use budgetguard::catalog::Node;
use budgetguard::package::CreateReport;
use budgetguard::size::human;

use super::format::{duration, shell_word};
use super::OutcomeView;
use crate::jobs::{JobKind, JobState, Outcome, ProgressView};
use crate::workstation::{Capabilities, InstalledView};

/// The engine's state in the page header.
#[derive(Debug, Clone)]
pub(crate) struct EngineBadge {
    /// Short text, e.g. `Docker 20.10.24 · no NVIDIA runtime`.
    pub text: String,
    /// `ok`, `warn` or `down`, for the colour.
    pub class: &'static str,
    /// The full story, for the tooltip.
    pub detail: String,
}

impl EngineBadge {
    /// The badge for what was probed.
    pub(crate) fn new(capabilities: &Capabilities) -> Self {
        match capabilities.engine() {
            Some(engine) if engine.nvidia_runtime => Self {
                text: format!("Docker {} · NVIDIA runtime", engine.version),
                class: "ok",
                detail: "The Docker engine answers and can run GPU nodes.".into(),
            },
            Some(engine) => Self {
                text: format!("Docker {} · no NVIDIA runtime", engine.version),
                class: "warn",
                detail: "The Docker engine answers, but `docker info` lists no `nvidia` runtime: GPU nodes cannot run here. Install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker.".into(),
            },
            None => Self {
                text: "Docker unreachable".into(),
                class: "down",
                detail: capabilities.blocker().unwrap_or_default(),
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
    /// Why it cannot be deployed here, if so.
    pub blocker: Option<String>,
}

impl NodeRow {
    /// The row of `node` on a machine with `capabilities`.
    pub(crate) fn new(node: &Node, capabilities: &Capabilities) -> Self {
        Self {
            name: node.name.clone(),
            image: node.image.clone(),
            variant: node.variant.clone(),
            host_port: node.host_port,
            gpu: node.gpu,
            blocker: capabilities.node_blocker(node),
        }
    }
}

/// The job card: progress while a job runs, its outcome once it ended.
#[derive(Debug)]
pub(crate) struct JobPanel {
    /// The card's title.
    pub title: &'static str,
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
                title: JobKind::Package.title(false),
                visible: false,
                running: false,
                show_progress: false,
                progress: ProgressView::complete(),
                outcome: String::new(),
            },
            JobState::Running { kind, progress, .. } => Self {
                title: kind.title(true),
                visible: true,
                running: true,
                show_progress: true,
                progress: progress.view(),
                outcome: String::new(),
            },
            JobState::Finished { kind, .. } => {
                let view = OutcomeView::of(state).expect("a finished job has an outcome");
                Self {
                    title: kind.title(false),
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

impl OutcomeView {
    /// The view of a finished job; `None` while none has finished.
    pub(crate) fn of(state: &JobState) -> Option<Self> {
        let JobState::Finished {
            kind,
            outcome,
            elapsed,
        } = state
        else {
            return None;
        };
        let elapsed = duration(elapsed.as_secs_f64());
        Some(match outcome {
            Outcome::Created(report) => OutcomeView::Created {
                view: CreatedView::new(report),
                elapsed,
            },
            Outcome::Deployed(report) => OutcomeView::Deployed {
                nodes: report.nodes.clone(),
                elapsed,
            },
            Outcome::Failed(message) => OutcomeView::Failed {
                title: match kind {
                    JobKind::Package => "No package was created",
                    JobKind::Deploy => "The deploy failed",
                },
                message: message.clone(),
            },
            Outcome::Cancelled(message) => OutcomeView::Cancelled {
                message: message.clone(),
            },
        })
    }

    /// Whether the job succeeded.
    pub(crate) fn succeeded(&self) -> bool {
        matches!(
            self,
            OutcomeView::Created { .. } | OutcomeView::Deployed { .. }
        )
    }
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
    /// `(name, host port, image)` of each node.
    pub nodes: Vec<(String, u16, String)>,
    /// `(references, ID, layer count, size)` of each image.
    pub images: Vec<(String, String, usize, String)>,
    /// The command to install it on a workstation.
    pub command: String,
}

impl CreatedView {
    /// The view of `report`.
    pub(crate) fn new(report: &CreateReport) -> Self {
        let manifest = &report.manifest;
        // As the CLI prints it: the file is copied to the workstation first.
        let file = report.path.file_name().map_or_else(
            || report.path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        Self {
            path: report.path.display().to_string(),
            size: human(report.size),
            bytes: report.size,
            package_id: report.package_id.clone(),
            compression: manifest.compression.to_string(),
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
            command: format!(
                "budgetguard-techops install-package --package {}",
                shell_word(&file)
            ),
        }
    }
}

/// The colour class of a container state: `ok` when running.
pub(crate) fn state_class(state: &str) -> &'static str {
    match state {
        "running" => "ok",
        "missing" | "dead" => "bad",
        _ => "idle",
    }
}

impl InstalledView {
    /// The colour class of its state.
    pub(crate) fn state_class(&self) -> &'static str {
        state_class(&self.status.state)
    }

    /// The colour class of its health: `ok` when ready.
    pub(crate) fn health_class(&self) -> &'static str {
        match self.status.health.as_str() {
            "ready" => "ok",
            "not ready" => "warn",
            _ => "idle",
        }
    }
}
