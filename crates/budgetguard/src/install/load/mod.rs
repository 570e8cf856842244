//! Loading a package's images into the engine straight from the ZIP, and
//! what takes a load back ([`ImageUndo`], recorded in the run's journal
//! before the load): a run that fails part-way removes the images it
//! loaded and gives back the tags it moved, so the engine is left as it was.
//!
//! An image of the user's whose tag the package takes would be lost on the
//! containerd store (an image there is its name), and left dangling, for the
//! next prune, on the classic store. So before the load it is kept under a
//! second tag, [`kept_name`], until an uninstall gives the tag back. A tag
//! that named an image an earlier package loaded needs no keeping: the
//! user's image it took, if any, is kept already, and stays so.

mod plan;
mod stream;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

pub use plan::ImageOutcome;
pub(crate) use plan::LoadPlan;

use super::journal::ImageUndo;
use super::state::{HeldImage, LoadedImage, LoadedImages};
use super::InstallError;
use crate::digest::ImageId;
use crate::engine::{Engine, LocalImage};
use crate::package::layout;
use crate::package::manifest::{Blob, PackagedImage};
use crate::package::Package;
use crate::progress::{Event, SharedReporter};
use crate::reference::Reference;
use crate::Cancel;
use plan::{blobs_of, engine_id};

/// One load into one engine: what the engine held before it.
#[derive(Debug)]
pub(crate) struct LoadRun {
    engine: String,
    containerd: bool,
    images: Vec<PackagedImage>,
    /// Engine IDs of the package's images the engine had before.
    present_before: HashSet<ImageId>,
    /// What each reference of the package named before (an engine ID).
    tags_before: HashMap<String, Option<ImageId>>,
    /// What each reference's kept tag ([`kept_name`]) named before.
    kept_before: HashMap<String, Option<ImageId>>,
    /// The images this tool loaded earlier into this engine.
    loaded_before: Vec<LoadedImage>,
    /// The user's images of earlier packages in this engine, with the tags
    /// this tool put on them.
    held_before: Vec<HeldImage>,
}

impl LoadRun {
    /// Plans the load of `package` into the engine, which holds `local`
    /// ([`Engine::local_images`]); `record` holds the images this tool
    /// loaded earlier, and those whose blobs an earlier package named.
    pub(crate) async fn prepare(
        engine: &Engine,
        package: &Package,
        (containerd, local): (bool, Vec<LocalImage>),
        record: &LoadedImages,
    ) -> Result<(Self, LoadPlan, Vec<ImageOutcome>), InstallError> {
        let images = package.manifest().images.clone();
        let loaded: Vec<LoadedImage> = record
            .images
            .iter()
            .filter(|i| i.engine == engine.host())
            .cloned()
            .collect();
        let known: Vec<_> = record.known_blobs(engine.host()).collect();
        let absent = images
            .iter()
            .flat_map(blobs_of)
            .filter(|b| !package.carries(&layout::blob_entry(layout::hex_of(&b.digest))))
            .map(|b| b.digest.clone())
            .collect();
        let (plan, outcomes) = LoadPlan::new(&images, &local, &known, containerd, absent);
        let present_before = images
            .iter()
            .map(|image| engine_id(image, containerd))
            .filter(|id| local.iter().any(|l| &l.info.id == id))
            .collect();
        let mut tags_before = HashMap::new();
        let mut kept_before = HashMap::new();
        for reference in images.iter().flat_map(|i| &i.references) {
            let named = engine.image(reference).await?.map(|info| info.id);
            tags_before.insert(reference.clone(), named);
            if let Some(kept) = kept_name(reference) {
                let named = engine.image(&kept).await?.map(|info| info.id);
                kept_before.insert(kept, named);
            }
        }
        let run = Self {
            engine: engine.host().to_owned(),
            containerd,
            images,
            present_before,
            tags_before,
            kept_before,
            loaded_before: loaded,
            held_before: record
                .held
                .iter()
                .filter(|i| i.engine == engine.host())
                .cloned()
                .collect(),
        };
        // A user's image can only be kept where no other image is.
        for (reference, previous) in run.displaced() {
            let Some(kept) = kept_name(reference) else {
                continue;
            };
            let taken =
                matches!(run.kept_before.get(&kept), Some(Some(other)) if other != previous);
            if taken && run.tagged_by_tool(reference, previous).is_none() {
                return Err(InstallError::KeptTagTaken {
                    reference: reference.clone(),
                    kept,
                });
            }
        }
        Ok((run, plan, outcomes))
    }

    /// Streams what `plan` says and tags every image of the package. A
    /// failure leaves the undo to the run's journal ([`Self::undo_record`]).
    pub(crate) async fn load(
        &self,
        engine: &Engine,
        package: &Arc<Package>,
        plan: LoadPlan,
        reporter: &SharedReporter,
        cancel: &Cancel,
    ) -> Result<(), InstallError> {
        for (reference, previous) in self.displaced() {
            if let Some(kept) = self.keeps(reference, previous) {
                engine.tag(previous, &kept).await?;
                reporter.report(Event::Note {
                    message: format!("The image `{reference}` named before is kept as `{kept}`"),
                });
            }
        }
        if !plan.stream.is_empty() {
            let partial = plan.can_stream_more();
            match stream::stream_into_engine(engine, package, &plan, reporter, cancel).await {
                Err(InstallError::Engine(e)) if partial => {
                    reporter.report(Event::Note {
                        message: format!("the engine refused a stream without the layers it has ({e}); sending every layer"),
                    });
                    stream::stream_into_engine(engine, package, &plan.full(), reporter, cancel)
                        .await?;
                }
                other => other?,
            }
        }
        // `docker load` tags what it loads; an image that was present may lack a tag.
        for image in &self.images {
            let id = engine_id(image, self.containerd);
            for reference in &image.references {
                let named = engine.image(reference).await?.map(|info| info.id);
                if named.as_ref() != Some(&id) {
                    engine.tag(&id, reference).await?;
                }
            }
        }
        Ok(())
    }

    /// References of the package that named another image before, and
    /// that image.
    fn displaced(&self) -> impl Iterator<Item = (&String, &ImageId)> {
        self.images.iter().flat_map(move |image| {
            let id = engine_id(image, self.containerd);
            image
                .references
                .iter()
                .filter_map(move |r| match self.tags_before.get(r) {
                    Some(Some(before)) if *before != id => Some((r, before)),
                    _ => None,
                })
        })
    }

    /// The references this run points at another image, with the image
    /// each names now.
    pub(crate) fn moved_tags(&self) -> Vec<(String, ImageId)> {
        self.displaced()
            .map(|(reference, now)| (reference.clone(), now.clone()))
            .collect()
    }

    /// Whether an earlier run of this tool put `reference` on `id` (an
    /// image it loaded, or one of the user's): then what that tag named
    /// before, by reference.
    fn tagged_by_tool(&self, reference: &str, id: &ImageId) -> Option<&BTreeMap<String, ImageId>> {
        let loaded = self
            .loaded_before
            .iter()
            .map(|i| (&i.id, &i.references, &i.replaced));
        let held = self
            .held_before
            .iter()
            .map(|i| (&i.id, &i.tagged, &i.replaced));
        loaded
            .chain(held)
            .find(|(tagged, references, _)| {
                *tagged == id && references.iter().any(|r| r == reference)
            })
            .map(|(_, _, replaced)| replaced)
    }

    /// The kept tag this run gives `previous`, the user's image that
    /// `reference` named: none when this tool put the tag there, or when
    /// the kept tag names it already.
    fn keeps(&self, reference: &str, previous: &ImageId) -> Option<String> {
        let kept = kept_name(reference)?;
        let unkept = matches!(self.kept_before.get(&kept), Some(None));
        (unkept && self.tagged_by_tool(reference, previous).is_none()).then_some(kept)
    }

    /// The user's image `reference` named before this tool's first load
    /// took it, given `previous`, the image it named before this run.
    fn original(&self, reference: &str, previous: &ImageId) -> Option<ImageId> {
        match self.tagged_by_tool(reference, previous) {
            Some(replaced) => replaced.get(reference).cloned(),
            None => Some(previous.clone()),
        }
    }

    /// The images this run put into the engine, as `images.json` records them.
    pub(crate) fn loaded(&self) -> Vec<LoadedImage> {
        self.images
            .iter()
            .filter(|image| {
                !self
                    .present_before
                    .contains(&engine_id(image, self.containerd))
            })
            .map(|image| LoadedImage {
                engine: self.engine.clone(),
                id: engine_id(image, self.containerd),
                blobs: blobs_of(image).map(Blob::checked_digest).collect(),
                references: image.references.clone(),
                replaced: self.replaced(image),
            })
            .collect()
    }

    /// The package's images the engine had before this tool loaded them (the
    /// user's), with the tags this run puts on them. On the containerd store
    /// their blobs are the package's, so a later load leaves them out. (The
    /// classic store goes by layer chain, which the engine tells of every
    /// image.)
    pub(crate) fn held(&self) -> Vec<HeldImage> {
        self.images
            .iter()
            .filter_map(|image| {
                let id = engine_id(image, self.containerd);
                let users = self.present_before.contains(&id)
                    && !self.loaded_before.iter().any(|l| l.id == id);
                let tagged: Vec<String> = image
                    .references
                    .iter()
                    .filter(|r| !matches!(self.tags_before.get(*r), Some(Some(before)) if *before == id))
                    .cloned()
                    .collect();
                (users && (self.containerd || !tagged.is_empty())).then(|| HeldImage {
                    engine: self.engine.clone(),
                    blobs: match self.containerd {
                        true => blobs_of(image).map(Blob::checked_digest).collect(),
                        false => Vec::new(),
                    },
                    replaced: self.replaced(image),
                    id,
                    tagged,
                })
            })
            .collect()
    }

    /// The user's images that `image`'s references named before this tool
    /// took them, by reference.
    fn replaced(&self, image: &PackagedImage) -> BTreeMap<String, ImageId> {
        self.displaced()
            .filter(|(r, _)| image.references.contains(r))
            .filter_map(|(r, before)| Some((r.clone(), self.original(r, before)?)))
            .collect()
    }

    /// What takes this load back: the images the engine lacked before,
    /// what each reference named, and the kept tags the load makes.
    pub(crate) fn undo_record(&self) -> ImageUndo {
        ImageUndo {
            added: self
                .images
                .iter()
                .map(|image| engine_id(image, self.containerd))
                .filter(|id| !self.present_before.contains(id))
                .collect(),
            tags_before: self
                .tags_before
                .iter()
                .map(|(reference, before)| (reference.clone(), before.clone()))
                .collect(),
            given: self
                .images
                .iter()
                .flat_map(|image| {
                    let id = engine_id(image, self.containerd);
                    image
                        .references
                        .iter()
                        .map(move |r| (r.clone(), id.clone()))
                })
                .collect(),
            kept: self
                .tags_before
                .iter()
                .filter_map(|(reference, before)| {
                    let kept = self.keeps(reference, before.as_ref()?)?;
                    Some((reference.clone(), kept))
                })
                .collect(),
        }
    }
}

/// The second tag that keeps an image whose tag a package took:
/// `repo:tag-before-budgetguard`. `None` for a reference by digest, which
/// names no tag.
pub(crate) fn kept_name(reference: &str) -> Option<String> {
    let parsed = Reference::parse(reference).ok()?;
    if parsed.digest().is_some() {
        return None;
    }
    let (name, tag) = parsed.name_and_tag();
    Some(format!("{name}:{tag}-before-budgetguard"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn kept_names_add_to_the_tag() {
        assert_eq!(
            super::kept_name("localhost:5000/a/b:1.2").as_deref(),
            Some("localhost:5000/a/b:1.2-before-budgetguard")
        );
        assert_eq!(
            super::kept_name("localhost:5000/a").as_deref(),
            Some("localhost:5000/a:latest-before-budgetguard")
        );
        assert_eq!(
            super::kept_name("docker.io/library/demo").as_deref(),
            Some("demo:latest-before-budgetguard")
        );
        let digest = format!("sha256:{}", "0".repeat(64));
        assert_eq!(super::kept_name(&format!("a@{digest}")), None);
        assert_eq!(super::kept_name(&format!("a:1@{digest}")), None);
    }
}
