//! Model caches as the pages show them: what this machine's store holds of
//! a node's cache, the profiles typed into the create form, and whether a
//! package's models fit this workstation's GPU.

use budgetguard::catalog::Node;
use budgetguard::models::{GpuFit, ModelStore, ProfileChoice};
use budgetguard::size::human;
use serde::Serialize;

use crate::messages::{controls, Field, Message};

/// A node's model cache on this machine, for its row in the Nodes table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct ModelFacts {
    /// The cache's name (nodes of one name share it).
    pub cache: String,
    /// The profiles this machine's store holds, as recorded.
    pub held: Vec<String>,
    /// The bytes of the cache's folder, when it exists.
    pub size: Option<u64>,
    /// The profiles packaged when none is chosen; empty: every profile.
    pub defaults: Vec<String>,
}

impl ModelFacts {
    /// What `store` holds of `node`'s cache; `None` for a node without a
    /// model section.
    pub(crate) fn of(node: &Node, store: Option<&ModelStore>) -> Option<Self> {
        let model = node.model.as_ref()?;
        Some(Self {
            cache: model.cache.clone(),
            held: store
                .map(|s| s.held_profiles(&model.cache))
                .unwrap_or_default()
                .into_iter()
                .map(|p| p.id)
                .collect(),
            size: store.and_then(|s| s.cache_size(&model.cache)),
            defaults: model.profiles.clone(),
        })
    }

    /// Whether this machine holds some of the cache already.
    pub(crate) fn is_held(&self) -> bool {
        !self.held.is_empty() && self.size.is_some()
    }

    /// The defaults in words: `demo-base-cpu`, or `every profile`.
    pub(crate) fn defaults_text(&self) -> String {
        if self.defaults.is_empty() {
            "every profile".to_owned()
        } else {
            self.defaults.join(", ")
        }
    }

    /// What the Nodes table says after the cache's name: the profiles held
    /// and their size, or that Create downloads them.
    pub(crate) fn text(&self) -> String {
        match self.size {
            Some(size) if self.is_held() => {
                format!("{} · {}", self.held.join(", "), human(size))
            }
            _ => format!("downloaded at Create ({})", self.defaults_text()),
        }
    }
}

/// The profiles field: profile choices (`id`, or `cache=id` for one cache,
/// parsed as the library parses them) separated by commas or spaces; empty:
/// each node's defaults. A cache name that no node of `nodes` uses, or text
/// that is no profile choice, is refused at the field.
pub(crate) fn parse_profiles(text: &str, nodes: &[Node]) -> Result<Vec<ProfileChoice>, Message> {
    let caches: Vec<&str> = nodes
        .iter()
        .filter_map(|n| n.model.as_ref().map(|m| m.cache.as_str()))
        .collect();
    let mut profiles = Vec::new();
    for word in text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|w| !w.is_empty())
    {
        let choice: ProfileChoice = word.parse().map_err(|_| {
            Message::at(
                Field::Profiles,
                format!(
                    "`{}` is not a profile id: enter ids (or cache=id) separated by commas, as the image's `list-model-profiles` prints them.",
                    shown_word(word)
                ),
            )
        })?;
        if let Some(cache) = &choice.cache {
            if !caches.contains(&cache.as_str()) {
                return Err(Message::at(
                    Field::Profiles,
                    format!(
                        "No selected node uses a model cache called `{}` (in “{}”); their caches: {}.",
                        shown_word(cache),
                        controls::PROFILES,
                        if caches.is_empty() {
                            "none".to_owned()
                        } else {
                            caches.join(", ")
                        }
                    ),
                ));
            }
        }
        if !profiles.contains(&choice) {
            profiles.push(choice);
        }
    }
    Ok(profiles)
}

/// A word typed by the user, cut for a message.
fn shown_word(word: &str) -> String {
    let clean: String = word.chars().filter(|c| !c.is_control()).collect();
    match clean.char_indices().nth(60) {
        Some((end, _)) => format!("{}…", &clean[..end]),
        None => clean,
    }
}

/// Whether a package's models fit this workstation's GPU, as the page says
/// it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FitView {
    /// The cache.
    pub cache: String,
    /// `ok`, `warn` or `idle`, for the colour.
    pub class: &'static str,
    /// What was found.
    pub text: String,
}

/// The view of `fit`, the GPU check of the cache `cache`.
pub(crate) fn fit_view(cache: &str, fit: &GpuFit) -> FitView {
    let (class, text) = match fit {
        GpuFit::Fits { profile, gpu } => (
            "ok",
            format!("Profile {profile} is built for this workstation's {gpu}."),
        ),
        GpuFit::NoProfile { gpus } => (
            "warn",
            format!(
                "None of its profiles is built for this workstation's GPU ({}): the node will not serve. Ask TechOps for a package with a profile for this GPU.",
                gpus.join(", ")
            ),
        ),
        GpuFit::Unknown { reason } => ("idle", format!("Not checked: {reason}.")),
    };
    FitView {
        cache: cache.to_owned(),
        class,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetguard::catalog::Catalog;

    fn nodes(names: &[&str]) -> Vec<Node> {
        let catalog = Catalog::builtin();
        names
            .iter()
            .map(|n| catalog.get(n).unwrap().clone())
            .collect()
    }

    #[test]
    fn profiles_are_ids_or_cache_ids_separated_by_commas() {
        let demo = nodes(&["Demo", "FLUX Dev"]);
        assert_eq!(parse_profiles("  ", &demo).unwrap(), []);
        assert_eq!(
            parse_profiles("demo-base-cpu, flux-dev=abc123 demo-base-cpu", &demo).unwrap(),
            [
                ProfileChoice {
                    cache: None,
                    id: "demo-base-cpu".to_owned()
                },
                ProfileChoice {
                    cache: Some("flux-dev".to_owned()),
                    id: "abc123".to_owned()
                }
            ]
        );
        let unknown = parse_profiles("flux-schnell=x", &demo).unwrap_err();
        assert_eq!(unknown.field, Some(Field::Profiles));
        assert!(unknown.text.contains("demo, flux-dev"), "{}", unknown.text);
        assert!(parse_profiles("demo=", &demo).is_err());
        assert!(parse_profiles("a=b=c", &demo).is_err());
    }

    #[test]
    fn gpu_fits_read_well() {
        let fits = fit_view(
            "flux-dev",
            &GpuFit::Fits {
                profile: "p1".into(),
                gpu: "NVIDIA L40S".into(),
            },
        );
        assert_eq!(fits.class, "ok");
        assert_eq!(
            fits.text,
            "Profile p1 is built for this workstation's NVIDIA L40S."
        );
        let none = fit_view(
            "flux-dev",
            &GpuFit::NoProfile {
                gpus: vec!["NVIDIA T4".into()],
            },
        );
        assert_eq!(none.class, "warn");
        assert!(
            none.text.contains("(NVIDIA T4): the node will not serve"),
            "{}",
            none.text
        );
        let unknown = fit_view(
            "flux-dev",
            &GpuFit::Unknown {
                reason: "nvidia-smi lists no GPU".into(),
            },
        );
        assert_eq!(unknown.text, "Not checked: nvidia-smi lists no GPU.");
    }

    #[test]
    fn a_cache_not_filled_yet_is_not_held() {
        let store_dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(store_dir.path().to_owned());
        let facts = ModelFacts::of(&nodes(&["Demo"])[0], Some(&store)).unwrap();
        assert_eq!(facts.cache, "demo");
        assert!(!facts.is_held());
        assert_eq!(facts.text(), "downloaded at Create (demo-base-cpu)");
        let flux = ModelFacts::of(&nodes(&["FLUX Dev"])[0], None).unwrap();
        assert_eq!(flux.defaults_text(), "every profile");
        let plain: Node = serde_json::from_value(serde_json::json!({
            "name": "Plain", "image": "a:1", "host_port": 9000
        }))
        .unwrap();
        assert_eq!(ModelFacts::of(&plain, Some(&store)), None);
    }
}
