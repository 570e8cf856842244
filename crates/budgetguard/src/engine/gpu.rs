//! Whether a GPU container runs on this engine, asked of the engine itself:
//! a short-lived probe container of a node's image, with the device request
//! the node's Compose file makes and `nvidia-smi -L` as its entrypoint (the
//! NVIDIA hook mounts it into GPU containers, on Linux and in WSL2 alike).
//! The probe is removed whatever happens, and bounded in time.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::container::RunSpec;
use super::{Engine, EngineError};
use crate::Cancel;

/// The CDI name of every NVIDIA GPU, as `nvidia-ctk cdi generate` writes it.
pub const CDI_DEVICE: &str = "nvidia.com/gpu=all";

/// How long a probe may take when `BUDGETGUARD_GPU_PROBE_TIMEOUT` does not
/// say: starting a GPU container and listing its GPUs takes seconds.
const PROBE_LIMIT: Duration = Duration::from_secs(60);

/// The most lines of a probe's output kept for a message.
const REASON_LINES: usize = 3;

/// How a node's container asks the engine for its GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GpuRequest {
    /// Through the `nvidia` device driver (the NVIDIA Container Toolkit's
    /// hook, or Docker Desktop's WSL2 GPU support): Compose's
    /// `driver: nvidia`, `capabilities: [gpu]`.
    #[default]
    Nvidia,
    /// As the CDI device [`CDI_DEVICE`] (`nvidia-ctk cdi generate`, Docker
    /// 25 and later with CDI).
    Cdi,
}

impl GpuRequest {
    /// The device driver the engine is asked for (`driver` in Compose).
    pub fn driver(self) -> &'static str {
        match self {
            Self::Nvidia => "nvidia",
            Self::Cdi => "cdi",
        }
    }

    /// How many GPUs: one through the `nvidia` driver, none for CDI, which
    /// names its devices (`count` and `device_ids` exclude each other).
    pub fn count(self) -> Option<u32> {
        match self {
            Self::Nvidia => Some(1),
            Self::Cdi => None,
        }
    }

    /// The devices named, for CDI.
    pub fn device_ids(self) -> Vec<String> {
        match self {
            Self::Nvidia => Vec::new(),
            Self::Cdi => vec![CDI_DEVICE.to_owned()],
        }
    }

    /// The capabilities asked for: `gpu` (the engine's CDI driver ignores
    /// them, and Compose requires them).
    pub fn capabilities(self) -> Vec<String> {
        vec!["gpu".to_owned()]
    }
}

impl std::fmt::Display for GpuRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Nvidia => "the `nvidia` device driver",
            Self::Cdi => "the CDI device `nvidia.com/gpu=all`",
        })
    }
}

/// What a probe found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeOutcome {
    /// The container ran and `nvidia-smi -L` listed these GPUs.
    Ran {
        /// The GPUs' names (`NVIDIA GeForce RTX 4090`).
        gpus: Vec<String>,
    },
    /// The engine refused the container, or it ran without listing a GPU.
    Refused {
        /// What the engine or `nvidia-smi` said, on one line.
        reason: String,
    },
}

impl Engine {
    /// Starts a probe container of `image` asking for a GPU as `request`
    /// says, runs `nvidia-smi -L` in it, and removes it. An engine that
    /// does not finish it within the limit ends it with
    /// [`EngineError::Stalled`].
    pub async fn probe_gpu(
        &self,
        image: &str,
        request: GpuRequest,
        cancel: &Cancel,
    ) -> Result<ProbeOutcome, EngineError> {
        let spec = RunSpec {
            image: image.to_owned(),
            command: vec!["-L".to_owned()],
            entrypoint: Some(vec!["nvidia-smi".to_owned()]),
            user: None,
            env: Vec::new(),
            binds: Vec::new(),
            network: "none".to_owned(),
            purpose: "gpu-probe",
            gpu: Some(request),
            limit: Some(crate::seconds_from_env(
                "BUDGETGUARD_GPU_PROBE_TIMEOUT",
                PROBE_LIMIT,
            )),
        };
        let outcome = match self.run_to_end(&spec, &mut |_| {}, cancel).await {
            Ok(output) => {
                let gpus = gpu_names(&output.stdout);
                if output.exit_code == 0 && !gpus.is_empty() {
                    ProbeOutcome::Ran { gpus }
                } else {
                    let said: Vec<&str> = output
                        .tail
                        .iter()
                        .map(String::as_str)
                        .filter(|l| !l.trim().is_empty())
                        .take(REASON_LINES)
                        .collect();
                    ProbeOutcome::Refused {
                        reason: match said.is_empty() {
                            true => format!(
                                "`nvidia-smi -L` listed no GPU (exit code {})",
                                output.exit_code
                            ),
                            false => said.join(" "),
                        },
                    }
                }
            }
            // The engine lacks the image: no answer about the GPU.
            Err(EngineError::Api {
                source:
                    bollard::errors::Error::DockerResponseServerError {
                        status_code: 404, ..
                    },
                ..
            }) => {
                return Err(EngineError::ImageMissing {
                    image: image.to_owned(),
                })
            }
            Err(EngineError::Api { source, .. }) => ProbeOutcome::Refused {
                reason: engine_message(&source),
            },
            Err(other) => return Err(other),
        };
        tracing::info!(image, ?request, ?outcome, "probed the GPU");
        Ok(outcome)
    }
}

/// The engine's own words in an API error (its JSON `message`).
fn engine_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// The GPU names of `nvidia-smi -L`'s lines, `GPU 0: NVIDIA GeForce RTX
/// 4090 (UUID: GPU-…)`.
fn gpu_names(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter_map(|line| line.trim().strip_prefix("GPU "))
        .filter_map(|rest| rest.split_once(": "))
        .map(|(_, name)| {
            name.split(" (UUID")
                .next()
                .unwrap_or(name)
                .trim()
                .to_owned()
        })
        .filter(|name| !name.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gpu_names_are_read_from_nvidia_smi_listings() {
        let listing = "GPU 0: NVIDIA GeForce RTX 4090 (UUID: GPU-1234)\nGPU 1: NVIDIA RTX A6000 (UUID: GPU-5678)\n";
        assert_eq!(
            gpu_names(listing),
            ["NVIDIA GeForce RTX 4090", "NVIDIA RTX A6000"]
        );
        assert!(gpu_names("No devices were found\n").is_empty());
    }
}
