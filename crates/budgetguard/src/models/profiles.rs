//! Model profiles, as a NIM's `list-model-profiles` prints them:
//!
//! ```text
//! MODEL PROFILES
//! - Compatible with system and runnable:
//!   - <id> (<description>)
//! - Incompatible with system:
//!   - <id> (<description>)
//! ```
//!
//! A description may carry `; gpus=<names>` (the GPUs the profile is built
//! for) and `; cached` (the cache holds it), as the Demo image writes them.

use serde::{Deserialize, Serialize};

/// One profile of a model: a build for one class of GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Its id, as `download-to-cache --profiles` takes it.
    pub id: String,
    /// What the image's tools say of it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The GPUs it is built for, as far as the image's tools say (none
    /// listed: unknown, or any).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gpus: Vec<String>,
}

impl Profile {
    /// A profile known by its id only.
    pub fn bare(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            description: String::new(),
            gpus: Vec::new(),
        }
    }
}

/// A profile as listed, with what the listing says of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Listed {
    /// The profile.
    pub profile: Profile,
    /// Whether the listing marks it as held by the cache.
    pub cached: bool,
}

/// The profiles of a `list-model-profiles` output.
pub(crate) fn parse_list(text: &str) -> Vec<Listed> {
    let mut listed = Vec::new();
    let mut in_profiles = false;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.eq_ignore_ascii_case("MODEL PROFILES") {
            in_profiles = true;
            continue;
        }
        // Profile lines are indented under a section line.
        if !in_profiles || !line.starts_with(char::is_whitespace) {
            continue;
        }
        let Some(rest) = trimmed.strip_prefix("- ") else {
            continue;
        };
        let (id, details) = match rest.split_once(' ') {
            Some((id, details)) => (id, details.trim()),
            None => (rest, ""),
        };
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_graphic()) {
            continue;
        }
        let details = details
            .strip_prefix('(')
            .and_then(|d| d.strip_suffix(')'))
            .unwrap_or(details);
        let mut profile = Profile::bare(id);
        let mut cached = false;
        let mut words = Vec::new();
        for part in details.split("; ").map(str::trim).filter(|p| !p.is_empty()) {
            if part == "cached" {
                cached = true;
            } else if let Some(gpus) = part.strip_prefix("gpus=") {
                profile.gpus = gpus
                    .split(',')
                    .map(str::trim)
                    .filter(|g| !g.is_empty())
                    .map(str::to_owned)
                    .collect();
            } else {
                words.push(part);
            }
        }
        profile.description = words.join("; ");
        if !listed.iter().any(|l: &Listed| l.profile.id == profile.id) {
            listed.push(Listed { profile, cached });
        }
    }
    listed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_and_nim_listings_are_read() {
        let text = "SYSTEM INFO\n- Free GPUs: <None>\nMODEL PROFILES\n\
            - Compatible with system and runnable:\n\
            \x20 - demo-base-fp8 (FP8 for Ada and Hopper; gpus=NVIDIA GeForce RTX 4090,NVIDIA L40S; cached)\n\
            \x20 - demo-base-cpu (CPU; gpus=)\n\
            - Incompatible with system:\n\
            \x20 - 3bb4e8fe78e5 (tensorrt_llm-h100-fp8-tp1-throughput)\n";
        let listed = parse_list(text);
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0].profile.id, "demo-base-fp8");
        assert_eq!(listed[0].profile.description, "FP8 for Ada and Hopper");
        assert_eq!(
            listed[0].profile.gpus,
            ["NVIDIA GeForce RTX 4090", "NVIDIA L40S"]
        );
        assert!(listed[0].cached);
        assert!(listed[1].profile.gpus.is_empty() && !listed[1].cached);
        assert_eq!(
            listed[2].profile.description,
            "tensorrt_llm-h100-fp8-tp1-throughput"
        );
        assert!(parse_list("- x (no section)\n").is_empty());
    }
}
