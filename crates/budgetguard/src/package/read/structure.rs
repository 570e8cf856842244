//! The checks made when a package is opened, after its ZIP structure: the
//! manifest parses, holds no control characters, agrees with itself and
//! lists exactly the ZIP's entries, with their sizes.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::Value;

use super::Package;
use crate::digest::Digest;
use crate::package::error::{BaseProblem, CacheProblem, EntryProblem, ImageProblem, Structure};
use crate::package::layout;
use crate::package::manifest::{
    Blob, Manifest, PackageBase, PackagedImage, FORMAT, FORMAT_VERSION, GZIP_LAYER, MAX_IMAGES,
    MAX_ITEMS, MAX_NODES,
};
use crate::package::quote::has_unsafe;
use crate::package::zip::{cache_path_problem, is_cache_link, CachePathProblem};
use crate::package::PackageError;
use crate::reference::{familiar, is_sha256_digest};
use crate::signing::SIGNATURE_ENTRY;

/// The folder of the Compose files, one folder per node.
const COMPOSE_DIR: &str = "compose/";

/// Parses the manifest of the package at `path`: JSON of this format, of a
/// version this tool reads (checked before the fields, which a newer version
/// may change), with no more nodes, images, caches (each one a node's) and
/// items than a package may hold, no control character in any text, and sizes whose sums fit.
pub(super) fn parse_manifest(path: &Path, bytes: &[u8]) -> Result<Manifest, PackageError> {
    let not_a_package = |problem| PackageError::NotAPackage {
        path: path.to_owned(),
        problem,
    };
    let value: Value =
        serde_json::from_slice(bytes).map_err(|e| not_a_package(Structure::ManifestNotJson(e)))?;
    if value.get("format").and_then(Value::as_str) != Some(FORMAT) {
        return Err(not_a_package(Structure::OtherFormat));
    }
    let version = value
        .get("format_version")
        .and_then(Value::as_u64)
        .ok_or_else(|| not_a_package(Structure::NoVersion))?;
    if version > u64::from(FORMAT_VERSION) {
        return Err(PackageError::UnsupportedVersion {
            path: path.to_owned(),
            version: version.min(u64::from(u32::MAX)) as u32,
            supported: FORMAT_VERSION,
        });
    }
    let listed = |field| {
        value
            .get(field)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let counts = [
        ("nodes", listed("nodes"), MAX_NODES),
        ("images", listed("images"), MAX_IMAGES),
        ("model caches", listed("caches"), MAX_NODES),
        ("items", items(&value), MAX_ITEMS),
    ];
    if let Some((what, count, max)) = counts.into_iter().find(|(_, count, max)| count > max) {
        return Err(not_a_package(Structure::TooMany { what, count, max }));
    }
    if let Some(text) = control_text(&value) {
        return Err(not_a_package(Structure::ManifestControl(text.to_owned())));
    }
    let manifest: Manifest =
        serde_json::from_value(value).map_err(|e| not_a_package(Structure::ManifestInvalid(e)))?;
    if !manifest.sizes_fit() {
        return Err(not_a_package(Structure::SizeOverflow));
    }
    Ok(manifest)
}

/// The items of every list in `value`, at any depth.
fn items(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len() + items.iter().map(self::items).sum::<usize>(),
        Value::Object(map) => map.values().map(items).sum(),
        _ => 0,
    }
}

/// The first text (key or string) of `value` holding a control or
/// direction-changing character: the manifest's texts reach terminals and
/// the GUI as they are.
fn control_text(value: &Value) -> Option<&str> {
    let unsafe_text = has_unsafe;
    match value {
        Value::String(text) => unsafe_text(text).then_some(text.as_str()),
        Value::Array(items) => items.iter().find_map(control_text),
        Value::Object(map) => map.iter().find_map(|(key, item)| {
            if unsafe_text(key) {
                Some(key.as_str())
            } else {
                control_text(item)
            }
        }),
        _ => None,
    }
}

impl Package {
    /// Every ZIP entry but the manifest is listed with its size, and every
    /// listed entry is in the ZIP.
    pub(super) fn check_entries(&self) -> Result<(), PackageError> {
        for entry in self.zip.entries() {
            // The signature covers the manifest, so the manifest cannot list it.
            if entry.name == layout::MANIFEST || entry.name == SIGNATURE_ENTRY {
                continue;
            }
            let listed = self
                .listed(&entry.name)
                .ok_or_else(|| self.mismatch(&entry.name, EntryProblem::NotListed))?;
            if listed.size != entry.size {
                return Err(self.mismatch(
                    &entry.name,
                    EntryProblem::SizeDiffers {
                        size: entry.size,
                        listed: listed.size,
                    },
                ));
            }
        }
        for listed in &self.manifest.entries {
            if listed.name == layout::MANIFEST {
                return Err(self.mismatch(&listed.name, EntryProblem::ListsManifest));
            }
            if listed.name == SIGNATURE_ENTRY {
                return Err(self.mismatch(&listed.name, EntryProblem::ListsSignature));
            }
            if self.zip.entry(&listed.name).is_none() {
                return Err(self.mismatch(&listed.name, EntryProblem::Missing));
            }
        }
        Ok(())
    }

    /// The manifest agrees with itself: nodes are valid catalog nodes with
    /// their Compose files where the layout puts them and no other Compose
    /// file, blob entries hold the digest their name says, images and their
    /// references appear once, and every blob of every image is listed with
    /// its size.
    pub(super) fn check_contents(&self) -> Result<(), PackageError> {
        let not_a_package = |problem| PackageError::NotAPackage {
            path: self.path.clone(),
            problem,
        };
        let nodes = crate::catalog::Catalog {
            nodes: self.manifest.nodes.iter().map(|n| n.node.clone()).collect(),
        };
        nodes
            .validate()
            .map_err(|e| not_a_package(Structure::Node(e)))?;
        let mut compose_files = HashSet::new();
        for packaged in &self.manifest.nodes {
            let expected = layout::compose_entry(&packaged.node.service_name());
            if packaged.compose_file != expected || self.listed(&expected).is_none() {
                return Err(self.mismatch(&packaged.compose_file, EntryProblem::NotComposeOfNode));
            }
            compose_files.insert(packaged.compose_file.as_str());
        }
        let used = self.check_caches()?;
        for entry in &self.manifest.entries {
            let blob = entry
                .name
                .strip_prefix(layout::BLOBS_DIR)
                .or_else(|| entry.name.strip_prefix(layout::MODEL_BLOBS_DIR));
            if let Some(hex) = blob {
                if entry.sha256 != hex {
                    return Err(self.mismatch(&entry.name, EntryProblem::DigestNotName));
                }
            }
            if entry.name.starts_with(layout::MODEL_BLOBS_DIR)
                && !used.contains(entry.sha256.as_str())
            {
                return Err(self.mismatch(&entry.name, EntryProblem::ModelUnused));
            }
            if entry.name.starts_with(COMPOSE_DIR) && !compose_files.contains(entry.name.as_str()) {
                return Err(self.mismatch(&entry.name, EntryProblem::ComposeOfNoNode));
            }
        }
        let mut ids = HashSet::new();
        // Each reference (as Docker shows it) to the image that has it; one
        // image may have it in two spellings.
        let mut owners = HashMap::new();
        let base_blobs = self.left_out(|base| &base.blobs);
        for image in &self.manifest.images {
            if !ids.insert(image.id.as_str()) {
                return Err(not_a_package(Structure::ImageTwice(image.id.clone())));
            }
            if image.references.is_empty() {
                return Err(not_a_package(Structure::ImageOfNoNode(image.id.clone())));
            }
            for reference in &image.references {
                let owner = owners.insert(familiar(reference), image.id.as_str());
                if owner.is_some_and(|owner| owner != image.id) {
                    return Err(not_a_package(Structure::ReferenceTwice(reference.clone())));
                }
            }
            self.check_layers(image)?;
            let blobs = [&image.manifest, &image.config]
                .into_iter()
                .chain(&image.layers);
            for blob in blobs {
                let name = layout::blob_entry(layout::hex_of(&blob.digest));
                let carried = self.listed(&name).map(|e| e.size) == Some(blob.size);
                if !carried && !base_blobs.contains(&(blob.digest.as_str(), blob.size)) {
                    return Err(self.mismatch(&name, EntryProblem::BlobMissing));
                }
            }
        }
        self.check_base()?;
        // A load tags only the nodes' own images.
        let run: HashSet<String> = self
            .manifest
            .nodes
            .iter()
            .map(|n| familiar(&n.node.image))
            .collect();
        if let Some(reference) = owners.keys().find(|r| !run.contains(*r)) {
            return Err(not_a_package(Structure::ReferenceOfNoNode(
                reference.clone(),
            )));
        }
        if let Some(node) = self
            .manifest
            .nodes
            .iter()
            .find(|n| !owners.contains_key(&familiar(&n.node.image)))
        {
            return Err(not_a_package(Structure::NodeImageMissing(
                node.node.name.clone(),
            )));
        }
        for image in &self.manifest.images {
            self.check_digests(image)?;
        }
        Ok(())
    }

    /// The model caches are safe and complete, and each node's cache is
    /// its own; returns the SHA-256 of every model file the caches use.
    fn check_caches(&self) -> Result<HashSet<&str>, PackageError> {
        let not_a_package = |problem| PackageError::NotAPackage {
            path: self.path.clone(),
            problem,
        };
        let invalid = |cache: &str, problem| {
            not_a_package(Structure::Cache {
                cache: cache.to_owned(),
                problem,
            })
        };
        let mut names = HashSet::new();
        let base_files = self.left_out(|base| &base.model_files);
        let mut used = HashSet::new();
        for cache in &self.manifest.caches {
            let name = cache.name.as_str();
            let valid = !name.is_empty()
                && name.len() <= 64
                && !name.starts_with('-')
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
            if !valid {
                return Err(invalid(name, CacheProblem::BadName));
            }
            if !names.insert(name) {
                return Err(invalid(name, CacheProblem::Twice));
            }
            let mut paths = HashSet::new();
            let all_paths = cache
                .files
                .iter()
                .map(|f| &f.path)
                .chain(cache.links.iter().map(|l| &l.path))
                .chain(&cache.dirs);
            for path in all_paths {
                match cache_path_problem(path) {
                    Some(CachePathProblem::Name) => {
                        return Err(invalid(name, CacheProblem::PathLeaves(path.clone())))
                    }
                    Some(CachePathProblem::TooDeep) => {
                        return Err(invalid(name, CacheProblem::PathTooDeep(path.clone())))
                    }
                    None => {}
                }
                if !paths.insert(path.as_str()) {
                    return Err(invalid(name, CacheProblem::PathTwice(path.clone())));
                }
                if path
                    .rsplit('/')
                    .next()
                    .is_some_and(crate::models::is_partial)
                {
                    return Err(invalid(name, CacheProblem::WorkingName(path.clone())));
                }
            }
            for link in &cache.links {
                if !is_cache_link(&link.path, &link.target) {
                    return Err(invalid(name, CacheProblem::LinkOutside(link.path.clone())));
                }
            }
            for file in &cache.files {
                if file.mode > 0o777 {
                    return Err(invalid(name, CacheProblem::BadMode(file.path.clone())));
                }
                let entry = layout::model_blob_entry(&file.sha256);
                let carried = self.listed(&entry).map(|e| e.size) == Some(file.size);
                let digest = format!("sha256:{}", file.sha256);
                let left_out = base_files.contains(&(digest.as_str(), file.size));
                if !carried && !left_out {
                    return Err(invalid(name, CacheProblem::FileMissing(file.path.clone())));
                }
                used.insert(file.sha256.as_str());
            }
        }
        for packaged in &self.manifest.nodes {
            if let Some(cache) = &packaged.model_cache {
                let own = packaged
                    .node
                    .model
                    .as_ref()
                    .is_some_and(|m| &m.cache == cache);
                if !own || !names.contains(cache.as_str()) {
                    return Err(not_a_package(Structure::NodeCacheMissing(
                        packaged.node.name.clone(),
                    )));
                }
            }
        }
        Ok(used)
    }

    /// The blobs of the list `of` picks in the base, which the package may
    /// leave out, by digest and size (none without a base).
    fn left_out(&self, of: impl Fn(&PackageBase) -> &Vec<Blob>) -> HashSet<(&str, u64)> {
        self.manifest
            .base
            .iter()
            .flat_map(of)
            .map(|b| (b.digest.as_str(), b.size))
            .collect()
    }

    /// An image's layers are of kinds this tool loads, gzip-compressed
    /// (format 3) or uncompressed, and its diff IDs, when listed, fit them.
    fn check_layers(&self, image: &PackagedImage) -> Result<(), PackageError> {
        let name = || image.references.first().unwrap_or(&image.id).clone();
        let invalid = |problem| {
            Err(PackageError::NotAPackage {
                path: self.path.clone(),
                problem: Structure::Image {
                    image: name(),
                    problem,
                },
            })
        };
        let documents = [&image.manifest, &image.config];
        if let Some(blob) = documents.iter().find(|b| b.media_type.is_some()) {
            return invalid(ImageProblem::LayerType(
                blob.media_type.clone().unwrap_or_default(),
            ));
        }
        for layer in &image.layers {
            match layer.media_type.as_deref() {
                None | Some(GZIP_LAYER) => {}
                Some(other) => return invalid(ImageProblem::LayerType(other.to_owned())),
            }
        }
        if image.diff_ids.is_empty() {
            return Ok(());
        }
        let fits = image.diff_ids.len() == image.layers.len()
            && image
                .diff_ids
                .iter()
                .zip(&image.layers)
                .all(|(diff_id, layer)| {
                    is_sha256_digest(diff_id)
                        && (layer.media_type.is_some() || &layer.digest == diff_id)
                });
        if fits {
            Ok(())
        } else {
            invalid(ImageProblem::DiffIds)
        }
    }

    /// An image's ID and its blobs' digests are digests, as an install
    /// records them.
    fn check_digests(&self, image: &PackagedImage) -> Result<(), PackageError> {
        let digests = [&image.manifest, &image.config]
            .into_iter()
            .chain(&image.layers)
            .map(|blob| blob.digest.as_str());
        match std::iter::once(image.id.as_str())
            .chain(digests)
            .try_for_each(|digest| digest.parse::<Digest>().map(drop))
        {
            Ok(()) => Ok(()),
            Err(wrong) => Err(PackageError::NotAPackage {
                path: self.path.clone(),
                problem: Structure::Image {
                    image: image.references.first().unwrap_or(&image.id).clone(),
                    problem: ImageProblem::NotADigest(wrong),
                },
            }),
        }
    }

    /// An update package's base: its id is a package id, and what it leaves
    /// out is a blob of its images, or a file of its caches, that it does
    /// not carry.
    fn check_base(&self) -> Result<(), PackageError> {
        let Some(base) = &self.manifest.base else {
            return Ok(());
        };
        let invalid = |problem| {
            Err(PackageError::NotAPackage {
                path: self.path.clone(),
                problem: Structure::Base(problem),
            })
        };
        let hex = base.package_id.as_str();
        if !is_sha256_digest(&format!("sha256:{hex}")) {
            return invalid(BaseProblem::BadId);
        }
        let images: Vec<&Blob> = self
            .manifest
            .images
            .iter()
            .flat_map(|i| [&i.manifest, &i.config].into_iter().chain(&i.layers))
            .collect();
        let files: Vec<Blob> = self
            .manifest
            .caches
            .iter()
            .flat_map(|c| &c.files)
            .map(|f| Blob::plain(format!("sha256:{}", f.sha256), f.size))
            .collect();
        let lists = [
            (&base.blobs, layout::BLOBS_DIR, images),
            (
                &base.model_files,
                layout::MODEL_BLOBS_DIR,
                files.iter().collect(),
            ),
        ];
        for (left_out, folder, used) in lists {
            let used: HashSet<(&str, u64)> =
                used.iter().map(|b| (b.digest.as_str(), b.size)).collect();
            for blob in left_out {
                if !is_sha256_digest(&blob.digest)
                    || !used.contains(&(blob.digest.as_str(), blob.size))
                {
                    return invalid(BaseProblem::Unused(blob.digest.clone()));
                }
                let entry = format!("{folder}{}", layout::hex_of(&blob.digest));
                if self.listed(&entry).is_some() {
                    return invalid(BaseProblem::Carried(blob.digest.clone()));
                }
            }
        }
        Ok(())
    }
}
