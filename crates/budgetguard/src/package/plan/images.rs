//! Where a package's images come from: the engine's export, or their
//! registries. [`PackagePlan::images`] makes that choice, the one place it
//! is made; everything after it (sizes, what the base holds, the package's
//! time, the writer's thread) goes through [`ResolvedImages`].

use super::PackagePlan;
use crate::engine::Engine;
use crate::package::from_engine::{EngineImages, FromEngine};
use crate::package::from_registry::RegistryImages;
use crate::package::manifest::PackagedImage;
use crate::package::since::ImageLayers;
use crate::package::writer::{BaseHolds, PackageWriter};
use crate::package::PackageError;
use crate::progress::Reporter;
use crate::Cancel;

/// A package's images, resolved where they come from: what is known of
/// them before a byte is written, and how they are read.
pub(crate) trait ResolvedImages: Send {
    /// The layers the package will hold.
    fn layers(&self) -> Vec<ImageLayers>;

    /// Their creation times.
    fn created(&self) -> Vec<Option<time::OffsetDateTime>>;

    /// The bytes they need where the package is written, `base` holding
    /// what an update package's base holds.
    fn size(&self, base: Option<&BaseHolds>) -> u64;

    /// Starts reading them for the writer's thread.
    fn start(self: Box<Self>, reporter: &dyn Reporter, cancel: &Cancel) -> ImageStream;
}

/// Images being read, for the writer's thread.
pub(crate) struct ImageStream {
    /// What the writer's thread reads them from.
    pub input: Box<dyn ImageInput>,
    /// The task that moves them towards it, if any: ended once it is done.
    pub pump: Option<tokio::task::JoinHandle<()>>,
    /// Where they come from, for the manifest (`Docker 26.1.4`, `registry`).
    pub origin: String,
}

/// The writer's thread's side of [`ImageStream`].
pub(crate) trait ImageInput: Send {
    /// Writes the images into the package. Blocks: run it on the writer's
    /// thread.
    fn write(
        self: Box<Self>,
        package: &mut PackageWriter,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Vec<PackagedImage>, PackageError>;
}

impl PackagePlan<'_> {
    /// Resolves the images: in their registries, or in `engine` (pulling
    /// those it lacks when the options allow). Images read from their
    /// registries whose tools fill or list a model cache must be in
    /// `engine` too: those are pulled there.
    pub(crate) async fn images<'e>(
        &self,
        engine: Option<&'e Engine>,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Box<dyn ResolvedImages + 'e>, PackageError> {
        let options = self.options;
        match (self.registry(), engine) {
            (Some(source), engine) => {
                let images = RegistryImages::resolve(
                    &options.nodes,
                    &options.auth,
                    source,
                    reporter,
                    cancel,
                )
                .await?;
                if let Some(engine) = engine {
                    for node in self.tool_nodes() {
                        tokio::select! {
                            found = engine.ensure_image(&node.image, options.pull, &options.auth, reporter) => found?,
                            _ = cancel.cancelled() => return Err(PackageError::Cancelled),
                        };
                    }
                }
                Ok(Box::new(images))
            }
            (None, Some(engine)) => {
                let images = EngineImages::resolve(
                    engine,
                    &options.nodes,
                    options.pull,
                    &options.auth,
                    reporter,
                    cancel,
                )
                .await?;
                Ok(Box::new(FromEngine { engine, images }))
            }
            (None, None) => Err(PackageError::NeedsEngine {
                what: "exporting the images",
            }),
        }
    }
}
