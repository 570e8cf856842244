//! The state files of an install folder, each replaced atomically and only
//! while the folder's lock is held: `endpoints.json`, the installed nodes
//! for artists' tools, and `images.json`, the images this tool loaded (and
//! those of the user's whose exact blobs a package told it).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::dir::{read_own, remove_any, write_atomic};
use super::{InstallDir, InstallError};
use crate::catalog::{is_cache_name, Node};
use crate::compose;
use crate::digest::{Digest, ImageId};

/// What `endpoints.json` holds: the installed nodes, for artists' tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The installed nodes, by name.
    pub nodes: Vec<InstalledNode>,
}

impl Endpoints {
    /// Refuses a node whose model cache name is no cache name (a path,
    /// say): the tool never wrote it, and must not work on that path.
    pub(crate) fn check_caches(&self) -> Result<(), String> {
        let models = self.nodes.iter().filter_map(|n| n.node.model.as_ref());
        match models.map(|m| &m.cache).find(|c| !is_cache_name(c)) {
            Some(cache) => Err(format!("`{cache}` is not a model cache name")),
            None => Ok(()),
        }
    }
}

/// One installed node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledNode {
    /// The node's name.
    pub name: String,
    /// The inference URL, e.g. `http://localhost:8001/v1/infer`.
    pub infer_url: String,
    /// The readiness URL.
    pub health_url: String,
    /// The address its port is published on (`127.0.0.1` unless chosen).
    #[serde(default = "every_address")]
    pub listen: String,
    /// The image it runs.
    pub image: String,
    /// Its Compose file.
    pub compose_file: PathBuf,
    /// Its Compose project.
    pub compose_project: String,
    /// Its container.
    pub container: String,
    /// When it was installed or last changed (RFC 3339, UTC).
    #[serde(default)]
    pub installed_at: String,
    /// Whether its models came in its package: it starts offline, from the
    /// shared cache `models/<cache>`.
    #[serde(default)]
    pub offline: bool,
    /// The node's settings, as installed.
    pub node: Node,
}

/// Nodes installed before addresses were recorded listened on every address;
/// their Compose files are rewritten on the next install.
fn every_address() -> String {
    "0.0.0.0".to_owned()
}

impl InstalledNode {
    /// The entry for `node` installed in `dir`.
    pub fn new(dir: &InstallDir, node: &Node) -> Self {
        let base = node.base_url();
        Self {
            name: node.name.clone(),
            infer_url: format!("{base}{}", node.infer_path),
            health_url: format!("{base}{}", node.health_path),
            listen: node.listen_address().to_string(),
            image: node.image.clone(),
            compose_file: dir.compose_file(node),
            compose_project: compose::project_name(node),
            container: compose::container_name(node),
            offline: false,
            installed_at: super::journal::now(),
            node: node.clone(),
        }
    }
}

/// What `images.json` holds: the images this tool put into an engine, so
/// that an uninstall removes only those, and gives back tags they took.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImages {
    /// The images, oldest first.
    pub images: Vec<LoadedImage>,
    /// Images of a package that the engine had before this tool came: never
    /// removed by it, but the tags it put on them are, and on the
    /// containerd store their exact blobs are known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<HeldImage>,
}

/// An image of a package that the engine had already (the user loaded it).
/// The package's references this tool put on it are taken off again when
/// no installed node uses it. On the containerd store its ID is the
/// package's manifest digest, so the engine holds exactly the blobs that
/// manifest names, and a later load leaves them out (that store cannot be
/// asked which blobs it holds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldImage {
    /// The engine it is in (its address).
    pub engine: String,
    /// Its ID there (a manifest digest on the containerd store).
    pub id: ImageId,
    /// Its blobs, by digest: manifest, config, layers (containerd store only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<Digest>,
    /// The package's references this tool tagged it with (each named no
    /// image, or another one, before).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tagged: Vec<String>,
    /// Tagged references that named another image before: that image's ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replaced: BTreeMap<String, ImageId>,
}

/// An image this tool loaded or pulled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoadedImage {
    /// The engine it is in (its address).
    pub engine: String,
    /// Its ID there: the config digest on the classic store, the manifest
    /// digest on the containerd store.
    pub id: ImageId,
    /// The exact blobs the engine received for it from a package, by digest.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub blobs: Vec<Digest>,
    /// The references this tool tagged it with.
    pub references: Vec<String>,
    /// References that named another image before: that image's ID.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub replaced: BTreeMap<String, ImageId>,
}

impl LoadedImages {
    /// Records `image`, merging it with an earlier record of the same one.
    pub(crate) fn record(&mut self, image: LoadedImage) {
        match self
            .images
            .iter_mut()
            .find(|i| i.engine == image.engine && i.id == image.id)
        {
            Some(known) => {
                merge_tags(
                    (&mut known.references, &mut known.replaced),
                    (image.references, image.replaced),
                );
                if known.blobs.is_empty() {
                    known.blobs = image.blobs;
                }
            }
            None => self.images.push(image),
        }
    }

    /// Records `image`, merging it with an earlier record of the same one.
    pub(crate) fn hold(&mut self, image: HeldImage) {
        match self
            .held
            .iter_mut()
            .find(|i| i.engine == image.engine && i.id == image.id)
        {
            Some(known) => merge_tags(
                (&mut known.tagged, &mut known.replaced),
                (image.tagged, image.replaced),
            ),
            None => self.held.push(image),
        }
    }

    /// The images of `engine` whose exact blobs are known, with those blobs:
    /// the ones this tool loaded from a package and the held ones.
    pub(crate) fn known_blobs<'a>(
        &'a self,
        engine: &'a str,
    ) -> impl Iterator<Item = (&'a ImageId, &'a [Digest])> + 'a {
        let loaded = self.images.iter().map(|i| (&i.engine, &i.id, &i.blobs));
        let held = self.held.iter().map(|i| (&i.engine, &i.id, &i.blobs));
        loaded
            .chain(held)
            .filter(move |(e, _, _)| *e == engine)
            .map(|(_, id, blobs)| (id, blobs.as_slice()))
    }
}

/// Adds a later record's tags and the images they replaced to an earlier
/// record's; what the earlier one says a tag replaced stays (the user's
/// image, not one this tool loaded since).
fn merge_tags(
    (tags, replaced): (&mut Vec<String>, &mut BTreeMap<String, ImageId>),
    (more_tags, more_replaced): (Vec<String>, BTreeMap<String, ImageId>),
) {
    for reference in more_tags {
        if !tags.contains(&reference) {
            tags.push(reference);
        }
    }
    for (reference, previous) in more_replaced {
        replaced.entry(reference).or_insert(previous);
    }
}

impl InstallDir {
    /// The installed nodes (none when the file does not exist yet).
    pub fn endpoints(&self) -> Result<Endpoints, InstallError> {
        let path = self.endpoints_file();
        let endpoints: Endpoints = read_state(&path)?;
        endpoints
            .check_caches()
            .map_err(|detail| InstallError::StateFile { path, detail })?;
        Ok(endpoints)
    }

    /// Writes `endpoints.json` atomically (no nodes: no file).
    pub(crate) fn write_endpoints(&self, endpoints: &Endpoints) -> Result<(), InstallError> {
        match endpoints.nodes.is_empty() {
            true => remove_any(&self.endpoints_file()),
            false => write_state(&self.endpoints_file(), endpoints),
        }
    }

    /// The images this tool loaded (none when the file does not exist yet).
    pub(crate) fn loaded_images(&self) -> Result<LoadedImages, InstallError> {
        read_state(&self.images_file())
    }

    /// Writes `images.json` atomically (no images: no file).
    pub(crate) fn write_loaded_images(&self, images: &LoadedImages) -> Result<(), InstallError> {
        match images.images.is_empty() && images.held.is_empty() {
            true => remove_any(&self.images_file()),
            false => write_state(&self.images_file(), images),
        }
    }

    /// The installed node called `name` (case-insensitive).
    pub fn installed(&self, name: &str) -> Result<InstalledNode, InstallError> {
        let endpoints = self.endpoints()?;
        let wanted = crate::catalog::slug(name);
        endpoints
            .nodes
            .iter()
            .find(|n| n.node.service_name() == wanted)
            .cloned()
            .ok_or_else(|| InstallError::NotInstalled {
                name: name.to_owned(),
                installed: endpoints.nodes.iter().map(|n| n.name.clone()).collect(),
            })
    }
}

fn read_state<T: DeserializeOwned + Default>(path: &Path) -> Result<T, InstallError> {
    match read_own(path)? {
        Some(bytes) => serde_json::from_slice(&bytes).map_err(|e| InstallError::StateFile {
            path: path.to_owned(),
            detail: e.to_string(),
        }),
        None => Ok(T::default()),
    }
}

fn write_state(path: &Path, value: &impl Serialize) -> Result<(), InstallError> {
    let mut bytes = serde_json::to_vec_pretty(value).expect("state files serialize");
    bytes.push(b'\n');
    write_atomic(path, &bytes)
}
