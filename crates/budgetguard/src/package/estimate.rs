//! The size of a package before it is made, from its [`PackagePlan`]: its
//! images (each once, by ID), the model caches it would carry (each once)
//! and the small entries beside them, with what cannot be known yet (images
//! to pull, models to download). Both faces show it before Create;
//! `create_package` makes the same sum again, exactly, once the images are
//! pulled and the caches filled. Images read from their registries are
//! sized from their manifests ([`PackagePlan::registry_size`]), and what an
//! update package leaves out because its base holds it is decided as
//! `create_package` decides it ([`PackagePlan::registry_size`],
//! [`PackagePlan::engine_left_out`]).

use std::collections::HashSet;
use std::path::Path;

use serde::Serialize;

use super::plan::{CacheFrom, PackagePlan};
use super::since::{Base, ImageLayers};
use super::{layout, PackageError};
use crate::engine::ImageInfo;
use crate::progress::Silent;
use crate::Cancel;

/// Bytes a package holds beside its images and models (manifest, Compose
/// files, scripts): the allowance `create_package` makes for them.
pub const OVERHEAD: u64 = 1 << 20;

/// What the engine has of a node's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "image", rename_all = "snake_case")]
pub enum ImageSize {
    /// The engine has it.
    Present {
        /// Its ID: images of several nodes with one ID are counted once.
        id: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The engine lacks it: Create pulls it, and its size is known then.
    Missing,
    /// The engine could not be asked.
    Unknown,
}

/// Where a model cache's bytes would come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "source", rename_all = "snake_case")]
pub enum CacheSize {
    /// This machine's store holds the profiles already: the bytes of the
    /// cache's folder (all of it, which may hold more profiles than are
    /// packaged, so this may be more than the package carries).
    Held {
        /// The folder's bytes.
        bytes: u64,
    },
    /// A folder given as it is: its bytes.
    Given {
        /// The folder's bytes.
        bytes: u64,
    },
    /// Create downloads (some of) the profiles first: the size is known
    /// once they are downloaded.
    ToDownload,
}

impl CacheSize {
    /// The bytes, when known.
    pub fn bytes(&self) -> Option<u64> {
        match self {
            CacheSize::Held { bytes } | CacheSize::Given { bytes } => Some(*bytes),
            CacheSize::ToDownload => None,
        }
    }
}

/// A model cache as the package would carry it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheEstimate {
    /// Its name.
    pub name: String,
    /// The profiles it would carry: the chosen ones, else the catalog's
    /// defaults; empty: every profile.
    pub profiles: Vec<String>,
    /// Its size, or why it is not known.
    pub size: CacheSize,
}

/// The estimated size of a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SizeEstimate {
    /// The bytes known: images the engine has, caches whose size is known,
    /// and [`OVERHEAD`].
    pub bytes: u64,
    /// The distinct images counted in `bytes`.
    pub images: usize,
    /// Images the engine lacks (references, each once): their bytes are
    /// not in `bytes`.
    pub to_pull: Vec<String>,
    /// Whether the engine could not be asked about an image.
    pub images_unknown: bool,
    /// The model caches the package would carry, each once.
    pub caches: Vec<CacheEstimate>,
}

impl SizeEstimate {
    /// The bytes of the model caches whose size is known.
    pub fn models_bytes(&self) -> u64 {
        self.caches
            .iter()
            .filter_map(|c| c.size.bytes())
            .fold(0, u64::saturating_add)
    }

    /// The caches Create must download first, whose size is not known yet.
    pub fn to_download(&self) -> impl Iterator<Item = &CacheEstimate> {
        self.caches
            .iter()
            .filter(|c| c.size == CacheSize::ToDownload)
    }

    /// Whether every byte is known: nothing to pull or download, and the
    /// engine answered.
    pub fn complete(&self) -> bool {
        self.to_pull.is_empty() && !self.images_unknown && self.to_download().next().is_none()
    }
}

/// What the images of a package come to when they are read from their
/// registries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RegistrySize {
    /// The distinct images.
    pub images: usize,
    /// The bytes the package carries of them: each blob (config, layer)
    /// once, as its registry serves it, but for those the base holds.
    pub bytes: u64,
    /// The bytes of the blobs left out because the base holds them.
    pub left_out: u64,
}

impl PackagePlan<'_> {
    /// The estimate for the package, whose images' sizes the caller asked
    /// the engine for (`(reference, size)`, in any order, repeats
    /// allowed), carrying the model caches as `create_package` would fill
    /// or find them. Reads the sizes of cache folders; runs nothing.
    pub fn estimate(&self, images: &[(String, ImageSize)]) -> SizeEstimate {
        let mut estimate = SizeEstimate {
            bytes: OVERHEAD,
            images: 0,
            to_pull: Vec::new(),
            images_unknown: false,
            caches: Vec::new(),
        };
        let mut ids: Vec<&str> = Vec::new();
        for (reference, size) in images {
            match size {
                ImageSize::Present { id, size } => {
                    if !ids.contains(&id.as_str()) {
                        ids.push(id);
                        estimate.bytes = estimate.bytes.saturating_add(*size);
                    }
                }
                ImageSize::Missing => {
                    if !estimate.to_pull.contains(reference) {
                        estimate.to_pull.push(reference.clone());
                    }
                }
                ImageSize::Unknown => estimate.images_unknown = true,
            }
        }
        estimate.images = ids.len();
        for cache in self.caches() {
            let profiles = cache.profiles();
            let size = match cache.from {
                CacheFrom::Given(dir) => CacheSize::Given {
                    bytes: folder_size(dir),
                },
                CacheFrom::Store(store) => {
                    let held: Vec<String> = store
                        .held_profiles(cache.name)
                        .into_iter()
                        .map(|p| p.id)
                        .collect();
                    // Every profile (no choice, no default): held when the
                    // store records any, as after a fill of all of them.
                    let holds = if profiles.is_empty() {
                        !held.is_empty()
                    } else {
                        profiles.iter().all(|id| held.contains(id))
                    };
                    match store.cache_size(cache.name) {
                        Some(bytes) if holds => CacheSize::Held { bytes },
                        _ => CacheSize::ToDownload,
                    }
                }
                CacheFrom::NoStore => CacheSize::ToDownload,
            };
            if let Some(bytes) = size.bytes() {
                estimate.bytes = estimate.bytes.saturating_add(bytes);
            }
            estimate.caches.push(CacheEstimate {
                name: cache.name.to_owned(),
                profiles,
                size,
            });
        }
        estimate
    }

    /// What the images come to when they are read from their registries,
    /// in an update package of its base when it has one: exactly what
    /// `create_package` writes of them; `None` when the engine exports
    /// them. Reads their manifests and configs (and the base's manifest),
    /// no layer; a base that cannot be used fails before any request.
    pub async fn registry_size(
        &self,
        cancel: &Cancel,
    ) -> Option<Result<RegistrySize, PackageError>> {
        self.registry()?;
        let size = async {
            let resolved = self.resolve(None, &Silent, cancel).await?;
            let bytes = resolved.images.size(resolved.holds.as_ref());
            Ok(RegistrySize {
                images: resolved.images.layers().len(),
                bytes,
                left_out: resolved.images.size(None) - bytes,
            })
        };
        Some(size.await)
    }

    /// The bytes an update package of the engine's `images` (as
    /// [`Engine::image`](crate::engine::Engine::image) describes them)
    /// leaves out because its base holds them, as `create_package` decides
    /// it: the configs, and the layers the base holds at the same place, with
    /// their sizes from the base's manifest (the engine gives none per
    /// layer); `None` when it is no update package. The export still
    /// streams them: `create_package` wants room for all of it.
    pub fn engine_left_out(&self, images: &[ImageInfo]) -> Option<Result<u64, PackageError>> {
        let since = self.options().since.as_deref()?;
        Some(exported_left_out(since, images))
    }
}

/// [`PackagePlan::engine_left_out`] of the base at `since`. A layer left
/// out counts at the base's size of it, which may differ from the size the
/// engine exports it at (uncompressed in a classic-store base, gzip from
/// the containerd store): an estimate.
fn exported_left_out(since: &Path, images: &[ImageInfo]) -> Result<u64, PackageError> {
    let base = Base::open(since)?;
    let layers: Vec<ImageLayers> = images
        .iter()
        .map(|i| ImageLayers::exported(&i.layers))
        .collect();
    let holds = base.holds(&layers);
    let ours: HashSet<&str> = images.iter().map(|i| i.id.digest().as_str()).collect();
    let configs = base
        .manifest()
        .images
        .iter()
        .map(|i| &i.config)
        .filter(|config| {
            ours.contains(config.digest.as_str())
                && holds
                    .entries
                    .contains(&layout::blob_entry(layout::hex_of(&config.digest)))
        });
    let mut counted = HashSet::new();
    Ok(configs
        .chain(holds.layers.values())
        .filter(|blob| counted.insert(blob.digest.as_str()))
        .map(|blob| blob.size)
        .fold(0, u64::saturating_add))
}

/// The bytes of the regular files below `dir`, links not followed (errors
/// count as nothing: it is an estimate).
fn folder_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => folder_size(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .fold(0, u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::{Catalog, Node};
    use crate::models::{CacheFolder, ModelStore, ProfileChoice};
    use crate::package::plan::tests::options;
    use crate::package::ModelOptions;

    /// The estimate of a package of `nodes` and `models`.
    fn estimate(
        nodes: &[Node],
        images: &[(String, ImageSize)],
        models: &ModelOptions,
    ) -> SizeEstimate {
        PackagePlan::new(&options(nodes, models)).estimate(images)
    }

    fn present(id: &str, size: u64) -> ImageSize {
        ImageSize::Present {
            id: id.into(),
            size,
        }
    }

    #[test]
    fn shared_images_count_once_and_pulls_are_listed() {
        let images = [
            ("a:1".to_owned(), present("sha256:a", 100)),
            ("a:2".to_owned(), present("sha256:a", 100)),
            ("b:1".to_owned(), ImageSize::Missing),
            ("b:1".to_owned(), ImageSize::Missing),
        ];
        let options = ModelOptions {
            skip: true,
            ..Default::default()
        };
        let found = estimate(&Catalog::builtin().nodes, &images, &options);
        assert_eq!(found.bytes, OVERHEAD + 100);
        assert_eq!(found.images, 1);
        assert_eq!(found.to_pull, ["b:1"]);
        assert!(found.caches.is_empty(), "models left out");
        assert!(!found.complete());
    }

    #[test]
    fn caches_count_once_when_held_and_are_downloaded_otherwise() {
        let store_dir = tempfile::tempdir().unwrap();
        let store = ModelStore::new(store_dir.path().to_owned());
        let catalog = Catalog::builtin();
        let nodes: Vec<Node> = ["FLUX Dev", "FLUX Canny", "Demo"]
            .iter()
            .map(|n| catalog.get(n).unwrap().clone())
            .collect();
        let options = ModelOptions {
            store: Some(store.clone()),
            ..Default::default()
        };
        let found = estimate(&nodes, &[], &options);
        let names: Vec<&str> = found.caches.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["flux-dev", "demo"], "one cache for Dev and Canny");
        assert_eq!(found.caches[0].profiles, Vec::<String>::new());
        assert_eq!(found.caches[1].profiles, ["demo-base-cpu"]);
        assert!(found.to_download().count() == 2);
        assert_eq!(found.bytes, OVERHEAD);

        // Once the store holds the Demo's default profile, its folder counts.
        std::fs::create_dir(store_dir.path().join("demo")).unwrap();
        std::fs::write(store_dir.path().join("demo/w.bin"), [0u8; 500]).unwrap();
        let record = r#"{"image": "d:1", "filled": ["demo-base-cpu"], "all": false,
            "profiles": [{"id": "demo-base-cpu"}, {"id": "demo-base-fp8"}]}"#;
        std::fs::write(store_dir.path().join("demo.json"), record).unwrap();
        let held = estimate(&nodes, &[], &options);
        assert_eq!(held.caches[1].size, CacheSize::Held { bytes: 500 });
        assert_eq!(held.bytes, OVERHEAD + 500);
        let other = ModelOptions {
            profiles: vec![ProfileChoice {
                cache: None,
                id: "demo-base-fp8".into(),
            }],
            ..options.clone()
        };
        assert_eq!(
            estimate(&nodes, &[], &other).caches[1].size,
            CacheSize::ToDownload,
            "a profile the cache lacks is downloaded"
        );

        // A folder given as it is counts with its files' bytes.
        let given = tempfile::tempdir().unwrap();
        std::fs::create_dir(given.path().join("sub")).unwrap();
        std::fs::write(given.path().join("sub/w.bin"), [0u8; 1000]).unwrap();
        let options = ModelOptions {
            given: vec![CacheFolder {
                cache: Some("demo".into()),
                dir: given.path().to_owned(),
            }],
            profiles: vec![ProfileChoice {
                cache: Some("flux-dev".into()),
                id: "p1".into(),
            }],
            store: Some(store),
            ..Default::default()
        };
        let found = estimate(&nodes, &[], &options);
        assert_eq!(found.caches[0].profiles, ["p1"]);
        assert_eq!(found.caches[1].size, CacheSize::Given { bytes: 1000 });
        assert_eq!(found.models_bytes(), 1000);
        assert_eq!(found.bytes, OVERHEAD + 1000);
    }
}
