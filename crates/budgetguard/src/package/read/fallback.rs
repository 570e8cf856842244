//! The files that the fallback installers (`install/install.sh`,
//! `install/install.ps1`) trust instead of the manifest: `SHA256SUMS`, which
//! `sha256sum -c` checks the unzipped files against, `images/manifest.json`
//! and `images/index.json`, which `docker load` reads, the OCI image
//! manifests the index points to, and the nodes' Compose files, which they
//! run. Each must say what the manifest says; a Compose file must be the
//! one the node's validated settings give, byte for byte. They
//! are compared by meaning (parsed, in any order or spacing), not byte for
//! byte, but fields that could change what `docker load` loads are refused.

use std::collections::{HashMap, HashSet};

use serde::de::DeserializeOwned;
use serde::Deserialize;

use super::Package;
use crate::compose::compose_file;
use crate::package::error::EntryProblem;
use crate::package::image_config::ImageConfig;
use crate::package::layout::{self, ref_name, SaveManifestItem};
use crate::package::manifest::{Blob, PackagedImage, GZIP_LAYER};
use crate::package::PackageError;
use crate::reference::familiar;

/// The largest of these files the reader takes.
const MAX_DOCUMENT: u64 = 16 << 20;
/// The image name annotation containerd and Docker 25+ load images by.
const IMAGE_NAME: &str = "io.containerd.image.name";
/// The OCI tag annotation.
const REF_NAME: &str = "org.opencontainers.image.ref.name";
const INDEX_TYPE: &str = "application/vnd.oci.image.index.v1+json";
const MANIFEST_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
const CONFIG_TYPES: [&str; 2] = [
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
];
/// Uncompressed layers, which the package names by their diff IDs.
const LAYER_TYPES: [&str; 2] = [
    layout::TAR_LAYER,
    "application/vnd.docker.image.rootfs.diff.tar",
];

/// An OCI image index.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Index {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    manifests: Vec<Descriptor>,
}

/// An OCI image manifest.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct ImageManifest {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    config: Descriptor,
    layers: Vec<Descriptor>,
}

/// An OCI content descriptor (no `urls`, `platform` or embedded `data`).
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct Descriptor {
    media_type: String,
    digest: String,
    size: u64,
    #[serde(default)]
    annotations: HashMap<String, String>,
}

impl Descriptor {
    fn is(&self, blob: &Blob) -> bool {
        self.digest == blob.digest && self.size == blob.size
    }
}

impl Package {
    /// Checks every file the fallback installers trust against the manifest.
    pub(super) fn check_fallback_files(&self) -> Result<(), PackageError> {
        self.check_sums()?;
        self.check_docker_manifest()?;
        self.check_oci_index()?;
        self.check_image_manifests()?;
        self.check_compose_files()
    }

    /// Each node's Compose file is the one generated from its settings, as
    /// `install-package` generates it on the workstation.
    pub(crate) fn check_compose_files(&self) -> Result<(), PackageError> {
        for packaged in &self.manifest.nodes {
            let name = &packaged.compose_file;
            let offline = packaged.model_cache.is_some();
            let expected = compose_file(&packaged.node, offline).to_yaml();
            if self.fallback_file(name)? != expected.as_bytes() {
                return Err(self.mismatch(name, EntryProblem::ComposeNotGenerated));
            }
        }
        Ok(())
    }

    /// A file the fallback installers need, checked against its SHA-256.
    fn fallback_file(&self, name: &str) -> Result<Vec<u8>, PackageError> {
        if self.listed(name).is_none() {
            return Err(self.mismatch(name, EntryProblem::NeededByFallback));
        }
        self.read_small(name, MAX_DOCUMENT)
    }

    /// Parses the JSON entry `name`.
    fn json<T: DeserializeOwned>(&self, name: &str, bytes: &[u8]) -> Result<T, PackageError> {
        serde_json::from_slice(bytes).map_err(|e| self.mismatch(name, EntryProblem::NotJson(e)))
    }

    /// `SHA256SUMS` has one `<sha256>  <entry>` line for each entry of the
    /// manifest but itself, with the manifest's SHA-256, and no other line.
    fn check_sums(&self) -> Result<(), PackageError> {
        let name = layout::SHA256SUMS;
        let bytes = self.fallback_file(name)?;
        let refuse = |problem| Err(self.mismatch(name, problem));
        let mut lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').collect();
        if lines.last().is_some_and(|last| last.is_empty()) {
            lines.pop();
        }
        let mut seen = HashSet::new();
        for (number, line) in lines.into_iter().enumerate() {
            let Some((sha256, entry)) = std::str::from_utf8(line).ok().and_then(sum_line) else {
                return refuse(EntryProblem::SumsLine(number + 1));
            };
            if entry == name {
                return refuse(EntryProblem::SumsItself);
            }
            let Some(listed) = self.listed(entry) else {
                return refuse(EntryProblem::SumsUnknown(entry.to_owned()));
            };
            if !seen.insert(entry) {
                return refuse(EntryProblem::SumsTwice(entry.to_owned()));
            }
            if !sha256.eq_ignore_ascii_case(&listed.sha256) {
                return refuse(EntryProblem::SumsDigest(entry.to_owned()));
            }
        }
        match self
            .manifest
            .entries
            .iter()
            .find(|e| e.name != name && !seen.contains(e.name.as_str()))
        {
            Some(missing) => refuse(EntryProblem::SumsMissing(missing.name.clone())),
            None => Ok(()),
        }
    }

    /// `images/manifest.json` loads each image of the manifest, with its
    /// config, its layers in order and its references, and nothing else.
    fn check_docker_manifest(&self) -> Result<(), PackageError> {
        let name = layout::DOCKER_MANIFEST;
        let items: Vec<SaveManifestItem> = self.json(name, &self.fallback_file(name)?)?;
        let mut expected: HashMap<String, &PackagedImage> = self
            .manifest
            .images
            .iter()
            .map(|image| (layout::layout_path(&image.config), image))
            .collect();
        for item in items {
            // `LayerSources` and `Parent`, which change what is loaded, are
            // refused with every other field.
            if let Some(field) = item.other.keys().next() {
                let unknown = <serde_json::Error as serde::de::Error>::unknown_field(
                    field,
                    &["Config", "RepoTags", "Layers"],
                );
                return Err(self.mismatch(name, EntryProblem::NotJson(unknown)));
            }
            let Some(image) = expected.remove(&item.config) else {
                return Err(self.mismatch(name, EntryProblem::ImageUnknown(item.config)));
            };
            let layers: Vec<String> = image.layers.iter().map(layout::layout_path).collect();
            if familiar_set(item.repo_tags.iter().flatten()) != familiar_set(&image.references)
                || item.layers != layers
            {
                return Err(self.mismatch(name, EntryProblem::ImageDiffers(image_name(image))));
            }
        }
        self.none_left(name, |image| {
            expected.contains_key(&layout::layout_path(&image.config))
        })
    }

    /// `images/index.json` names each image of the manifest by each of its
    /// references, pointing to its OCI image manifest, and nothing else.
    fn check_oci_index(&self) -> Result<(), PackageError> {
        let name = layout::OCI_INDEX;
        let index: Index = self.json(name, &self.fallback_file(name)?)?;
        if index.schema_version != 2 || index.media_type.is_some_and(|t| t != INDEX_TYPE) {
            return Err(self.mismatch(name, EntryProblem::NotOciIndex));
        }
        // Each (manifest digest, size, name) the index must have, with the
        // reference it stands for and how many times (one image may have a
        // reference in two spellings).
        let mut expected: HashMap<(&str, u64, String), (&str, usize)> = HashMap::new();
        for image in &self.manifest.images {
            for reference in &image.references {
                let key = (
                    image.manifest.digest.as_str(),
                    image.manifest.size,
                    familiar(reference),
                );
                expected.entry(key).or_insert((reference, 0)).1 += 1;
            }
        }
        for descriptor in &index.manifests {
            let image_name = descriptor.annotations.get(IMAGE_NAME);
            let unknown = || {
                let shown = image_name.unwrap_or(&descriptor.digest).clone();
                self.mismatch(name, EntryProblem::ImageUnknown(shown))
            };
            let key = (
                descriptor.digest.as_str(),
                descriptor.size,
                familiar(image_name.ok_or_else(unknown)?),
            );
            let (reference, left) = expected
                .get_mut(&key)
                .filter(|(_, left)| *left > 0)
                .ok_or_else(unknown)?;
            *left -= 1;
            let tag = descriptor.annotations.get(REF_NAME);
            if descriptor.media_type != MANIFEST_TYPE
                || tag.is_some_and(|t| *t != ref_name(reference))
            {
                return Err(
                    self.mismatch(name, EntryProblem::ImageDiffers((*reference).to_owned()))
                );
            }
        }
        match expected.values().find(|(_, left)| *left > 0) {
            Some((reference, _)) => {
                Err(self.mismatch(name, EntryProblem::ImageMissing((*reference).to_owned())))
            }
            None => Ok(()),
        }
    }

    /// Each image's OCI image manifest names its config and its layers, in
    /// order and of their media types, as the manifest does, and its config
    /// gives the diff IDs the manifest gives. A document an update package
    /// leaves out (its base holds it) is not there to check.
    fn check_image_manifests(&self) -> Result<(), PackageError> {
        for image in &self.manifest.images {
            let name = layout::blob_entry(layout::hex_of(&image.manifest.digest));
            if self.listed(&name).is_none() {
                continue;
            }
            let document: ImageManifest =
                self.json(&name, &self.read_small(&name, MAX_DOCUMENT)?)?;
            let known_types = document.layers.iter().all(|l| {
                LAYER_TYPES.contains(&l.media_type.as_str()) || l.media_type == GZIP_LAYER
            });
            if document.schema_version != 2
                || document.media_type.is_some_and(|t| t != MANIFEST_TYPE)
                || !CONFIG_TYPES.contains(&document.config.media_type.as_str())
                || !known_types
            {
                return Err(self.mismatch(&name, EntryProblem::NotImageManifest));
            }
            let same_layers = document.layers.len() == image.layers.len()
                && document.layers.iter().zip(&image.layers).all(|(d, b)| {
                    let compressed = d.media_type == GZIP_LAYER;
                    d.is(b) && compressed == b.media_type.is_some()
                });
            if !document.config.is(&image.config) || !same_layers {
                return Err(self.mismatch(&name, EntryProblem::LayersDiffer));
            }
            let config = layout::blob_entry(layout::hex_of(&image.config.digest));
            if self.listed(&config).is_some() {
                let parsed = ImageConfig::parse(&self.read_small(&config, MAX_DOCUMENT)?)
                    .map_err(|e| self.mismatch(&config, EntryProblem::NotJson(e)))?;
                if parsed.rootfs.diff_ids != image.layer_diff_ids() {
                    return Err(self.mismatch(&config, EntryProblem::DiffIdsDiffer));
                }
            }
        }
        Ok(())
    }

    /// Fails for the first image of the manifest that `left` says was not
    /// found in the document `name`.
    fn none_left(
        &self,
        name: &str,
        left: impl Fn(&PackagedImage) -> bool,
    ) -> Result<(), PackageError> {
        match self.manifest.images.iter().find(|image| left(image)) {
            Some(image) => Err(self.mismatch(name, EntryProblem::ImageMissing(image_name(image)))),
            None => Ok(()),
        }
    }
}

/// A `sha256sum` line in text mode (`<hex>  <name>`) or binary mode
/// (`<hex> *<name>`); `None` for anything else, escaped names included.
fn sum_line(line: &str) -> Option<(&str, &str)> {
    let (sha256, rest) = line.split_at_checked(64)?;
    if !sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let entry = rest
        .strip_prefix("  ")
        .or_else(|| rest.strip_prefix(" *"))?;
    (!entry.is_empty()).then_some((sha256, entry))
}

/// References as Docker shows them, in no order.
fn familiar_set<'a>(references: impl IntoIterator<Item = &'a String>) -> Vec<String> {
    let mut set: Vec<String> = references.into_iter().map(|r| familiar(r)).collect();
    set.sort_unstable();
    set
}

/// How an image is named in messages: its first reference, or its ID.
fn image_name(image: &PackagedImage) -> String {
    image.references.first().unwrap_or(&image.id).clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sum_lines_are_those_sha256sum_reads_as_ours() {
        let hex = "ab".repeat(32);
        assert_eq!(
            sum_line(&format!("{hex}  a/b")),
            Some((hex.as_str(), "a/b"))
        );
        assert_eq!(sum_line(&format!("{hex} *a")), Some((hex.as_str(), "a")));
        for bad in [
            format!("{hex} a"),
            format!("{hex}  "),
            format!("\\{hex}  a"),
            format!("SHA256 (a) = {hex}"),
            format!("{}  a", "g".repeat(64)),
            String::new(),
        ] {
            assert_eq!(sum_line(&bad), None, "{bad}");
        }
    }
}
