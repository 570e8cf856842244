//! The Compose file of one node, written with a YAML serializer that quotes
//! every string YAML 1.1 readers would misread (Compose v1 is one).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::catalog::Node;
use crate::engine::GpuRequest;

/// The credentials file, relative to a node's Compose folder
/// (`<install dir>/compose/<node>/`): `install-credentials` writes it at
/// `<install dir>/credentials.env`, readable by the user only.
pub const CREDENTIALS_FILE: &str = "../../credentials.env";

/// A Compose file with one service.
#[derive(Debug, Serialize)]
pub struct ComposeFile {
    services: BTreeMap<String, Service>,
}

#[derive(Debug, Serialize)]
struct Service {
    image: String,
    container_name: String,
    ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    environment: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    env_file: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    shm_size: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    volumes: Vec<String>,
    restart: String,
    labels: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deploy: Option<Deploy>,
}

#[derive(Debug, Serialize)]
struct Deploy {
    resources: Resources,
}

#[derive(Debug, Serialize)]
struct Resources {
    reservations: Reservations,
}

#[derive(Debug, Serialize)]
struct Reservations {
    devices: Vec<Device>,
}

#[derive(Debug, Serialize)]
struct Device {
    driver: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    count: Option<u32>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    device_ids: Vec<String>,
    capabilities: Vec<String>,
}

/// The label that names the node a container belongs to.
const NODE_LABEL: &str = "com.budgetguard.node";

/// The model cache folder of a node whose models came in its package,
/// relative to the node's Compose folder (`<install dir>/models/<cache>`):
/// shared by every node of the cache.
pub fn models_folder(cache: &str) -> String {
    format!("../../models/{cache}")
}

/// Builds the Compose file of `node`. Values are escaped for Compose's
/// `$` interpolation; secrets are never in it, only the credentials file's
/// path. A node whose models came in its package (`offline`) mounts the
/// shared cache of its model and gets no credentials: it never downloads.
/// A GPU node asks for its GPU through the `nvidia` device driver, as in
/// the Compose files a package carries.
pub fn compose_file(node: &Node, offline: bool) -> ComposeFile {
    compose_file_for(node, offline, GpuRequest::Nvidia)
}

/// [`compose_file`], with a GPU node asking for its GPU as `gpu` says (the
/// way the GPU probe found to run on this workstation).
pub fn compose_file_for(node: &Node, offline: bool, gpu: GpuRequest) -> ComposeFile {
    let offline_cache = node.model.as_ref().filter(|_| offline).map(|m| &m.cache);
    let service = Service {
        image: node.image.clone(),
        container_name: super::container_name(node),
        ports: vec![published_port(node)],
        environment: node
            .container_environment()
            .into_iter()
            .map(|(k, v)| format!("{k}={}", literal(&v)))
            .collect(),
        env_file: if node.credentials.is_empty() || offline_cache.is_some() {
            Vec::new()
        } else {
            vec![CREDENTIALS_FILE.to_owned()]
        },
        shm_size: node.shm_size.clone(),
        volumes: node
            .cache_mount
            .iter()
            .map(|path| match offline_cache {
                Some(cache) => format!("{}:{}", models_folder(cache), literal(path)),
                None => format!("./cache:{}", literal(path)),
            })
            .collect(),
        restart: "unless-stopped".to_owned(),
        labels: BTreeMap::from([(NODE_LABEL.to_owned(), literal(&node.name))]),
        deploy: node.gpu.then(|| Deploy {
            resources: Resources {
                reservations: Reservations {
                    devices: vec![device(gpu)],
                },
            },
        }),
    };
    ComposeFile {
        services: BTreeMap::from([(node.service_name(), service)]),
    }
}

/// The device reservation of a GPU node, as [`GpuRequest`] describes it.
fn device(gpu: GpuRequest) -> Device {
    Device {
        driver: gpu.driver().to_owned(),
        count: gpu.count(),
        device_ids: gpu.device_ids(),
        capabilities: gpu.capabilities(),
    }
}

/// `text` as Compose reads it, not as a `$VARIABLE` of the environment
/// Compose runs in (which may hold the workstation's secrets).
fn literal(text: &str) -> String {
    text.replace('$', "$$")
}

/// `127.0.0.1:8001:8000`: the port, published on the node's address only.
fn published_port(node: &Node) -> String {
    match node.listen_address() {
        std::net::IpAddr::V4(v4) => format!("{v4}:{}:{}", node.host_port, node.container_port),
        std::net::IpAddr::V6(v6) => format!("[{v6}]:{}:{}", node.host_port, node.container_port),
    }
}

impl ComposeFile {
    /// The file as YAML.
    pub fn to_yaml(&self) -> String {
        serde_saphyr::to_string(self).expect("a Compose file always serializes")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Catalog;

    #[test]
    fn flux_dev_has_the_documented_shape() {
        let catalog = Catalog::builtin();
        let yaml = compose_file(catalog.get("FLUX Dev").unwrap(), false).to_yaml();
        for expected in [
            "flux-dev:",
            "nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3",
            "127.0.0.1:8001:8000",
            "NIM_MODEL_VARIANT=base",
            "unless-stopped",
            "driver: nvidia",
            "capabilities:",
            "../../credentials.env",
            "./cache:/opt/nim/.cache",
        ] {
            assert!(yaml.contains(expected), "missing {expected} in\n{yaml}");
        }
        assert!(!yaml.contains("nvapi-"));
    }

    #[test]
    fn demo_has_no_gpu_and_no_credentials() {
        let catalog = Catalog::builtin();
        let yaml = compose_file(catalog.get("Demo").unwrap(), false).to_yaml();
        assert!(!yaml.contains("nvidia"), "{yaml}");
        assert!(!yaml.contains("env_file"), "{yaml}");
    }

    #[test]
    fn ports_are_published_on_loopback_unless_the_node_says_otherwise() {
        let mut node = Catalog::builtin().get("Demo").unwrap().clone();
        assert!(compose_file(&node, false)
            .to_yaml()
            .contains("127.0.0.1:8090:8000"));
        node.listen = Some("0.0.0.0".parse().unwrap());
        assert!(compose_file(&node, false)
            .to_yaml()
            .contains("0.0.0.0:8090:8000"));
        node.listen = Some("::1".parse().unwrap());
        assert!(compose_file(&node, false)
            .to_yaml()
            .contains("[::1]:8090:8000"));
    }

    #[test]
    fn offline_nodes_share_their_model_cache_and_get_no_credentials() {
        let catalog = Catalog::builtin();
        let yaml = compose_file(catalog.get("FLUX Canny").unwrap(), true).to_yaml();
        assert!(
            yaml.contains("../../models/flux-dev:/opt/nim/.cache"),
            "{yaml}"
        );
        assert!(!yaml.contains("credentials.env"), "{yaml}");
    }

    #[test]
    fn dollar_signs_are_escaped() {
        let mut node = Catalog::builtin().get("Demo").unwrap().clone();
        node.environment.insert("PASSWORDLESS".into(), "a$b".into());
        node.cache_mount = Some("/opt/${HF_TOKEN}".into());
        let yaml = compose_file(&node, false).to_yaml();
        assert!(yaml.contains("PASSWORDLESS=a$$b"), "{yaml}");
        assert!(yaml.contains("./cache:/opt/$${HF_TOKEN}"), "{yaml}");
        let offline = compose_file(&node, true).to_yaml();
        assert!(offline.contains(":/opt/$${HF_TOKEN}"), "{offline}");
    }
}
