//! The nodes built into the tool, from NVIDIA's NIM documentation (1.7.0).

use std::collections::BTreeMap;

use super::{Credential, ModelSpec, Node, PROFILES_PLACEHOLDER};

/// The image that serves FLUX Dev, Canny and Depth (one variant per container).
const FLUX_DEV_IMAGE: &str = "nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3";

/// The image of the Demo node, built from `crates/demo-nim` by
/// `scripts/build-demo-image`.
pub const DEMO_IMAGE: &str = "budgetguard/demo-nim:0.2.0";

/// The size of [`DEMO_IMAGE`] in Docker, in bytes, as built.
const DEMO_IMAGE_SIZE: u64 = 5_378_632;

/// The built-in nodes: the FLUX family on ports 8001 onwards, and `Demo`.
pub fn nodes() -> Vec<Node> {
    vec![
        flux("FLUX Dev", FLUX_DEV_IMAGE, Some("base"), 8001, "flux-dev"),
        flux(
            "FLUX Canny",
            FLUX_DEV_IMAGE,
            Some("canny"),
            8002,
            "flux-dev",
        ),
        flux(
            "FLUX Depth",
            FLUX_DEV_IMAGE,
            Some("depth"),
            8003,
            "flux-dev",
        ),
        flux(
            "FLUX Schnell",
            "nvcr.io/nim/black-forest-labs/flux.1-schnell:1.1.4",
            None,
            8004,
            "flux-schnell",
        ),
        flux(
            "FLUX Kontext",
            "nvcr.io/nim/black-forest-labs/flux.1-kontext-dev:1.1.4",
            None,
            8005,
            "flux-kontext",
        ),
        Node {
            name: "Demo".to_owned(),
            image: DEMO_IMAGE.to_owned(),
            variant: Some("base".to_owned()),
            container_port: 8000,
            host_port: 8090,
            listen: None,
            environment: BTreeMap::new(),
            gpu: false,
            shm_size: None,
            cache_mount: Some("/opt/nim/.cache".to_owned()),
            health_path: "/v1/health/ready".to_owned(),
            infer_path: "/v1/infer".to_owned(),
            credentials: Vec::new(),
            model: Some(ModelSpec {
                profiles: vec!["demo-base-cpu".to_owned()],
                credentials: vec![Credential::NgcApiKey],
                pass_env: vec!["DEMO_NIM_MODEL_SERVER".to_owned()],
                ..nim_model("demo")
            }),
            // The image as `scripts/build-demo-image` builds it (0.2.0).
            typical_image_size: Some(DEMO_IMAGE_SIZE),
        },
    ]
}

/// The NIM utilities, as NVIDIA's air-gap procedure runs them. No default
/// profile: they depend on the workstations' GPUs (`--profile`).
fn nim_model(cache: &str) -> ModelSpec {
    ModelSpec {
        cache: cache.to_owned(),
        fill: vec![
            "download-to-cache".to_owned(),
            "--profiles".to_owned(),
            PROFILES_PLACEHOLDER.to_owned(),
        ],
        fill_all: vec!["download-to-cache".to_owned(), "--all".to_owned()],
        list: vec!["list-model-profiles".to_owned()],
        profiles: Vec::new(),
        credentials: vec![Credential::NgcApiKey, Credential::HfToken],
        pass_env: [
            "HTTPS_PROXY",
            "HTTP_PROXY",
            "NO_PROXY",
            "https_proxy",
            "http_proxy",
            "no_proxy",
        ]
        .map(str::to_owned)
        .to_vec(),
    }
}

fn flux(name: &str, image: &str, variant: Option<&str>, host_port: u16, cache: &str) -> Node {
    Node {
        name: name.to_owned(),
        image: image.to_owned(),
        variant: variant.map(str::to_owned),
        container_port: 8000,
        host_port,
        listen: None,
        environment: BTreeMap::from([("NIM_RELAX_MEM_CONSTRAINTS".to_owned(), "1".to_owned())]),
        gpu: true,
        shm_size: Some("16gb".to_owned()),
        cache_mount: Some("/opt/nim/.cache".to_owned()),
        health_path: "/v1/health/ready".to_owned(),
        infer_path: "/v1/infer".to_owned(),
        credentials: vec![Credential::NgcApiKey, Credential::HfToken],
        model: Some(nim_model(cache)),
        // NVIDIA's documentation gives no size for the FLUX images: a
        // catalog file may set one.
        typical_image_size: None,
    }
}
