//! Update packages: what a new package can leave out because an older one,
//! its base, holds it, on a workstation that installed the base.
//!
//! A config, an image manifest or a model file is left out when the base
//! holds the same digest. A layer is left out only where the base has it
//! at the same place, under the same layers (the same chain of diff IDs)
//! and as the same blob: the classic image store keeps layers by chain, so
//! a layer the base has under other layers would still have to be sent,
//! and the containerd store keeps blobs by their exact digest.
//!
//! The engine's export names its blobs only as it streams them, and two
//! stores export one layer as different blobs (the classic store
//! uncompressed, the containerd store as it keeps it, often compressed). So
//! a layer of the export is left out where the base has its chain, wherever
//! the new images use its diff ID, and the update then names the base's
//! blob for it: a workstation that installed the base holds that very blob
//! (containerd store) and that chain (classic store), whichever store made
//! either package.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::layout;
use super::manifest::{Blob, Manifest};
use super::read::Package;
use super::writer::BaseHolds;
use super::PackageError;

/// The base package of an update package.
#[derive(Debug)]
pub(crate) struct Base {
    package_id: String,
    file_name: Option<String>,
    manifest: Manifest,
}

/// The layers of one image of the new package.
#[derive(Debug, Clone)]
pub(crate) struct ImageLayers {
    /// Each layer's blob digest, bottom first; `None` when the source names
    /// its blobs only as it streams them (the engine's export).
    pub blobs: Option<Vec<String>>,
    /// Each layer's diff ID, bottom first.
    pub diff_ids: Vec<String>,
}

impl ImageLayers {
    /// The layers of an image the engine exports, whose blobs are known
    /// once they stream (`diff_ids`, bottom first).
    pub(crate) fn exported(diff_ids: &[crate::digest::Digest]) -> Self {
        Self {
            blobs: None,
            diff_ids: diff_ids.iter().map(ToString::to_string).collect(),
        }
    }
}

impl Base {
    /// Opens the base package at `path`, checking its structure as every
    /// reader does.
    pub(crate) fn open(path: &Path) -> Result<Self, PackageError> {
        let package = Package::open(path).map_err(|e| PackageError::Base(Box::new(e)))?;
        Ok(Self {
            package_id: package.id().to_owned(),
            file_name: path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned()),
            manifest: package.manifest().clone(),
        })
    }

    /// The base's manifest.
    pub(crate) fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// What a package of `images` (and of any model files) leaves out.
    pub(crate) fn holds(&self, images: &[ImageLayers]) -> BaseHolds {
        let mut entries: HashSet<String> = HashSet::new();
        // Each chain the base has, with the blob at its top.
        let mut chains: HashMap<String, &Blob> = HashMap::new();
        for image in &self.manifest.images {
            for blob in [&image.manifest, &image.config] {
                entries.insert(layout::blob_entry(layout::hex_of(&blob.digest)));
            }
            for (chain, layer) in chain_ids(&image.layer_diff_ids())
                .into_iter()
                .zip(&image.layers)
            {
                chains.insert(chain, layer);
            }
        }
        for file in self.manifest.caches.iter().flat_map(|c| &c.files) {
            entries.insert(layout::model_blob_entry(&file.sha256));
        }
        let mut held = HashSet::new();
        let mut needed = HashSet::new();
        // Exported layers: the base's blob at each place, by chain, with
        // the diff ID; and the diff IDs used somewhere the base lacks.
        let mut places: HashMap<String, (&str, &Blob)> = HashMap::new();
        let mut unheld: HashSet<&str> = HashSet::new();
        for image in images {
            let diff_ids: Vec<&str> = image.diff_ids.iter().map(String::as_str).collect();
            let image_chains = chain_ids(&diff_ids).into_iter().zip(&diff_ids);
            match &image.blobs {
                Some(blobs) => {
                    for ((chain, _), blob) in image_chains.zip(blobs) {
                        if chains.get(&chain).map(|b| b.digest.as_str()) == Some(blob.as_str()) {
                            held.insert(blob.as_str());
                        } else {
                            needed.insert(blob.as_str());
                        }
                    }
                }
                None => {
                    for (chain, diff_id) in image_chains {
                        match chains.get(&chain) {
                            Some(blob) => {
                                places.insert(chain, (diff_id, blob));
                            }
                            None => {
                                unheld.insert(diff_id);
                            }
                        }
                    }
                }
            }
        }
        for blob in held.difference(&needed) {
            entries.insert(layout::blob_entry(layout::hex_of(blob)));
        }
        places.retain(|_, (diff_id, _)| !unheld.contains(diff_id));
        let mut layers = HashMap::new();
        let mut diff_ids = HashSet::new();
        for (chain, (diff_id, blob)) in places {
            entries.insert(layout::blob_entry(layout::hex_of(&blob.digest)));
            diff_ids.insert(diff_id.to_owned());
            layers.insert(chain, blob.clone());
        }
        BaseHolds {
            package_id: self.package_id.clone(),
            file_name: self.file_name.clone(),
            entries,
            layers,
            diff_ids,
        }
    }
}

/// The chain ID of each layer of an image (OCI: the first layer's diff ID,
/// then the SHA-256 of the chain below, a space and the layer's diff ID):
/// the same chain ID means the same layers from the bottom up.
pub(crate) fn chain_ids(diff_ids: &[&str]) -> Vec<String> {
    let mut chains: Vec<String> = Vec::with_capacity(diff_ids.len());
    for diff_id in diff_ids {
        let chain = match chains.last() {
            None => (*diff_id).to_owned(),
            Some(below) => format!(
                "sha256:{}",
                hex::encode(Sha256::digest(format!("{below} {diff_id}")))
            ),
        };
        chains.push(chain);
    }
    chains
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::package::manifest::{PackagedImage, FORMAT};
    use crate::package::zip::Compression;

    fn image(layers: &[(&str, &str)]) -> PackagedImage {
        PackagedImage {
            references: vec!["a:1".into()],
            id: "sha256:config".into(),
            repo_digests: Vec::new(),
            manifest: Blob::plain("sha256:manifest".into(), 1),
            config: Blob::plain("sha256:config".into(), 1),
            layers: layers
                .iter()
                .map(|(blob, _)| Blob::plain((*blob).to_owned(), 10))
                .collect(),
            diff_ids: layers.iter().map(|(_, d)| (*d).to_owned()).collect(),
        }
    }

    fn base(images: Vec<PackagedImage>) -> Base {
        Base {
            package_id: "ab".repeat(32),
            file_name: Some("old.zip".into()),
            manifest: Manifest {
                format: FORMAT.into(),
                format_version: 3,
                tool_version: "0".into(),
                created: String::new(),
                source_engine: String::new(),
                compression: Compression::None,
                start_after_install: false,
                nodes: Vec::new(),
                images,
                caches: Vec::new(),
                base: None,
                entries: Vec::new(),
            },
        }
    }

    fn layers(pairs: &[(&str, &str)]) -> ImageLayers {
        ImageLayers {
            blobs: Some(pairs.iter().map(|(b, _)| (*b).to_owned()).collect()),
            diff_ids: pairs.iter().map(|(_, d)| (*d).to_owned()).collect(),
        }
    }

    #[test]
    fn layers_are_left_out_only_on_the_chain_the_base_has_them_on() {
        let old = base(vec![image(&[("gzA", "A"), ("gzB", "B")])]);
        // One new layer on top: A and B are left out, C is not.
        let holds = old.holds(&[layers(&[("gzA", "A"), ("gzB", "B"), ("gzC", "C")])]);
        let entry = |hex: &str| layout::blob_entry(hex);
        assert!(holds.entries.contains(&entry("gzA")));
        assert!(holds.entries.contains(&entry("gzB")));
        assert!(!holds.entries.contains(&entry("gzC")));
        assert!(holds.entries.contains(&entry("config")));
        // B on another base layer: it must be sent (a classic store would
        // have no chain A', B).
        let holds = old.holds(&[layers(&[("gzA2", "A2"), ("gzB", "B")])]);
        assert!(!holds.entries.contains(&entry("gzB")));
        // The same diff ID as another blob (recompressed): sent.
        let holds = old.holds(&[layers(&[("gzA-other", "A")])]);
        assert!(!holds.entries.contains(&entry("gzA-other")));
        // Used twice, once where the base has it and once where not: sent.
        let holds = old.holds(&[
            layers(&[("gzA", "A")]),
            layers(&[("gzX", "X"), ("gzA", "A")]),
        ]);
        assert!(!holds.entries.contains(&entry("gzA")));
    }

    #[test]
    fn exported_layers_are_named_by_the_base_blob_where_the_base_has_their_chain() {
        // A base made on the containerd store (gzip blobs), and on the
        // classic store (uncompressed, named by their diff IDs).
        let gzip = base(vec![image(&[("gzA", "A"), ("gzB", "B")])]);
        let plain = base(vec![image(&[("A", "A"), ("B", "B")])]);
        let exported = |diff_ids: &[&str]| ImageLayers {
            blobs: None,
            diff_ids: diff_ids.iter().map(|d| (*d).to_owned()).collect(),
        };
        for (old, a, b) in [(&gzip, "gzA", "gzB"), (&plain, "A", "B")] {
            let holds = old.holds(&[exported(&["A", "B", "C"])]);
            let chains = chain_ids(&["A", "B", "C"]);
            assert_eq!(holds.layers[&chains[0]].digest, a);
            assert_eq!(holds.layers[&chains[1]].digest, b);
            assert!(!holds.layers.contains_key(&chains[2]));
            assert_eq!(holds.diff_ids, HashSet::from(["A".into(), "B".into()]));
            for blob in [a, b] {
                assert!(holds.entries.contains(&layout::blob_entry(blob)));
            }
            assert!(holds.entries.contains(&layout::blob_entry("config")));
            // B on another layer: not held there, so not held anywhere (an
            // export streams one blob for it); A still is.
            let holds = old.holds(&[exported(&["A", "B"]), exported(&["X", "B"])]);
            assert_eq!(holds.diff_ids, HashSet::from(["A".into()]));
            assert_eq!(holds.layers.len(), 1);
            assert!(!holds.entries.contains(&layout::blob_entry(b)));
        }
    }

    #[test]
    fn chain_ids_follow_the_oci_rule() {
        let chains = chain_ids(&["sha256:a", "sha256:b"]);
        assert_eq!(chains[0], "sha256:a");
        assert_eq!(
            chains[1],
            format!(
                "sha256:{}",
                hex::encode(Sha256::digest("sha256:a sha256:b"))
            )
        );
    }
}
