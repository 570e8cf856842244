//! Images counted by use: after every run that commits, an image this tool
//! loaded or pulled into the engine (`images.json`) that no installed node
//! of the folder uses any more, in any version, is removed, and a tag it
//! took from an image of the user's is given back. An image the user had
//! before is never among the loaded ones, so it is never removed: its
//! record in `held` (the blobs a package named, the tags this tool put on
//! it) goes once no installed node uses it, with those tags, and a tag they
//! took is given back; one a container still uses (a node of another
//! install folder, say) stays, with its tags and record; one somebody else
//! has named since (`docker tag`, a load of the same image under another
//! name, or a push or pull by digest) stays with that name, and leaves the
//! record.

use std::collections::{BTreeMap, HashSet};

use super::dir::InstallDir;
use super::state::{HeldImage, InstalledNode, LoadedImage};
use super::InstallError;
use crate::digest::ImageId;
use crate::engine::{Engine, IdRemoval};
use crate::progress::{Event, Reporter};

/// Removes the images of `dir`'s record on this engine that none of
/// `installed` uses, and updates the record.
pub(crate) async fn remove_unused_images(
    engine: &Engine,
    dir: &InstallDir,
    installed: &[InstalledNode],
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let mut record = dir.loaded_images()?;
    let original = record.clone();
    let mut used = HashSet::new();
    for node in installed {
        if let Some(info) = engine.image(&node.image).await? {
            used.insert(info.id);
        }
    }
    let mut kept = Vec::new();
    for image in std::mem::take(&mut record.images) {
        if image.engine != engine.host() || used.contains(&image.id) {
            kept.push(image);
            continue;
        }
        match remove_image(engine, &image, reporter).await? {
            Removal::Removed => {}
            Removal::InUse(image) => kept.push(image),
        }
    }
    record.images = kept;
    // A held image is the user's: the tags this tool put on it, and its
    // record, go with its last use.
    let mut held = Vec::new();
    for image in std::mem::take(&mut record.held) {
        let unused = image.engine == engine.host() && !used.contains(&image.id);
        if !unused || !untag_held(engine, &image, reporter).await? {
            held.push(image);
        }
    }
    record.held = held;
    if record != original {
        dir.write_loaded_images(&record)?;
    }
    Ok(())
}

enum Removal {
    /// Removed, or left to a name somebody else gave it: its record goes.
    Removed,
    /// A container uses it: kept, with what is left of its record.
    InUse(LoadedImage),
}

/// Takes the tags this tool put on the user's `image` off it (never its
/// last name) and gives each tag back to the image it named before; `false`
/// when a container uses the image, which keeps every tag of it.
async fn untag_held(
    engine: &Engine,
    image: &HeldImage,
    reporter: &dyn Reporter,
) -> Result<bool, InstallError> {
    if engine.image_used(&image.id).await? {
        return Ok(false);
    }
    for reference in &image.tagged {
        let names_it = engine
            .image(reference)
            .await?
            .is_some_and(|info| info.id == image.id);
        // Its last name stays: the user took theirs off since.
        if names_it && engine.untag(reference).await? {
            reporter.report(Event::Note {
                message: format!(
                    "Untagged `{reference}`: its image was here before this tool, and stays"
                ),
            });
        }
    }
    give_back(engine, &image.replaced, reporter).await?;
    Ok(true)
}

/// Gives each tag of `replaced` that names no image now back to the image
/// it named before this tool took it, and takes off that image's kept tag.
async fn give_back(
    engine: &Engine,
    replaced: &BTreeMap<String, ImageId>,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    for (reference, previous) in replaced {
        let free = engine.image(reference).await?.is_none();
        if free && engine.image(previous.as_str()).await?.is_some() {
            engine.tag(previous, reference).await?;
            if let Some(kept) = super::load::kept_name(reference) {
                engine.untag(&kept).await?;
            }
            reporter.report(Event::Note {
                message: format!("Gave `{reference}` back to the image it named before"),
            });
        }
    }
    Ok(())
}

/// Removes `image` by the tags of its that still name it, gives back each
/// tag it took that nothing names now, then removes it by its ID.
async fn remove_image(
    engine: &Engine,
    image: &LoadedImage,
    reporter: &dyn Reporter,
) -> Result<Removal, InstallError> {
    // A container of anybody's keeps the image, and every tag of it.
    if engine.image_used(&image.id).await? {
        reporter.report(Event::Note {
            message: format!("Kept image {}: a container still uses it", shown(image)),
        });
        return Ok(Removal::InUse(image.clone()));
    }
    if let Some(digest_reference) = others_digest_reference(engine, image).await? {
        reporter.report(Event::Note {
            message: format!(
                "Kept image {}: it is named `{digest_reference}` too, not by this tool",
                shown(image)
            ),
        });
        return Ok(Removal::Removed);
    }
    for reference in &image.references {
        let names_it = engine
            .image(reference)
            .await?
            .is_some_and(|info| info.id == image.id);
        if names_it && !engine.remove_image_if_unused(reference).await? {
            reporter.report(Event::Note {
                message: format!("Kept image {reference}: a container still uses it"),
            });
            return Ok(Removal::InUse(image.clone()));
        }
        if names_it {
            reporter.report(Event::Note {
                message: format!("Removed image {reference}"),
            });
        }
    }
    give_back(engine, &image.replaced, reporter).await?;
    // An earlier version whose tag a newer one took has no name left; a
    // name somebody else gave the image keeps it.
    match engine.remove_unnamed_image(&image.id).await? {
        IdRemoval::Gone => {}
        IdRemoval::Named(names) => reporter.report(Event::Note {
            message: format!(
                "Kept image {}: it is named {} too, not by this tool",
                image.id,
                names
                    .iter()
                    .map(|name| format!("`{name}`"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        }),
        IdRemoval::InUse => {
            reporter.report(Event::Note {
                message: format!("Kept image {}: a container still uses it", image.id),
            });
            let mut left = image.clone();
            left.references.clear();
            left.replaced.clear();
            return Ok(Removal::InUse(left));
        }
    }
    Ok(Removal::Removed)
}

/// How `image` is named in messages: its first reference, else its ID.
fn shown(image: &LoadedImage) -> &str {
    image
        .references
        .first()
        .map_or(image.id.as_str(), String::as_str)
}

/// A digest reference somebody else gave `image` (a push, a pull by
/// digest), on the classic store: taking off the last tag of a repository
/// takes its digest references with it there, so the image keeps its tags.
/// An image this tool loaded from a package has none of its own; one it
/// pulled has. (The containerd store lists every image by its own ID as a
/// digest; on the classic store a digest reference names a manifest, never
/// the image ID, a config's digest.)
async fn others_digest_reference(
    engine: &Engine,
    image: &LoadedImage,
) -> Result<Option<String>, InstallError> {
    if image.blobs.is_empty() {
        return Ok(None);
    }
    let Some(info) = engine.image(image.id.as_str()).await? else {
        return Ok(None);
    };
    Ok(info.repo_digests.into_iter().find(|reference| {
        reference
            .rsplit_once('@')
            .is_none_or(|(_, digest)| digest != image.id.as_str())
    }))
}
