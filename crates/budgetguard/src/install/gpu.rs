//! Whether this workstation runs GPU containers, judged by the engine's own
//! answer to a probe ([`Engine::probe_gpu`]) rather than by the runtimes
//! `docker info` lists: the NVIDIA Container Toolkit's hook and Docker
//! Desktop's WSL2 backend serve GPU device requests with no `nvidia`
//! runtime entry. Where the `nvidia` device driver is refused, the CDI
//! device is tried (Docker 25 and later, with CDI), and the nodes ask for
//! the one that runs.

use serde::Serialize;

use super::configure::NodeSetup;
use super::preflight::{gpu_problems, Problem};
use super::InstallError;
use crate::catalog::Node;
use crate::engine::{Engine, EngineError, EngineFacts, GpuRequest, ProbeOutcome};
use crate::package::quote::quote_detail;
use crate::progress::{Event, Reporter, Warning};
use crate::Cancel;

/// What the probe said of this workstation's GPU.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum GpuReadiness {
    /// A GPU container runs, asking for its GPU as `request` says.
    Ready {
        /// How the nodes ask for their GPU.
        request: GpuRequest,
        /// The GPUs the container saw.
        gpus: Vec<String>,
    },
    /// The engine refused the GPU, or the container saw none.
    NotReady {
        /// What the engine or `nvidia-smi` said.
        reason: String,
        /// What to do about it.
        fix: GpuFix,
    },
    /// The engine gave no answer in time, or failed otherwise.
    Unanswered {
        /// The engine's error, with its own fix.
        detail: String,
    },
}

/// What makes GPU containers run, for what the probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuFix {
    /// The engine has no NVIDIA device driver: the toolkit is missing.
    Toolkit,
    /// Docker Desktop without GPU support in its WSL2 backend.
    DockerDesktop,
    /// WSL2 sees no GPU: the Windows driver is missing or old.
    WslDriver,
    /// The engine reads CDI specs but has none for NVIDIA GPUs.
    CdiSpec,
    /// The container ran but the driver lists no GPU.
    Driver,
}

impl std::fmt::Display for GpuFix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Toolkit => "install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker",
            Self::DockerDesktop => "install the NVIDIA driver for Windows (it brings the GPU to WSL2), use Docker Desktop's WSL2 backend, and restart Docker Desktop",
            Self::WslDriver => "install or update the NVIDIA driver on Windows (not inside WSL), run `wsl --shutdown` in Windows, then start Docker again",
            Self::CdiSpec => "write the CDI spec with `sudo nvidia-ctk cdi generate --output=/etc/cdi/nvidia.yaml` and restart Docker",
            Self::Driver => "check the NVIDIA driver: `nvidia-smi` must list the GPU on this workstation (in WSL2, `/usr/lib/wsl/lib/nvidia-smi`)",
        })
    }
}

impl std::fmt::Display for GpuReadiness {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ready { request, gpus } => write!(
                f,
                "ready: a test container saw {}, through {request}",
                gpus.join(", ")
            ),
            Self::NotReady { reason, fix } => {
                write!(
                    f,
                    "not ready: a test container did not run ({reason}); {fix}"
                )
            }
            Self::Unanswered { detail } => write!(f, "unknown: {detail}"),
        }
    }
}

impl GpuReadiness {
    /// How the nodes ask for their GPU: as the probe that ran did, else
    /// through the `nvidia` driver.
    pub fn request(&self) -> GpuRequest {
        match self {
            Self::Ready { request, .. } => *request,
            _ => GpuRequest::Nvidia,
        }
    }

    /// The GPUs the probe saw, none unless it ran.
    pub fn gpus(&self) -> &[String] {
        match self {
            Self::Ready { gpus, .. } => gpus,
            _ => &[],
        }
    }

    /// The problem of `node`, unless a GPU container runs.
    pub(crate) fn problem(&self, node: &Node) -> Option<Problem> {
        match self {
            Self::Ready { .. } => None,
            Self::NotReady { reason, fix } => Some(Problem::GpuNotReady {
                node: node.name.clone(),
                reason: reason.clone(),
                fix: *fix,
            }),
            Self::Unanswered { detail } => Some(Problem::GpuUnanswered {
                node: node.name.clone(),
                detail: detail.clone(),
            }),
        }
    }
}

/// Probes the GPU with the image of the first GPU node of `nodes` the
/// engine has. Without one, another image of the engine's is tried: its
/// answer counts when the engine ran a GPU container or refused the device
/// (no NVIDIA driver, no CDI spec), not when the image lacks `nvidia-smi`.
/// `None` when no node needs a GPU or the probe must wait for their images
/// (then the caller probes once they are in).
pub(crate) async fn judge(
    engine: &Engine,
    facts: &EngineFacts,
    nodes: &[Node],
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Option<GpuReadiness>, InstallError> {
    if !nodes.iter().any(|n| n.gpu) {
        return Ok(None);
    }
    let mut own = None;
    for node in nodes.iter().filter(|n| n.gpu) {
        if engine.image(&node.image).await?.is_some() {
            own = Some(node.image.clone());
            break;
        }
    }
    let (image, stand_in) = match own {
        Some(image) => (image, false),
        None => match engine.image_ids().await?.into_iter().next() {
            Some(id) => (id.to_string(), true),
            None => return Ok(None),
        },
    };
    reporter.report(Event::Note {
        message: "Checking the GPU with a test container".to_owned(),
    });
    let readiness = match readiness(engine, facts, &image, cancel).await {
        Ok(readiness) => readiness,
        Err(EngineError::Cancelled) => return Err(InstallError::Cancelled),
        Err(e) => GpuReadiness::Unanswered {
            detail: crate::error_text(&e),
        },
    };
    let conclusive = match &readiness {
        GpuReadiness::NotReady { reason, fix } => {
            *fix != GpuFix::Driver && !lacks_the_program(reason)
        }
        _ => true,
    };
    if stand_in && !conclusive {
        tracing::info!(
            image,
            "the stand-in image cannot tell; the probe waits for the nodes' images"
        );
        return Ok(None);
    }
    Ok(Some(readiness))
}

/// Whether the engine's refusal is about the image's content: no
/// `nvidia-smi` to run, which a GPU container gets from the NVIDIA hook.
fn lacks_the_program(reason: &str) -> bool {
    let reason = reason.to_lowercase();
    reason.contains("executable file not found") || reason.contains("no such file or directory")
}

/// Whether a GPU container runs on `engine`, probed with the image of the
/// first GPU node of `nodes` the engine has; `None` when no node needs a
/// GPU or the engine has none of their images yet.
pub async fn gpu_readiness(
    engine: &Engine,
    nodes: &[Node],
    cancel: &Cancel,
) -> Result<Option<GpuReadiness>, InstallError> {
    judge(
        engine,
        &engine.facts().await?,
        nodes,
        &crate::progress::Silent,
        cancel,
    )
    .await
}

/// Has `nodes` ask for their GPU the way the probe ran one (through the
/// `nvidia` driver when it did not run).
pub(crate) fn ask_as(nodes: &mut [NodeSetup], readiness: Option<&GpuReadiness>) {
    let request = readiness.map_or(GpuRequest::Nvidia, GpuReadiness::request);
    for setup in nodes {
        setup.gpu = request;
    }
}

/// Warns of the problem a start of `nodes` would have, for nodes installed
/// without starting.
pub(crate) fn warn(readiness: Option<&GpuReadiness>, nodes: &[Node], reporter: &dyn Reporter) {
    let mut problems = Vec::new();
    gpu_problems(readiness, nodes, &mut problems);
    for problem in problems {
        reporter.report(Event::Warning {
            warning: Warning::GpuNotReady { problem },
        });
    }
}

/// The probe of a run whose GPU nodes' images were not in the engine
/// before it, now that they are: a GPU that does not run stops a run that
/// starts its nodes (the run is taken back), and is a warning otherwise.
/// `nodes` then ask for their GPU as the probe found.
pub(crate) async fn judge_loaded(
    engine: &Engine,
    facts: &EngineFacts,
    nodes: &mut [NodeSetup],
    start: bool,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Option<GpuReadiness>, InstallError> {
    let plain: Vec<Node> = nodes.iter().map(|s| s.node.clone()).collect();
    let readiness = judge(engine, facts, &plain, reporter, cancel).await?;
    ask_as(nodes, readiness.as_ref());
    if !start {
        warn(readiness.as_ref(), &plain, reporter);
        return Ok(readiness);
    }
    let mut problems = Vec::new();
    gpu_problems(readiness.as_ref(), &plain, &mut problems);
    match problems.is_empty() {
        true => Ok(readiness),
        false => Err(InstallError::Preflight { problems }),
    }
}

/// Probes the `nvidia` driver, then the CDI device.
async fn readiness(
    engine: &Engine,
    facts: &EngineFacts,
    image: &str,
    cancel: &Cancel,
) -> Result<GpuReadiness, EngineError> {
    let reason = match engine.probe_gpu(image, GpuRequest::Nvidia, cancel).await? {
        ProbeOutcome::Ran { gpus } => {
            return Ok(GpuReadiness::Ready {
                request: GpuRequest::Nvidia,
                gpus,
            })
        }
        ProbeOutcome::Refused { reason } => reason,
    };
    let mut fix = fix_for(&reason, facts);
    match engine.probe_gpu(image, GpuRequest::Cdi, cancel).await? {
        ProbeOutcome::Ran { gpus } => {
            return Ok(GpuReadiness::Ready {
                request: GpuRequest::Cdi,
                gpus,
            })
        }
        // An engine that reads CDI specs but has none for NVIDIA GPUs:
        // the spec is the lighter fix.
        ProbeOutcome::Refused { reason: cdi } if fix_for(&cdi, facts) == GpuFix::CdiSpec => {
            fix = GpuFix::CdiSpec;
        }
        ProbeOutcome::Refused { .. } => {}
    }
    tracing::info!(
        nvidia_runtime = facts.nvidia_runtime,
        ?fix,
        "a GPU container does not run here"
    );
    Ok(GpuReadiness::NotReady {
        reason: quote_detail(&reason).to_string(),
        fix,
    })
}

/// The fix for the engine's refusal `reason` on the engine `facts` describe.
fn fix_for(reason: &str, facts: &EngineFacts) -> GpuFix {
    let reason = reason.to_lowercase();
    let no_driver = [
        "could not select device driver",
        "unknown or invalid runtime",
        "executable file not found",
    ]
    .iter()
    .any(|sign| reason.contains(sign));
    if reason.contains("unresolvable cdi devices") {
        GpuFix::CdiSpec
    } else if reason.contains("wsl") || (facts.wsl && reason.contains("no adapters")) {
        GpuFix::WslDriver
    } else if no_driver && facts.desktop {
        GpuFix::DockerDesktop
    } else if no_driver {
        GpuFix::Toolkit
    } else {
        GpuFix::Driver
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(desktop: bool, wsl: bool) -> EngineFacts {
        EngineFacts {
            containerd_store: false,
            nvidia_runtime: false,
            desktop,
            wsl,
            root_dir: None,
            driver: None,
        }
    }

    #[test]
    fn each_refusal_gets_the_fix_of_its_setup() {
        let linux = facts(false, false);
        let desktop = facts(true, true);
        let refused = r#"could not select device driver "nvidia" with capabilities: [[gpu]]"#;
        assert_eq!(fix_for(refused, &linux), GpuFix::Toolkit);
        assert_eq!(fix_for(refused, &desktop), GpuFix::DockerDesktop);
        assert_eq!(
            fix_for("failed to create shim task: OCI runtime create failed: runc create failed: unable to start container process: error during container init: error running hook #0: error running hook: exit status 1, stdout: , stderr: Auto-detected mode as 'legacy'\nnvidia-container-cli: initialization error: WSL environment detected but no adapters were found: unknown", &desktop),
            GpuFix::WslDriver
        );
        assert_eq!(
            fix_for("could not select device driver \"cdi\": unresolvable CDI devices nvidia.com/gpu=all", &linux),
            GpuFix::CdiSpec
        );
        assert_eq!(
            fix_for(
                "NVIDIA-SMI has failed because it couldn't communicate with the NVIDIA driver.",
                &linux
            ),
            GpuFix::Driver
        );
    }
}
