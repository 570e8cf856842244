//! Whether a model cache's profiles fit this workstation's GPUs, as
//! `nvidia-smi -L` names them inside the install's GPU probe container (so
//! the check works where `nvidia-smi` is not on the workstation's `PATH`,
//! as in WSL2). A NIM serves a profile only on the GPUs it was built for
//! ("Could not match a profile in manifest" otherwise).

use serde::Serialize;

use super::profiles::Profile;

/// What the check found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "fit", rename_all = "snake_case")]
pub enum GpuFit {
    /// A profile is built for a GPU of this workstation.
    Fits {
        /// That profile.
        profile: String,
        /// That GPU.
        gpu: String,
    },
    /// Every profile names its GPUs, and none is here.
    NoProfile {
        /// This workstation's GPUs.
        gpus: Vec<String>,
    },
    /// The check could not be made.
    Unknown {
        /// Why.
        reason: String,
    },
}

/// Compares `profiles` with `gpus`, the GPUs the probe container saw.
pub fn gpu_fit(profiles: &[Profile], gpus: &[String]) -> GpuFit {
    if gpus.is_empty() {
        return GpuFit::Unknown {
            reason: "no GPU container ran here, so its GPUs are not known".to_owned(),
        };
    }
    fit(profiles, gpus.to_vec())
}

fn fit(profiles: &[Profile], gpus: Vec<String>) -> GpuFit {
    if profiles.is_empty() {
        return GpuFit::Unknown {
            reason: "the package does not say which profiles its models hold".to_owned(),
        };
    }
    for profile in profiles {
        for gpu in &gpus {
            let here = gpu.to_lowercase();
            if profile
                .gpus
                .iter()
                .any(|g| here.contains(&g.to_lowercase()) || g.to_lowercase().contains(&here))
            {
                return GpuFit::Fits {
                    profile: profile.id.clone(),
                    gpu: gpu.clone(),
                };
            }
        }
    }
    if let Some(vague) = profiles.iter().find(|p| p.gpus.is_empty()) {
        return GpuFit::Unknown {
            reason: format!(
                "the image's tools do not say which GPUs profile `{}` is for",
                vague.id
            ),
        };
    }
    GpuFit::NoProfile { gpus }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn profile(id: &str, gpus: &[&str]) -> Profile {
        Profile {
            id: id.into(),
            description: String::new(),
            gpus: gpus.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn profiles_are_matched_by_gpu_name() {
        let ada = profile("fp8", &["RTX 4090", "L40S"]);
        let blackwell = profile("fp4", &["RTX 5090"]);
        assert_eq!(
            fit(
                &[blackwell.clone(), ada.clone()],
                vec!["NVIDIA GeForce RTX 4090".into()]
            ),
            GpuFit::Fits {
                profile: "fp8".into(),
                gpu: "NVIDIA GeForce RTX 4090".into()
            }
        );
        assert_eq!(
            fit(&[blackwell], vec!["NVIDIA RTX A6000".into()]),
            GpuFit::NoProfile {
                gpus: vec!["NVIDIA RTX A6000".into()]
            }
        );
        assert!(matches!(
            fit(&[profile("x", &[])], vec!["NVIDIA RTX A6000".into()]),
            GpuFit::Unknown { .. }
        ));
    }
}
