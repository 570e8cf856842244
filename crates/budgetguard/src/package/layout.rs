//! Entry names inside a package, and the OCI image layout documents.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::manifest::{Blob, PackagedImage};
use crate::reference::{Reference, DEFAULT_TAG};

/// The manifest: the first entry of the central directory (written last).
pub const MANIFEST: &str = "budgetguard-package.json";
/// The folder of the OCI image layout.
pub const IMAGES_DIR: &str = "images/";
/// The folder of the blobs, named by their SHA-256.
pub const BLOBS_DIR: &str = "images/blobs/sha256/";
/// The OCI layout marker.
pub const OCI_LAYOUT: &str = "images/oci-layout";
/// The OCI index of all images.
pub const OCI_INDEX: &str = "images/index.json";
/// The Docker `manifest.json` that `docker load` reads.
pub const DOCKER_MANIFEST: &str = "images/manifest.json";
/// The folder of model files, named by their SHA-256.
pub const MODEL_BLOBS_DIR: &str = "models/blobs/sha256/";
/// The fallback installer's part that writes the model caches.
pub const MODELS_SH: &str = "install/models.sh";
/// The POSIX fallback installer.
pub const INSTALL_SH: &str = "install/install.sh";
/// The Windows fallback installer.
pub const INSTALL_PS1: &str = "install/install.ps1";
/// An update package's base, for the fallback installers: its package id
/// and file name on one line.
pub const BASE_TXT: &str = "install/base.txt";
/// Checksums in `sha256sum -c` form, for the fallback installers.
pub const SHA256SUMS: &str = "SHA256SUMS";
/// The short how-to.
pub const README: &str = "README.txt";

/// The entry of a blob.
pub fn blob_entry(digest_hex: &str) -> String {
    format!("{BLOBS_DIR}{digest_hex}")
}

/// The entry of a model file.
pub fn model_blob_entry(sha256_hex: &str) -> String {
    format!("{MODEL_BLOBS_DIR}{sha256_hex}")
}

/// The Compose file entry of a node's service.
pub fn compose_entry(service: &str) -> String {
    format!("compose/{service}/docker-compose.yml")
}

/// The path of a blob inside the image layout (as `manifest.json` names it).
pub fn layout_path(blob: &Blob) -> String {
    format!("blobs/sha256/{}", hex_of(&blob.digest))
}

/// The hex part of `sha256:<hex>`.
pub fn hex_of(digest: &str) -> &str {
    digest.strip_prefix("sha256:").unwrap_or(digest)
}

/// The media type of an uncompressed layer in an OCI image manifest.
pub const TAR_LAYER: &str = "application/vnd.oci.image.layer.v1.tar";

/// The OCI image manifest of an image: its layers uncompressed, or with
/// their media type (compressed, format 3).
pub fn oci_manifest(config: &Blob, layers: &[Blob]) -> Vec<u8> {
    let layers: Vec<_> = layers
        .iter()
        .map(|l| {
            json!({
                "mediaType": l.media_type.as_deref().unwrap_or(TAR_LAYER),
                "digest": l.digest,
                "size": l.size,
            })
        })
        .collect();
    to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": config.digest,
            "size": config.size,
        },
        "layers": layers,
    }))
}

/// The OCI index naming every image by each of its references.
pub fn oci_index(images: &[PackagedImage]) -> Vec<u8> {
    let manifests: Vec<_> = images
        .iter()
        .flat_map(|image| {
            image.references.iter().map(move |reference| {
                json!({
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": image.manifest.digest,
                    "size": image.manifest.size,
                    "annotations": {
                        "io.containerd.image.name": containerd_name(reference),
                        "org.opencontainers.image.ref.name": ref_name(reference),
                    },
                })
            })
        })
        .collect();
    to_bytes(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": manifests,
    }))
}

/// One image of Docker's `manifest.json`, as `docker save` writes it and
/// `docker load` reads it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SaveManifestItem {
    /// The path of the image's config.
    #[serde(rename = "Config")]
    pub config: String,
    /// The references to tag the image with.
    #[serde(rename = "RepoTags", default)]
    pub repo_tags: Option<Vec<String>>,
    /// The paths of its layers, bottom first.
    #[serde(rename = "Layers")]
    pub layers: Vec<String>,
    /// Any other field: Docker 25+ writes `LayerSources`; a package's own
    /// `manifest.json` has none (they change what `docker load` loads).
    #[serde(flatten, default)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// The Docker `manifest.json` pointing into the layout.
pub fn docker_manifest(images: &[PackagedImage]) -> Vec<u8> {
    let items: Vec<SaveManifestItem> = images
        .iter()
        .map(|image| SaveManifestItem {
            config: layout_path(&image.config),
            repo_tags: Some(image.references.clone()),
            layers: image.layers.iter().map(layout_path).collect(),
            other: BTreeMap::new(),
        })
        .collect();
    serde_json::to_vec(&items).expect("the items serialize")
}

/// The `oci-layout` marker file.
pub fn oci_layout() -> Vec<u8> {
    br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()
}

/// A reference with its registry and namespace spelled out, as containerd
/// names images (`demo:1` is `docker.io/library/demo:1`).
fn containerd_name(reference: &str) -> String {
    Reference::parse(reference).map_or_else(|_| reference.to_owned(), |r| r.full())
}

/// The tag an OCI index names a reference by (`latest` when it has none).
pub(crate) fn ref_name(reference: &str) -> String {
    Reference::parse(reference).map_or_else(
        |_| DEFAULT_TAG.to_owned(),
        |r| r.tag().unwrap_or(DEFAULT_TAG).to_owned(),
    )
}

fn to_bytes(value: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(value).expect("JSON values always serialize")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_spelled_out_for_containerd() {
        assert_eq!(containerd_name("demo:1"), "docker.io/library/demo:1");
        assert_eq!(
            containerd_name("budgetguard/demo-nim:0.1.0"),
            "docker.io/budgetguard/demo-nim:0.1.0"
        );
        assert_eq!(containerd_name("nvcr.io/nim/x:1"), "nvcr.io/nim/x:1");
        assert_eq!(ref_name("localhost:5000/x"), "latest");
        assert_eq!(ref_name("localhost:5000/x:2"), "2");
    }
}
