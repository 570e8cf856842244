//! Images counted by use: after every run that commits, an image this tool
//! loaded or pulled into the engine (`images.json`) that no installed node
//! of the folder uses any more, in any version, is removed, and a tag it
//! took from an image of the user's is given back. An image the user had
//! before is never among the loaded ones, so it is never removed (its
//! record in `held`, kept for the blobs a package named, goes once no
//! installed node uses it); one a container still uses (a node of another
//! install folder, say) stays, with its tags and record; one somebody else
//! has named since (`docker tag`, or a load of the same image under another
//! name) stays with that name, and leaves the record.

use std::collections::HashSet;

use super::dir::InstallDir;
use super::state::{InstalledNode, LoadedImage};
use super::InstallError;
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
    // A held image is the user's: its record goes with its last use.
    record
        .held
        .retain(|image| image.engine != engine.host() || used.contains(&image.id));
    if record != original {
        dir.write_loaded_images(&record)?;
    }
    Ok(())
}

enum Removal {
    Removed,
    /// A container uses it: kept, with what is left of its record.
    InUse(LoadedImage),
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
            message: format!(
                "Kept image {}: a container still uses it",
                image
                    .references
                    .first()
                    .map_or(image.id.as_str(), String::as_str)
            ),
        });
        return Ok(Removal::InUse(image.clone()));
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
    for (reference, previous) in &image.replaced {
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
