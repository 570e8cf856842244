//! Which images to stream into the engine, and which of their blobs the
//! engine already holds and can be left out of the stream.
//!
//! The classic store keeps layers by chain (the diff IDs from the bottom up):
//! a layer file is left out when the engine has that chain at every place
//! the streamed images use it, whatever image brought it. The containerd
//! store keeps blobs by their exact digest: a blob is left out only when the
//! engine is known to hold that very blob, because an image present in the
//! engine names it (the image's ID is its manifest digest, and a manifest
//! names its blobs exactly): one of the package's own, one this tool loaded,
//! or one of another package the user had loaded ([`HeldImage`]). An image
//! of unknown origin with the same diff IDs does not count: a pulled or
//! built one holds compressed blobs of other digests, the engine's API
//! (Docker 26.1) names no blob of an image, and a load that leaves out a
//! blob the store lacks while a snapshot of its layer exists is not refused:
//! it makes an image without that blob, which `docker images` hides and
//! `docker save` writes without its config and layers.
//!
//! [`HeldImage`]: crate::install::HeldImage

use std::collections::HashSet;

use crate::digest::{Digest, ImageId};
use crate::engine::LocalImage;
use crate::package::manifest::{Blob, PackagedImage};

/// What happens to an image of the package.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageOutcome {
    /// The engine already had it.
    AlreadyPresent,
    /// It is streamed into the engine.
    Loaded,
}

/// Which images to stream and which blobs to leave out.
#[derive(Debug)]
pub(crate) struct LoadPlan {
    /// Images to stream.
    pub stream: Vec<PackagedImage>,
    /// Blob digests the engine holds already, left out of the stream.
    pub omit: HashSet<String>,
    /// Whether the engine keeps images in containerd's store.
    pub containerd: bool,
    /// Blob digests the package leaves out because its base holds them (an
    /// update package): the engine must hold those it streams around.
    pub absent: HashSet<String>,
}

impl LoadPlan {
    /// Plans the load of `images` into an engine holding `local`; `known`
    /// are images of that engine whose exact blobs this tool knows (it
    /// loaded them, or a package named them), with those blobs; `absent`
    /// are the blobs the package does not carry.
    pub(crate) fn new(
        images: &[PackagedImage],
        local: &[LocalImage],
        known: &[(&ImageId, &[Digest])],
        containerd: bool,
        absent: HashSet<String>,
    ) -> (Self, Vec<ImageOutcome>) {
        let mut plan = LoadPlan {
            stream: Vec::new(),
            omit: HashSet::new(),
            containerd,
            absent,
        };
        let mut outcomes = Vec::new();
        for image in images {
            if is_present(image, local, containerd) {
                tracing::info!(
                    image = ?image.references,
                    id = %engine_id(image, containerd),
                    "image already in the engine: not streamed"
                );
                outcomes.push(ImageOutcome::AlreadyPresent);
            } else {
                tracing::info!(image = ?image.references, "image not in the engine: streamed");
                outcomes.push(ImageOutcome::Loaded);
                plan.stream.push(image.clone());
            }
        }
        plan.omit = if containerd {
            held_blobs(images, local, known, &plan.stream)
        } else {
            present_chains(local, &plan.stream)
        };
        let why = if containerd {
            "an image in the engine names this very blob (containerd store)"
        } else {
            "the engine has this layer's chain everywhere the streamed images use it (classic store)"
        };
        let mut omitted: Vec<&String> = plan.omit.iter().collect();
        omitted.sort();
        for digest in omitted {
            tracing::info!(blob = %digest, why, "left out of the stream");
        }
        tracing::info!(
            images = plan.stream.len(),
            left_out = plan.omit.len(),
            bytes = plan.stream_bytes(),
            containerd,
            "load planned"
        );
        (plan, outcomes)
    }

    /// The bytes the stream carries.
    pub(crate) fn stream_bytes(&self) -> u64 {
        let mut seen = HashSet::new();
        self.stream
            .iter()
            .flat_map(blobs_of)
            .filter(|b| !self.omit.contains(&b.digest) && seen.insert(b.digest.clone()))
            .map(|b| b.size)
            .sum()
    }

    /// The same images, every blob the package carries streamed.
    pub(crate) fn full(&self) -> Self {
        tracing::info!(
            images = self.stream.len(),
            "streaming every blob the package carries: the engine refused the stream without the left-out ones"
        );
        Self {
            stream: self.stream.clone(),
            omit: self.absent.clone(),
            containerd: self.containerd,
            absent: self.absent.clone(),
        }
    }

    /// Whether [`LoadPlan::full`] would stream more than this plan.
    pub(crate) fn can_stream_more(&self) -> bool {
        self.omit.iter().any(|digest| !self.absent.contains(digest))
    }

    /// The first blob the stream needs that neither the package carries nor
    /// the engine holds (an update package whose base is not installed),
    /// named for a message: `layer sha256:… of `image``.
    pub(crate) fn missing(&self) -> Option<String> {
        self.stream.iter().find_map(|image| {
            let name = image.references.first().unwrap_or(&image.id);
            let layers = image.layers.iter().map(|l| ("layer", l));
            [
                ("image manifest", &image.manifest),
                ("config", &image.config),
            ]
            .into_iter()
            .chain(layers)
            .find(|(_, blob)| {
                self.absent.contains(&blob.digest) && !self.omit.contains(&blob.digest)
            })
            .map(|(what, blob)| format!("the {what} {} of `{name}`", blob.digest))
        })
    }
}

/// Classic store: layer digests whose chain (of diff IDs) the engine has at
/// every place the streamed images use them.
fn present_chains(local: &[LocalImage], stream: &[PackagedImage]) -> HashSet<String> {
    let mut omit = HashSet::new();
    let mut needed = HashSet::new();
    for image in stream {
        let diff_ids = image.layer_diff_ids();
        for (i, layer) in image.layers.iter().enumerate() {
            let chain = &diff_ids[..=i];
            let present = local.iter().any(|l| {
                l.info.layers.len() >= chain.len()
                    && l.info
                        .layers
                        .iter()
                        .zip(chain)
                        .all(|(a, b)| a.as_str() == *b)
            });
            if present {
                omit.insert(layer.digest.clone());
            } else {
                needed.insert(layer.digest.clone());
            }
        }
    }
    omit.retain(|digest| !needed.contains(digest));
    omit
}

/// Containerd store: the streamed images' blobs that an image present in
/// the engine names exactly (one of the package's, or a `known` one).
fn held_blobs(
    images: &[PackagedImage],
    local: &[LocalImage],
    known: &[(&ImageId, &[Digest])],
    stream: &[PackagedImage],
) -> HashSet<String> {
    let present = |id: &str| local.iter().any(|l| l.info.id.as_str() == id);
    let mut held: HashSet<String> = HashSet::new();
    for image in images.iter().filter(|i| present(&i.manifest.digest)) {
        held.extend(blobs_of(image).map(|b| b.digest.clone()));
    }
    for (_, blobs) in known.iter().filter(|(id, _)| present(id.as_str())) {
        held.extend(blobs.iter().map(Digest::to_string));
    }
    stream
        .iter()
        .flat_map(blobs_of)
        .filter(|b| held.contains(&b.digest))
        .map(|b| b.digest.clone())
        .collect()
}

/// Whether the engine has the image (see [`engine_id`]).
pub(crate) fn is_present(image: &PackagedImage, local: &[LocalImage], containerd: bool) -> bool {
    let id = engine_id(image, containerd);
    local.iter().any(|l| l.info.id == id)
}

/// The ID the engine gives the image: its config digest on the classic
/// store, its manifest digest on the containerd store.
pub(crate) fn engine_id(image: &PackagedImage, containerd: bool) -> ImageId {
    if containerd {
        image.manifest.checked_digest().into()
    } else {
        image.checked_id()
    }
}

/// The blobs of an image in stream order: manifest, config, layers.
pub(crate) fn blobs_of(image: &PackagedImage) -> impl Iterator<Item = &Blob> {
    [&image.manifest, &image.config]
        .into_iter()
        .chain(image.layers.iter())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ImageInfo;
    use sha2::Digest as _;

    /// The digest that stands for `name` in these tests.
    fn d(name: &str) -> String {
        format!("sha256:{}", hex::encode(sha2::Sha256::digest(name)))
    }

    fn blob(name: &str) -> Blob {
        Blob::plain(d(name), 1)
    }

    fn image(id: &str, layers: &[&str]) -> PackagedImage {
        PackagedImage {
            references: vec![format!("{id}:1")],
            id: d(id),
            repo_digests: Vec::new(),
            manifest: blob(&format!("{id}-manifest")),
            config: blob(id),
            layers: layers.iter().map(|l| blob(l)).collect(),
            diff_ids: Vec::new(),
        }
    }

    fn local(id: &str, layers: &[&str]) -> LocalImage {
        LocalImage {
            tags: Vec::new(),
            info: ImageInfo {
                id: d(id).parse().unwrap(),
                repo_digests: Vec::new(),
                layers: layers.iter().map(|l| d(l).parse().unwrap()).collect(),
                size: 0,
                tags: Vec::new(),
                created: None,
            },
        }
    }

    /// An image whose exact blobs are known.
    fn known(id: &str, blobs: &[&str]) -> (ImageId, Vec<Digest>) {
        (
            d(id).parse().unwrap(),
            blobs.iter().map(|b| d(b).parse().unwrap()).collect(),
        )
    }

    #[test]
    fn present_images_are_not_streamed_and_present_chains_are_left_out() {
        let images = [image("old", &["A", "B"]), image("new", &["A", "B", "C"])];
        let (plan, outcomes) = LoadPlan::new(
            &images,
            &[local("old", &["A", "B"])],
            &[],
            false,
            HashSet::new(),
        );
        assert_eq!(
            outcomes,
            [ImageOutcome::AlreadyPresent, ImageOutcome::Loaded]
        );
        assert_eq!(plan.stream.len(), 1);
        assert_eq!(plan.omit, HashSet::from([d("A"), d("B")]));
    }

    #[test]
    fn a_layer_is_left_out_only_where_every_use_of_it_is_present() {
        // E (say the empty layer) is present under A, but not under A, E, X.
        let images = [image("new", &["A", "E", "X", "E"])];
        let (plan, _) = LoadPlan::new(
            &images,
            &[local("old", &["A", "E"])],
            &[],
            false,
            HashSet::new(),
        );
        assert_eq!(plan.omit, HashSet::from([d("A")]));
    }

    #[test]
    fn compressed_layers_go_by_their_diff_ids_and_missing_blobs_are_named() {
        let mut compressed = image("new", &["gzA", "gzB"]);
        compressed.diff_ids = vec![d("A"), d("B")];
        let absent = HashSet::from([d("gzA"), d("gzB")]);
        let plan = |local: &[&str]| {
            let present = [self::local("old", local)];
            LoadPlan::new(&[compressed.clone()], &present, &[], false, absent.clone()).0
        };
        let half = plan(&["A"]);
        assert_eq!(half.omit, HashSet::from([d("gzA")]));
        let missing = format!("the layer {} of `new:1`", d("gzB"));
        assert_eq!(half.missing(), Some(missing));
        assert!(!half.can_stream_more(), "what is left out is all absent");
        let whole = plan(&["A", "B"]);
        assert_eq!(whole.missing(), None);
        assert_eq!(whole.full().omit, absent);
    }

    #[test]
    fn the_containerd_store_names_images_by_manifest() {
        let images = [image("cfg", &["A"])];
        assert!(is_present(
            &images[0],
            &[local("cfg-manifest", &["A"])],
            true
        ));
        assert!(!is_present(
            &images[0],
            &[local("cfg-manifest", &["A"])],
            false
        ));
    }

    #[test]
    fn containerd_leaves_out_only_blobs_a_present_image_names_exactly() {
        let images = [image("new", &["A", "B", "C"])];
        // A locally built image with the same diff IDs holds other blobs.
        let built = [local("built-manifest", &["A", "B"])];
        let (plan, _) = LoadPlan::new(&images, &built, &[], true, HashSet::new());
        assert!(plan.omit.is_empty(), "{:?}", plan.omit);
        // A known image (this tool loaded it, or a package named its
        // blobs), still present, holds exactly its blobs.
        let (id, blobs) = known("old-manifest", &["old-manifest", "old", "A", "B"]);
        let earlier = [(&id, blobs.as_slice())];
        let present = [local("old-manifest", &["A", "B"])];
        let (plan, _) = LoadPlan::new(&images, &present, &earlier, true, HashSet::new());
        assert_eq!(plan.omit, HashSet::from([d("A"), d("B")]));
        // Gone from the engine: nothing is known to be held.
        let (plan, _) = LoadPlan::new(&images, &[], &earlier, true, HashSet::new());
        assert!(plan.omit.is_empty());
    }
}
