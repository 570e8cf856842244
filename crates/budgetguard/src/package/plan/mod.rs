//! The plan of a package, made once from its [`CreateOptions`]: its nodes
//! (no more than a reader opens), where its images come from (the engine
//! or their registries), the model caches it carries with the choices made
//! for each, and, for an update package, its base. The estimate and
//! `create_package` both work from it, so they decide alike: as install
//! has its load and model plans, create has this.

mod caches;
mod images;

pub(crate) use caches::{check_names, CacheFrom, CachePlan};
pub(crate) use images::{ImageInput, ImageStream, ResolvedImages};

use super::estimate::OVERHEAD;
use super::manifest::MAX_NODES;
use super::models::CacheSource;
use super::since::Base;
use super::writer::BaseHolds;
use super::{CreateOptions, PackageError, RegistrySource};
use crate::catalog::Node;
use crate::engine::Engine;
use crate::progress::Reporter;
use crate::Cancel;

/// A package as its options describe it, before anything is read.
#[derive(Debug)]
pub struct PackagePlan<'a> {
    options: &'a CreateOptions,
    caches: Vec<CachePlan<'a>>,
}

/// The images of a plan resolved, and what its base holds of them.
pub(crate) struct Resolved<'e> {
    /// The images.
    pub images: Box<dyn ResolvedImages + 'e>,
    /// What the base holds, for an update package.
    pub holds: Option<BaseHolds>,
}

impl<'a> PackagePlan<'a> {
    /// The plan of the package `options` describe.
    pub fn new(options: &'a CreateOptions) -> Self {
        Self {
            options,
            caches: CachePlan::all(&options.nodes, &options.models),
        }
    }

    /// How the images are read from their registries; `None`: the engine
    /// exports them.
    pub fn registry(&self) -> Option<&'a RegistrySource> {
        self.options.from_registry.as_ref()
    }

    /// Whether making the package needs the Docker engine: to export the
    /// images, or to fill or list a model cache with an image's own tools.
    pub fn needs_engine(&self) -> bool {
        self.registry().is_none() || !self.caches.is_empty()
    }

    /// Refuses more nodes than a package's reader opens.
    pub(crate) fn check_nodes(&self) -> Result<(), PackageError> {
        let count = self.options.nodes.len();
        if count > MAX_NODES {
            return Err(PackageError::TooManyNodes {
                count,
                max: MAX_NODES,
            });
        }
        Ok(())
    }

    /// The options the plan was made from.
    pub(crate) fn options(&self) -> &'a CreateOptions {
        self.options
    }

    /// The model caches the package carries, each once.
    pub(crate) fn caches(&self) -> &[CachePlan<'a>] {
        &self.caches
    }

    /// The nodes whose images' own tools fill or list a model cache.
    pub(crate) fn tool_nodes(&self) -> impl Iterator<Item = &'a Node> {
        let skip = self.options.models.skip;
        self.options
            .nodes
            .iter()
            .filter(move |n| n.model.is_some() && !skip)
    }

    /// Opens the base of an update package, if any, and resolves the
    /// images (see [`PackagePlan::images`]); what the base holds of them
    /// is known then. A base that cannot be used fails before any image is
    /// looked for.
    pub(crate) async fn resolve<'e>(
        &self,
        engine: Option<&'e Engine>,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Resolved<'e>, PackageError> {
        let base = self.options.since.as_deref().map(Base::open).transpose()?;
        let images = self.images(engine, reporter, cancel).await?;
        let holds = base.map(|base| base.holds(&images.layers()));
        Ok(Resolved { images, holds })
    }
}

impl Resolved<'_> {
    /// The bytes the package needs where it is written: its images, the
    /// model caches `caches` and [`OVERHEAD`].
    pub(crate) fn needed(&self, caches: &[CacheSource]) -> u64 {
        let mut needed = self.images.size(self.holds.as_ref()) + OVERHEAD;
        for cache in caches {
            needed += cache.walked.size();
        }
        needed
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::collections::HashSet;

    use super::*;
    use crate::catalog::Catalog;
    use crate::engine::RegistryAuth;
    use crate::models::{walk, ReadyCache};
    use crate::package::zip::Compression;
    use crate::package::ModelOptions;

    /// Options for a package of `nodes` carrying `models`, from the engine.
    pub(crate) fn options(nodes: &[Node], models: &ModelOptions) -> CreateOptions {
        CreateOptions {
            nodes: nodes.to_vec(),
            output: "p.zip".into(),
            compression: Compression::None,
            force: false,
            pull: true,
            auth: RegistryAuth::new(None),
            start_after_install: false,
            models: models.clone(),
            sign: None,
            from_registry: None,
            since: None,
            created: None,
            split: None,
        }
    }

    /// The built-in catalog's nodes called `names`.
    pub(crate) fn nodes(names: &[&str]) -> Vec<Node> {
        let catalog = Catalog::builtin();
        names
            .iter()
            .map(|n| catalog.get(n).unwrap().clone())
            .collect()
    }

    #[test]
    fn the_engine_is_needed_to_export_or_to_run_an_images_tools() {
        let skip = ModelOptions {
            skip: true,
            ..Default::default()
        };
        let mut exported = options(&nodes(&["Demo"]), &skip);
        assert!(PackagePlan::new(&exported).needs_engine(), "the export");
        assert!(PackagePlan::new(&exported).registry().is_none());

        exported.from_registry = Some(RegistrySource::default());
        let served = exported;
        let plan = PackagePlan::new(&served);
        assert!(!plan.needs_engine(), "models left out");
        assert_eq!(plan.tool_nodes().count(), 0);

        let filled = CreateOptions {
            models: ModelOptions::default(),
            nodes: nodes(&["FLUX Dev", "FLUX Canny", "Demo"]),
            ..served.clone()
        };
        let plan = PackagePlan::new(&filled);
        assert!(plan.needs_engine(), "the caches are filled by the images");
        let tools: Vec<&str> = plan.tool_nodes().map(|n| n.name.as_str()).collect();
        assert_eq!(
            tools,
            ["FLUX Dev", "FLUX Canny", "Demo"],
            "every node's image"
        );
        assert_eq!(plan.caches().len(), 2, "each cache once");
    }

    #[test]
    fn more_nodes_than_a_reader_opens_are_refused() {
        let demo = nodes(&["Demo"]);
        let mut options = options(&demo, &ModelOptions::default());
        options.nodes = vec![demo[0].clone(); MAX_NODES];
        PackagePlan::new(&options).check_nodes().unwrap();
        options.nodes.push(demo[0].clone());
        assert!(matches!(
            PackagePlan::new(&options).check_nodes(),
            Err(PackageError::TooManyNodes { count, max }) if count == MAX_NODES + 1 && max == MAX_NODES
        ));
    }

    #[tokio::test]
    async fn a_base_that_cannot_be_used_fails_before_any_image_is_looked_for() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_package = dir.path().join("old.zip");
        std::fs::write(&not_a_package, b"not a zip").unwrap();
        let mut update = options(&nodes(&["Demo"]), &ModelOptions::default());
        update.since = Some(not_a_package);
        // No engine to export from: that would fail next.
        let plan = PackagePlan::new(&update);
        let error = plan
            .resolve(None, &crate::progress::Silent, &Cancel::new())
            .await
            .err()
            .unwrap();
        assert!(matches!(error, PackageError::Base(_)), "{error}");
        update.since = None;
        let error = PackagePlan::new(&update)
            .resolve(None, &crate::progress::Silent, &Cancel::new())
            .await
            .err()
            .unwrap();
        assert!(matches!(error, PackageError::NeedsEngine { .. }), "{error}");
    }

    /// Images of 100 bytes, 40 of them not held by a base.
    struct Sized;

    impl ResolvedImages for Sized {
        fn layers(&self) -> Vec<crate::package::since::ImageLayers> {
            Vec::new()
        }
        fn created(&self) -> Vec<Option<time::OffsetDateTime>> {
            Vec::new()
        }
        fn size(&self, base: Option<&BaseHolds>) -> u64 {
            if base.is_some() {
                40
            } else {
                100
            }
        }
        fn start(self: Box<Self>, _: &dyn Reporter, _: &Cancel) -> ImageStream {
            unreachable!("only sized")
        }
    }

    #[test]
    fn the_space_needed_is_the_images_less_what_the_base_holds_the_caches_and_the_overhead() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("w.bin"), [0u8; 500]).unwrap();
        let cache = CacheSource {
            ready: ReadyCache {
                name: "demo".into(),
                dir: dir.path().to_owned(),
                image: "demo:1".into(),
                profiles: Vec::new(),
            },
            walked: walk(dir.path()).unwrap(),
        };
        let whole = Resolved {
            images: Box::new(Sized),
            holds: None,
        };
        assert_eq!(whole.needed(&[]), 100 + OVERHEAD);
        assert_eq!(
            whole.needed(std::slice::from_ref(&cache)),
            100 + OVERHEAD + 500
        );
        let update = Resolved {
            images: Box::new(Sized),
            holds: Some(BaseHolds {
                package_id: "ab".repeat(32),
                file_name: None,
                entries: HashSet::new(),
                layers: Default::default(),
                diff_ids: HashSet::new(),
            }),
        };
        assert_eq!(update.needed(&[cache]), 40 + OVERHEAD + 500);
    }
}
