//! How a node's model cache is filled: the commands of the node's own image
//! (as NVIDIA documents for air-gapped NIMs), run on the TechOps machine in
//! a container with the cache mounted.

use serde::{Deserialize, Serialize};

use super::{is_env_name, is_plain, Credential};

/// The argument of [`ModelSpec::fill`] that stands for the chosen profile
/// ids, one argument each.
pub const PROFILES_PLACEHOLDER: &str = "{profiles}";

/// A node's `model` section.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// The cache's name: nodes with the same name share one cache, on the
    /// TechOps machine and on the workstation (FLUX Dev, Canny and Depth).
    pub cache: String,
    /// The command that downloads chosen profiles into the cache, e.g.
    /// `["download-to-cache", "--profiles", "{profiles}"]`.
    pub fill: Vec<String>,
    /// The command that downloads every profile, used when none is chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fill_all: Vec<String>,
    /// The command that lists the profiles (`list-model-profiles`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub list: Vec<String>,
    /// The profiles packaged when none is chosen.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
    /// The secrets the fill needs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Credential>,
    /// Variables of the TechOps machine's environment handed to the fill
    /// when set (proxies, a model server).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pass_env: Vec<String>,
}

/// Whether `name` is a model cache name: lower-case letters, digits and
/// `-` (not first), at most 64 bytes; so one folder name, never a path.
pub fn is_cache_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

impl ModelSpec {
    /// The fill command for `profiles` (every profile when empty), or
    /// `None` when the catalog gives no command for that.
    pub fn fill_command(&self, profiles: &[String]) -> Option<Vec<String>> {
        if profiles.is_empty() {
            return (!self.fill_all.is_empty()).then(|| self.fill_all.clone());
        }
        let mut command = Vec::new();
        for arg in &self.fill {
            if arg == PROFILES_PLACEHOLDER {
                command.extend(profiles.iter().cloned());
            } else {
                command.push(arg.clone());
            }
        }
        Some(command)
    }

    /// What is wrong with the section, if anything.
    pub(super) fn problem(&self) -> Option<String> {
        if !is_cache_name(&self.cache) {
            return Some(format!(
                "model cache name `{}` must be lower-case letters, digits and `-`",
                self.cache
            ));
        }
        if self.fill.is_empty() || !self.fill.iter().any(|a| a == PROFILES_PLACEHOLDER) {
            return Some(format!(
                "the model `fill` command must hold `{PROFILES_PLACEHOLDER}`"
            ));
        }
        let commands = self.fill.iter().chain(&self.fill_all).chain(&self.list);
        if let Some(arg) = commands
            .into_iter()
            .find(|a| a.is_empty() || a.chars().any(char::is_control))
        {
            return Some(format!(
                "model command argument `{arg}` is empty or has a control character"
            ));
        }
        if let Some(id) = self
            .profiles
            .iter()
            .find(|p| p.is_empty() || p.len() > 128 || !is_plain(p))
        {
            return Some(format!("model profile `{id}` is not a profile id"));
        }
        if let Some(name) = self
            .pass_env
            .iter()
            .find(|n| !is_env_name(n) || ["NGC_API_KEY", "HF_TOKEN"].contains(&n.as_str()))
        {
            return Some(format!(
                "`pass_env` `{name}` is not allowed: name plain variables; secrets go in `credentials`"
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> ModelSpec {
        ModelSpec {
            cache: "demo".into(),
            fill: vec![
                "download-to-cache".into(),
                "--profiles".into(),
                "{profiles}".into(),
            ],
            fill_all: vec!["download-to-cache".into(), "--all".into()],
            list: vec!["list-model-profiles".into()],
            profiles: vec!["a".into()],
            credentials: vec![Credential::NgcApiKey],
            pass_env: vec!["HTTPS_PROXY".into()],
        }
    }

    #[test]
    fn profiles_become_one_argument_each() {
        let spec = spec();
        assert_eq!(
            spec.fill_command(&["a".into(), "b".into()]).unwrap(),
            ["download-to-cache", "--profiles", "a", "b"]
        );
        assert_eq!(
            spec.fill_command(&[]).unwrap(),
            ["download-to-cache", "--all"]
        );
        assert!(spec.problem().is_none());
    }

    #[test]
    fn bad_sections_are_named() {
        let mut bad = spec();
        bad.cache = "../x".into();
        assert!(bad.problem().unwrap().contains("cache name"));
        let mut bad = spec();
        bad.pass_env = vec!["HF_TOKEN".into()];
        assert!(bad.problem().unwrap().contains("secrets go in"));
        let mut bad = spec();
        bad.fill = vec!["download-to-cache".into()];
        assert!(bad.problem().unwrap().contains("{profiles}"));
    }
}
