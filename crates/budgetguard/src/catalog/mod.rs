//! The node catalog: which NIM containers TechOps can package, and how each runs.
//!
//! The catalog built into the tool (see [`builtin`]) can be extended or
//! overridden by a JSON file: nodes with a new name are added, nodes with a
//! known name replace the built-in one.

mod builtin;
mod model;

pub use model::{is_cache_name, ModelSpec, PROFILES_PLACEHOLDER};

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::reference::Reference;

/// A secret a node needs at run time; its value lives only on the workstation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Credential {
    /// The NGC API key (`nvapi-…`), passed as `NGC_API_KEY`.
    #[serde(rename = "NGC_API_KEY")]
    NgcApiKey,
    /// A Hugging Face token that accepted the model's license, passed as `HF_TOKEN`.
    #[serde(rename = "HF_TOKEN")]
    HfToken,
}

impl Credential {
    /// The environment variable the container receives it as.
    pub fn env_name(self) -> &'static str {
        match self {
            Credential::NgcApiKey => "NGC_API_KEY",
            Credential::HfToken => "HF_TOKEN",
        }
    }
}

/// One NIM node: a container image run with one model variant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Node {
    /// The name users select it by, e.g. `FLUX Dev`.
    pub name: String,
    /// The image reference, with its tag.
    pub image: String,
    /// `NIM_MODEL_VARIANT`, when the image serves several models.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// The port the server listens on inside the container.
    #[serde(default = "default_container_port")]
    pub container_port: u16,
    /// The port published on the workstation.
    pub host_port: u16,
    /// The workstation address the port is published on: loopback unless
    /// the node is meant to serve other machines (a NIM has no
    /// authentication).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listen: Option<IpAddr>,
    /// Further environment variables (never secrets).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    /// Whether the container needs an NVIDIA GPU.
    #[serde(default)]
    pub gpu: bool,
    /// Shared memory size for the container, e.g. `16gb`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shm_size: Option<String>,
    /// Where the container keeps its model cache, mounted from the workstation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cache_mount: Option<String>,
    /// The readiness path, e.g. `/v1/health/ready`.
    #[serde(default = "default_health_path")]
    pub health_path: String,
    /// The inference path, e.g. `/v1/infer`.
    #[serde(default = "default_infer_path")]
    pub infer_path: String,
    /// Secrets the container needs at run time.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub credentials: Vec<Credential>,
    /// How its model cache is filled, so that a package can carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSpec>,
    /// About how many bytes a pull of its image downloads, for estimates
    /// made before the registry can say. Catalog knowledge only: read from
    /// a catalog file, never written into a package.
    #[serde(default, skip_serializing)]
    pub typical_image_size: Option<u64>,
}

fn default_container_port() -> u16 {
    8000
}

fn default_health_path() -> String {
    "/v1/health/ready".to_owned()
}

fn default_infer_path() -> String {
    "/v1/infer".to_owned()
}

impl Node {
    /// The address the port is published on (`127.0.0.1` unless set).
    pub fn listen_address(&self) -> IpAddr {
        self.listen.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
    }

    /// The base URL of the node's API as seen from this workstation:
    /// `localhost` when it listens on loopback or every address.
    pub fn base_url(&self) -> String {
        let address = self.listen_address();
        if address.is_loopback() || address.is_unspecified() {
            format!("http://localhost:{}", self.host_port)
        } else if let IpAddr::V6(v6) = address {
            format!("http://[{v6}]:{}", self.host_port)
        } else {
            format!("http://{address}:{}", self.host_port)
        }
    }

    /// Where this workstation reaches the node's port.
    pub fn local_address(&self) -> std::net::SocketAddr {
        let address = match self.listen_address() {
            IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(std::net::Ipv6Addr::LOCALHOST),
            other => other,
        };
        std::net::SocketAddr::new(address, self.host_port)
    }

    /// The Compose service and folder name: the name in lower case, words
    /// joined by `-` (`FLUX Dev` becomes `flux-dev`).
    pub fn service_name(&self) -> String {
        slug(&self.name)
    }

    /// Every environment variable the container gets, variant included.
    pub fn container_environment(&self) -> BTreeMap<String, String> {
        let mut env = self.environment.clone();
        if let Some(variant) = &self.variant {
            env.insert("NIM_MODEL_VARIANT".to_owned(), variant.clone());
        }
        env
    }
}

/// Lower-case ASCII letters and digits, other runs of characters turned into `-`.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

/// Why a catalog could not be read or a node not be found.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The catalog file could not be read.
    #[error("cannot read catalog file `{path}`: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The catalog file is not valid.
    #[error("catalog file `{path}` is not valid: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// A node in the catalog makes no sense.
    #[error("catalog node `{node}` is not valid: {reason}")]
    InvalidNode {
        /// The node's name.
        node: String,
        /// What is wrong.
        reason: String,
    },
    /// A requested node is not in the catalog.
    #[error("unknown node `{name}`; known nodes: {}", known.join(", "))]
    UnknownNode {
        /// The requested name.
        name: String,
        /// The names the catalog has.
        known: Vec<String>,
    },
    /// No node was requested.
    #[error("no node selected; known nodes: {}", known.join(", "))]
    NoNodes {
        /// The names the catalog has.
        known: Vec<String>,
    },
}

/// The nodes TechOps can choose from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Catalog {
    /// The nodes, in display order.
    pub nodes: Vec<Node>,
}

impl Catalog {
    /// The catalog built into the tool.
    pub fn builtin() -> Self {
        Catalog {
            nodes: builtin::nodes(),
        }
    }

    /// The built-in catalog with the nodes of the JSON file at `path` added or
    /// overriding those of the same name. A missing file is an error only when
    /// `required` (a file named on the command line); the default location may
    /// hold nothing.
    pub fn load(path: Option<&Path>, required: bool) -> Result<Self, CatalogError> {
        let mut catalog = Self::builtin();
        let Some(path) = path else {
            return Ok(catalog);
        };
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(catalog),
            Err(source) => {
                return Err(CatalogError::Read {
                    path: path.to_owned(),
                    source,
                })
            }
        };
        let extra: Catalog = serde_json::from_str(&text).map_err(|source| CatalogError::Parse {
            path: path.to_owned(),
            source,
        })?;
        for node in extra.nodes {
            match catalog.nodes.iter_mut().find(|n| n.name == node.name) {
                Some(existing) => *existing = node,
                None => catalog.nodes.push(node),
            }
        }
        catalog.validate()?;
        Ok(catalog)
    }

    /// The default location of the catalog file: `catalog.json` in the user's
    /// configuration folder for this tool.
    pub fn default_path() -> Option<PathBuf> {
        crate::paths::config_dir().map(|dir| dir.join("catalog.json"))
    }

    /// The names of all nodes.
    pub fn names(&self) -> Vec<String> {
        self.nodes.iter().map(|n| n.name.clone()).collect()
    }

    /// Looks up a node by name, ignoring case and surrounding spaces.
    pub fn get(&self, name: &str) -> Result<&Node, CatalogError> {
        let wanted = name.trim();
        self.nodes
            .iter()
            .find(|n| n.name.eq_ignore_ascii_case(wanted) || n.service_name() == slug(wanted))
            .ok_or_else(|| CatalogError::UnknownNode {
                name: wanted.to_owned(),
                known: self.names(),
            })
    }

    /// Resolves a comma-separated list such as `FLUX Dev,FLUX Canny`, without
    /// duplicates, in the order given.
    pub fn select(&self, list: &str) -> Result<Vec<Node>, CatalogError> {
        self.select_names(list.split(',').filter(|s| !s.trim().is_empty()))
    }

    /// Resolves node names, without duplicates, in the order given; no name
    /// at all is an error that lists the known nodes.
    pub fn select_names<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Node>, CatalogError> {
        let mut nodes: Vec<Node> = Vec::new();
        for name in names {
            let node = self.get(name)?;
            if !nodes.iter().any(|n| n.name == node.name) {
                nodes.push(node.clone());
            }
        }
        if nodes.is_empty() {
            return Err(CatalogError::NoNodes {
                known: self.names(),
            });
        }
        Ok(nodes)
    }

    /// Checks every node (see [`Node::validate`]) and that no two share a
    /// name.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let mut services = std::collections::HashMap::with_capacity(self.nodes.len());
        for node in &self.nodes {
            node.validate()?;
            if let Some(other) = services.insert(node.service_name(), node.name.as_str()) {
                return Err(CatalogError::InvalidNode {
                    node: node.name.clone(),
                    reason: format!("its name clashes with `{other}`"),
                });
            }
        }
        Ok(())
    }
}

impl Node {
    /// Checks the node's settings, as a package from elsewhere may hold
    /// anything: a printable name without path separators or a leading `-`,
    /// an image reference, ports in range, paths starting with `/`, plain
    /// environment names, values without control characters, and no secret.
    pub fn validate(&self) -> Result<(), CatalogError> {
        let invalid = |reason: String| CatalogError::InvalidNode {
            node: self.name.clone(),
            reason,
        };
        if self.name.trim().is_empty()
            || self.name.len() > 64
            || self.name.starts_with('-')
            || self.name.contains(['/', '\\'])
            || self.name.chars().any(char::is_control)
            || self.service_name().is_empty()
        {
            return Err(invalid(
                "the name must be 1 to 64 printable characters with a letter or a digit, without `/`, `\\` or a leading `-`".into(),
            ));
        }
        Reference::parse(&self.image).map_err(|e| invalid(e.to_string()))?;
        if self.host_port == 0 || self.container_port == 0 {
            return Err(invalid("ports must be between 1 and 65535".into()));
        }
        for (field, path) in [
            ("health_path", Some(&self.health_path)),
            ("infer_path", Some(&self.infer_path)),
            ("cache_mount", self.cache_mount.as_ref()),
        ] {
            if let Some(path) = path {
                if !path.starts_with('/') || path.len() > 256 || !is_plain(path) {
                    return Err(invalid(format!(
                        "`{field}` must be a path starting with `/`, without spaces or control characters"
                    )));
                }
            }
        }
        if self
            .cache_mount
            .as_deref()
            .is_some_and(|p| p.split('/').any(|part| part == ".."))
        {
            return Err(invalid("`cache_mount` must not contain `..`".into()));
        }
        if let Some(model) = &self.model {
            if self.cache_mount.is_none() {
                return Err(invalid(
                    "a node with a `model` section needs a `cache_mount`".into(),
                ));
            }
            if let Some(problem) = model.problem() {
                return Err(invalid(problem));
            }
        }
        if let Some(variant) = &self.variant {
            if variant.is_empty() || variant.len() > 64 || !is_plain(variant) {
                return Err(invalid("`variant` must be a short word".into()));
            }
        }
        if let Some(shm) = &self.shm_size {
            if !is_size(shm) {
                return Err(invalid(format!(
                    "`shm_size` `{shm}` is not a size such as `16gb`"
                )));
            }
        }
        for (key, value) in &self.environment {
            if ["NGC_API_KEY", "HF_TOKEN"].contains(&key.as_str()) {
                return Err(invalid(format!(
                    "environment `{key}` is not allowed: secrets never travel in a node; each workstation stores its own"
                )));
            }
            if !is_env_name(key) {
                return Err(invalid(format!(
                    "environment name `{key}` must be letters, digits and `_`, not starting with a digit"
                )));
            }
            if value.chars().any(char::is_control) {
                return Err(invalid(format!(
                    "environment `{key}` has a control character in its value"
                )));
            }
        }
        Ok(())
    }
}

/// Printable ASCII without spaces.
fn is_plain(text: &str) -> bool {
    text.bytes().all(|b| b.is_ascii_graphic())
}

/// `16gb`, `512m`, `1073741824`.
fn is_size(text: &str) -> bool {
    let digits = text.trim_end_matches(|c: char| c.is_ascii_alphabetic());
    let unit = text[digits.len()..].to_ascii_lowercase();
    !digits.is_empty()
        && digits.len() <= 15
        && digits.bytes().all(|b| b.is_ascii_digit())
        && ["", "b", "k", "kb", "m", "mb", "g", "gb"].contains(&unit.as_str())
}

/// `NIM_MODEL_VARIANT`: letters, digits and `_`, not starting with a digit.
fn is_env_name(name: &str) -> bool {
    name.bytes()
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_nodes_have_distinct_ports_and_services() {
        let catalog = Catalog::builtin();
        catalog.validate().unwrap();
        let mut ports: Vec<u16> = catalog.nodes.iter().map(|n| n.host_port).collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), catalog.nodes.len());
        assert_eq!(catalog.get("FLUX Dev").unwrap().host_port, 8001);
    }

    #[test]
    fn node_images_must_be_references() {
        let mut node = Catalog::builtin().select_names(["Demo"]).unwrap().remove(0);
        let pinned = format!("nvcr.io/nim/x@sha256:{}", "0".repeat(64));
        for image in ["localhost:5000/a/b:1", pinned.as_str(), "demo"] {
            node.image = image.to_owned();
            assert!(node.validate().is_ok(), "{image}");
        }
        for image in ["Demo:1", "-demo", "demo:", "a b", "x@sha256:00", ""] {
            node.image = image.to_owned();
            let error = node.validate().unwrap_err().to_string();
            let named = error.contains(&format!("`{image}`")) || error.contains("image reference");
            assert!(named, "{image}: {error}");
        }
    }

    #[test]
    fn select_resolves_names_in_order_without_duplicates() {
        let catalog = Catalog::builtin();
        let nodes = catalog.select(" flux canny ,FLUX Dev,flux-canny").unwrap();
        let names: Vec<_> = nodes.iter().map(|n| n.name.as_str()).collect();
        assert_eq!(names, ["FLUX Canny", "FLUX Dev"]);
    }

    #[test]
    fn unknown_node_lists_the_known_ones() {
        let err = Catalog::builtin()
            .select("FLUX Pro")
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("unknown node `FLUX Pro`; known nodes: FLUX Dev, FLUX Canny"),
            "{err}"
        );
        assert!(err.contains("Demo"), "{err}");
    }

    #[test]
    fn catalog_file_adds_and_overrides_nodes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.json");
        std::fs::write(
            &path,
            r#"{"nodes":[{"name":"FLUX Dev","image":"example.com/flux:2","host_port":9001},
                         {"name":"My Node","image":"example.com/mine:1","host_port":9100}]}"#,
        )
        .unwrap();
        let catalog = Catalog::load(Some(&path), true).unwrap();
        assert_eq!(catalog.get("FLUX Dev").unwrap().image, "example.com/flux:2");
        assert_eq!(catalog.get("my node").unwrap().host_port, 9100);
        assert_eq!(catalog.nodes.len(), Catalog::builtin().nodes.len() + 1);
    }

    #[test]
    fn catalog_file_refuses_secrets_in_environment() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog.json");
        std::fs::write(
            &path,
            r#"{"nodes":[{"name":"X","image":"x:1","host_port":9,"environment":{"HF_TOKEN":"hf_x"}}]}"#,
        )
        .unwrap();
        let err = Catalog::load(Some(&path), true).unwrap_err().to_string();
        assert!(err.contains("secrets never travel in a node"), "{err}");
    }

    #[test]
    fn missing_default_file_is_fine_but_named_file_is_not() {
        let missing = Path::new("/nonexistent/budgetguard/catalog.json");
        assert!(Catalog::load(Some(missing), false).is_ok());
        assert!(matches!(
            Catalog::load(Some(missing), true),
            Err(CatalogError::Read { .. })
        ));
    }
}
