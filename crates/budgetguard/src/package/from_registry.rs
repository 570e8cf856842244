//! Images read straight from their registries, with no engine involved:
//! each node's image is resolved (a multi-platform index to the chosen
//! platform), its config read and checked, and its blobs streamed into the
//! package as the registry serves them. Layers stay gzip-compressed, named
//! by their digest, so the package is about the registry's size; the
//! config's diff IDs go into the manifest for the load plan. Several blobs
//! download at once, one queue for all images, each checked against its
//! digest while it streams and again as it is written.

use std::collections::HashSet;
use std::io;
use std::sync::Arc;

use super::image_config::ImageConfig;
use super::layout::{self, BLOBS_DIR};
use super::manifest::{Blob, PackagedImage, GZIP_LAYER};
use super::plan::{ImageInput, ImageStream, ResolvedImages};
use super::since::ImageLayers;
use super::writer::{BaseHolds, PackageWriter};
use super::PackageError;
use crate::catalog::Node;
use crate::progress::{Counted, Event, Reporter, Step, Throttle, Warning};
use crate::reference::Reference;
use crate::registry::{
    ClientOptions, Descriptor, Platform, RegistryAuth, RegistryClient, RegistryError,
};
use crate::size::total;
use crate::Cancel;

/// How images are read from their registries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrySource {
    /// The platform a multi-platform image resolves to.
    pub platform: Platform,
    /// Blobs downloading at once (at least one).
    pub jobs: usize,
}

impl Default for RegistrySource {
    /// linux/amd64, four blobs at once.
    fn default() -> Self {
        Self {
            platform: Platform::default(),
            jobs: 4,
        }
    }
}

/// Layer media types kept as they are served, gzip-compressed.
const GZIP_TYPES: [&str; 2] = [
    "application/vnd.docker.image.rootfs.diff.tar.gzip",
    GZIP_LAYER,
];
/// Layer media types of uncompressed tars: their digest is their diff ID.
const TAR_TYPES: [&str; 2] = [
    "application/vnd.docker.image.rootfs.diff.tar",
    layout::TAR_LAYER,
];

/// The images of a package, as their registries describe them.
#[derive(Debug)]
pub(crate) struct RegistryImages {
    client: RegistryClient,
    jobs: usize,
    images: Vec<RegistryImage>,
}

/// One image, resolved.
#[derive(Debug)]
struct RegistryImage {
    /// The reference its blobs are read through.
    reference: Reference,
    /// The node references that name it.
    references: Vec<String>,
    /// Where it was read: `name@digest` of each reference.
    repo_digests: Vec<String>,
    config: Blob,
    config_bytes: Vec<u8>,
    /// Its layers as the package holds them, with their media types.
    layers: Vec<Blob>,
    diff_ids: Vec<String>,
    created: Option<time::OffsetDateTime>,
}

impl RegistryImages {
    /// Resolves the image of every node from its registry, merging nodes
    /// (and references) that name the same image.
    pub(crate) async fn resolve(
        nodes: &[Node],
        auth: &RegistryAuth,
        source: &RegistrySource,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Self, PackageError> {
        let client = RegistryClient::new(auth.clone(), ClientOptions::default())?;
        let mut images: Vec<RegistryImage> = Vec::new();
        for node in nodes {
            if images.iter().any(|i| i.references.contains(&node.image)) {
                continue;
            }
            let reference =
                Reference::parse(&node.image).map_err(|e| PackageError::UnsupportedImage {
                    image: node.image.clone(),
                    detail: format!("is not a reference ({e})"),
                })?;
            let resolved = tokio::select! {
                resolved = client.resolve(&reference, &source.platform) => resolved?,
                _ = cancel.cancelled() => return Err(PackageError::Cancelled),
            };
            let repo_digest = format!("{}@{}", reference.familiar_name(), resolved.repo_digest);
            tracing::info!(
                image = %node.image,
                manifest = %resolved.manifest_digest,
                layers = resolved.layers.len(),
                "image resolved in its registry"
            );
            match images
                .iter_mut()
                .find(|i| i.config.digest == resolved.config.digest)
            {
                Some(same) => {
                    same.references.push(node.image.clone());
                    if !same.repo_digests.contains(&repo_digest) {
                        same.repo_digests.push(repo_digest);
                    }
                }
                None => {
                    let image = RegistryImage::new(node, reference, resolved, repo_digest)?;
                    image.check_platform(&source.platform, reporter);
                    images.push(image);
                }
            }
        }
        Ok(Self {
            client,
            jobs: source.jobs,
            images,
        })
    }
}

impl ResolvedImages for RegistryImages {
    fn layers(&self) -> Vec<ImageLayers> {
        self.images
            .iter()
            .map(|i| ImageLayers {
                blobs: Some(i.layers.iter().map(|l| l.digest.clone()).collect()),
                diff_ids: i.diff_ids.clone(),
            })
            .collect()
    }

    fn created(&self) -> Vec<Option<time::OffsetDateTime>> {
        self.images.iter().map(|i| i.created).collect()
    }

    /// The bytes of their blobs, each once, as the registries serve them,
    /// but for those the base holds (at most `u64::MAX`: a registry may
    /// give any sizes, and fetching checks each one): those are never
    /// downloaded.
    fn size(&self, base: Option<&BaseHolds>) -> u64 {
        let mut seen = HashSet::new();
        let held = |blob: &Blob| {
            let entry = layout::blob_entry(layout::hex_of(&blob.digest));
            base.is_some_and(|base| base.entries.contains(&entry))
        };
        let sizes = self
            .images
            .iter()
            .flat_map(|i| std::iter::once(&i.config).chain(&i.layers))
            .filter(|b| seen.insert(&b.digest) && !held(b))
            .map(|b| b.size);
        total(sizes).unwrap_or(u64::MAX)
    }

    /// Read on the writer's thread as they are.
    fn start(self: Box<Self>, _reporter: &dyn Reporter, _cancel: &Cancel) -> ImageStream {
        ImageStream {
            input: self,
            pump: None,
            origin: "registry".to_owned(),
        }
    }
}

impl ImageInput for RegistryImages {
    /// Writes every image into the package: the configs, the layers (those
    /// the package does not have yet, nor its base), then each image's OCI
    /// manifest and the layout's documents.
    fn write(
        self: Box<Self>,
        package: &mut PackageWriter,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Vec<PackagedImage>, PackageError> {
        let read_error = |e: io::Error| {
            if cancel.is_cancelled() {
                PackageError::Cancelled
            } else {
                PackageError::Registry(RegistryError::from_io(e))
            }
        };
        for image in &self.images {
            package.add_known_blob(
                BLOBS_DIR,
                &image.config,
                &mut image.config_bytes.as_slice(),
                cancel,
                &read_error,
            )?;
        }
        let mut fetch = Vec::new();
        let mut blobs = Vec::new();
        for image in &self.images {
            for layer in &image.layers {
                if !package.has(BLOBS_DIR, layer) && !blobs.contains(layer) {
                    let descriptor = Descriptor {
                        media_type: String::new(),
                        digest: layer.digest.clone(),
                        size: layer.size,
                    };
                    fetch.push((image.reference.clone(), descriptor));
                    blobs.push(layer.clone());
                }
            }
        }
        let total = total(blobs.iter().map(|b| b.size)).unwrap_or(u64::MAX);
        tracing::info!(
            blobs = blobs.len(),
            bytes = total,
            jobs = self.jobs,
            "downloading layers from their registries"
        );
        reporter.report(Event::Started {
            step: Step::FromRegistry,
            total: Some(total),
        });
        let mut progress = Throttle::new(Step::FromRegistry);
        let queue = self
            .client
            .blob_queue_of(fetch, self.jobs, Arc::new(()), cancel);
        for (blob, (_, reader)) in blobs.iter().zip(queue) {
            let mut data = Counted {
                inner: reader,
                progress: &mut progress,
                reporter,
                cancel,
            };
            package.add_known_blob(BLOBS_DIR, blob, &mut data, cancel, &read_error)?;
            tracing::debug!(digest = %blob.digest, size = blob.size, "layer written");
        }
        reporter.report(Event::Advanced {
            step: Step::FromRegistry,
            done: progress.done(),
        });
        reporter.report(Event::Finished {
            step: Step::FromRegistry,
        });
        let mut images = Vec::new();
        for image in self.images {
            let document = layout::oci_manifest(&image.config, &image.layers);
            let manifest =
                package.add_blob(BLOBS_DIR, &mut document.as_slice(), cancel, &read_error)?;
            images.push(PackagedImage {
                references: image.references,
                id: image.config.digest.clone(),
                repo_digests: image.repo_digests,
                manifest,
                config: image.config,
                diff_ids: PackagedImage::recorded_diff_ids(&image.layers, image.diff_ids),
                layers: image.layers,
            });
        }
        package.add_image_layout(&images)?;
        Ok(images)
    }
}

impl RegistryImage {
    /// The image `resolved` describes, for `node`: its config read, its
    /// layers of kinds every engine loads from a package.
    fn new(
        node: &Node,
        reference: Reference,
        resolved: crate::registry::Resolved,
        repo_digest: String,
    ) -> Result<Self, PackageError> {
        let unsupported = |detail: String| PackageError::UnsupportedImage {
            image: node.image.clone(),
            detail,
        };
        let config = ImageConfig::parse(&resolved.config_bytes)
            .map_err(|e| unsupported(format!("has a config that does not read ({e})")))?;
        let diff_ids = config.rootfs.diff_ids.clone();
        if diff_ids.len() != resolved.layers.len() {
            return Err(unsupported(format!(
                "has {} layers, and its config lists {}",
                resolved.layers.len(),
                diff_ids.len()
            )));
        }
        let layers = resolved
            .layers
            .iter()
            .zip(&diff_ids)
            .map(|(descriptor, diff_id)| package_layer(descriptor, diff_id).map_err(&unsupported))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            reference,
            references: vec![node.image.clone()],
            repo_digests: vec![repo_digest],
            config: Blob::plain(resolved.config.digest, resolved.config.size),
            created: config.created_time(),
            config_bytes: resolved.config_bytes,
            layers,
            diff_ids,
        })
    }

    /// Says so when a single-platform image is for another platform than
    /// the one asked for (an index was resolved to it already).
    fn check_platform(&self, platform: &Platform, reporter: &dyn Reporter) {
        let Ok(config) = ImageConfig::parse(&self.config_bytes) else {
            return;
        };
        let (Some(os), Some(architecture)) = (config.os, config.architecture) else {
            return;
        };
        if os != platform.os || architecture != platform.architecture {
            reporter.report(Event::Warning {
                warning: Warning::OtherPlatform {
                    image: self.references[0].clone(),
                    found: format!("{os}/{architecture}"),
                    wanted: format!("{}/{}", platform.os, platform.architecture),
                },
            });
        }
    }
}

/// A layer as the package holds it: gzip as served, or an uncompressed tar
/// (whose digest must then be its diff ID); any other kind (zstd, foreign
/// layers) is refused, since Docker 20.10 cannot load it.
fn package_layer(descriptor: &Descriptor, diff_id: &str) -> Result<Blob, String> {
    let media_type = descriptor.media_type.as_str();
    if GZIP_TYPES.contains(&media_type) {
        Ok(Blob {
            digest: descriptor.digest.clone(),
            size: descriptor.size,
            media_type: Some(GZIP_LAYER.to_owned()),
        })
    } else if TAR_TYPES.contains(&media_type) && descriptor.digest == diff_id {
        Ok(Blob::plain(descriptor.digest.clone(), descriptor.size))
    } else if TAR_TYPES.contains(&media_type) {
        Err(format!(
            "has an uncompressed layer {} whose digest is not its diff ID {diff_id}",
            descriptor.digest
        ))
    } else {
        Err(format!(
            "has a layer of type `{media_type}`, which Docker 20.10 cannot load (only gzip-compressed and uncompressed layers)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn descriptor(media_type: &str, digest: &str) -> Descriptor {
        Descriptor {
            media_type: media_type.into(),
            digest: digest.into(),
            size: 7,
        }
    }

    #[test]
    fn layers_are_kept_gzip_or_plain_and_others_refused() {
        let docker_gzip = descriptor(GZIP_TYPES[0], "sha256:gz");
        assert_eq!(
            package_layer(&docker_gzip, "sha256:d").unwrap().media_type,
            Some(GZIP_LAYER.to_owned())
        );
        let tar = descriptor(layout::TAR_LAYER, "sha256:d");
        assert_eq!(
            package_layer(&tar, "sha256:d").unwrap(),
            Blob::plain("sha256:d".into(), 7)
        );
        assert!(package_layer(&tar, "sha256:other").is_err());
        let zstd = descriptor("application/vnd.oci.image.layer.v1.tar+zstd", "sha256:z");
        let refused = package_layer(&zstd, "sha256:d").unwrap_err();
        assert!(refused.contains("tar+zstd"), "{refused}");
    }
}
