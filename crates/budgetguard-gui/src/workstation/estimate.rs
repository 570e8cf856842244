//! Before building: each node's image as the engine has it, the estimated
//! package size of a selection (images and model caches, from the
//! library's [`PackagePlan::estimate`](budgetguard::package::PackagePlan::estimate); images read from
//! their registries sized from their manifests; what an update package's
//! base holds left out) against the free space where it goes, and the
//! packages already made in the output folder.

use std::path::{Path, PathBuf};

use budgetguard::catalog::Node;
use budgetguard::engine::{Engine, ImageInfo};
use budgetguard::package::estimate::{CacheSize, ImageSize, RegistrySize};
use budgetguard::package::{CreateOptions, Package, SizeEstimate};
use budgetguard::size::human;
use serde::Serialize;

use crate::format::{base_text, utc_time};
use crate::messages::{controls, Field, Message};

/// How many packages the list shows, newest first.
const LISTED: usize = 50;

/// What `engine` has of `node`'s image: `Err` when it could not be asked.
pub(crate) async fn image_info(
    engine: Option<&Engine>,
    node: &Node,
) -> Result<Option<ImageInfo>, ()> {
    match engine {
        Some(engine) => engine.image(&node.image).await.map_err(drop),
        None => Err(()),
    }
}

/// The size of an image `image_info` found.
pub(crate) fn image_size(found: &Result<Option<ImageInfo>, ()>) -> ImageSize {
    match found {
        Ok(Some(info)) => ImageSize::Present {
            id: info.id.to_string(),
            size: info.size,
        },
        Ok(None) => ImageSize::Missing,
        Err(()) => ImageSize::Unknown,
    }
}

/// Where an estimate's image bytes come from.
#[derive(Debug, Clone)]
pub(crate) enum ImageBytes {
    /// Docker's images, whose sizes the library's estimate holds; for an
    /// update package, the bytes its base holds (or why they are unknown).
    Engine(Option<Result<u64, Message>>),
    /// Their registries: what they come to, or why that is unknown.
    Registry(Result<RegistrySize, Message>),
}

/// The estimate for a selection, as the create form shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Estimate {
    /// `About 1.2 GiB (2 images, models 3.0 GiB)`, with what is not known
    /// yet.
    pub size: String,
    /// Each model cache the package would carry, and where its bytes come
    /// from; or why none.
    pub models: String,
    /// `5.0 GiB free in /out`, or why the folder cannot be used.
    pub space: String,
    /// The package will not fit: the warning.
    pub warning: Option<String>,
    /// A problem of the output field (folder missing, file exists).
    pub output: Option<Message>,
    /// Which key signs the package, if any.
    pub signature: String,
    /// Problems of the other fields (profiles, signing key), each at its
    /// field.
    pub problems: Vec<Message>,
    /// Why Create cannot work now, if so.
    pub blocker: Option<String>,
}

/// `1 image`, `2 images`.
fn count(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

/// The catalog's typical download size of `image`, from the first of
/// `nodes` that runs it and knows one.
fn typical_size(nodes: &[Node], image: &str) -> Option<u64> {
    nodes
        .iter()
        .filter(|node| node.image == image)
        .find_map(|node| node.typical_image_size)
}

/// `about 5.1 MiB to download (typical)`: a catalog's typical size, said
/// as one.
pub(crate) fn typical_text(bytes: u64) -> String {
    format!("about {} to download (typical)", human(bytes))
}

impl Estimate {
    /// The estimate of the package `options` make, of `sizes` (the
    /// library's estimate of Docker's images, when they come from Docker)
    /// and the image bytes `images`.
    pub(crate) fn new(sizes: &SizeEstimate, images: &ImageBytes, options: &CreateOptions) -> Self {
        let (output, force) = (options.output.as_path(), options.force);
        // `needed`: what Create wants free. An export is written whole
        // before what the base holds is left out; a registry's blobs that
        // the base holds are never downloaded.
        let (bytes, needed, image_count, left_out, unknown) = match images {
            ImageBytes::Engine(left_out) => {
                let left_out = left_out.as_ref().and_then(|l| l.as_ref().ok().copied());
                let bytes = sizes.bytes.saturating_sub(left_out.unwrap_or(0));
                (bytes, sizes.bytes, sizes.images, left_out, None)
            }
            ImageBytes::Registry(Ok(registry)) => {
                let bytes = sizes.bytes + registry.bytes;
                let left_out = options.since.as_ref().map(|_| registry.left_out);
                (bytes, bytes, registry.images, left_out, None)
            }
            ImageBytes::Registry(Err(message)) => {
                (sizes.bytes, sizes.bytes, 0, None, Some(message))
            }
        };
        let mut parts = Vec::new();
        if image_count > 0 {
            let served = matches!(images, ImageBytes::Registry(_));
            parts.push(format!(
                "{}{}",
                count(image_count, "image"),
                if served {
                    " as their registries serve them"
                } else {
                    ""
                }
            ));
        }
        if sizes.models_bytes() > 0 {
            parts.push(format!("models {}", human(sizes.models_bytes())));
        }
        let mut size = format!("About {}", human(bytes));
        if !parts.is_empty() {
            size.push_str(&format!(" ({})", parts.join(", ")));
        }
        match left_out {
            Some(0) => size.push_str("; the old package holds none of it"),
            Some(left_out) => size.push_str(&format!(
                ", without the {} the old package holds",
                human(left_out)
            )),
            None => {}
        }
        if !sizes.to_pull.is_empty() {
            size.push_str(&format!(
                ", plus {} to pull",
                count(sizes.to_pull.len(), "image")
            ));
            let typical: Vec<u64> = sizes
                .to_pull
                .iter()
                .filter_map(|image| typical_size(&options.nodes, image))
                .collect();
            if typical.is_empty() {
                size.push_str(", whose size is known once pulled");
            } else {
                size.push_str(&format!(": {}", typical_text(typical.iter().sum())));
                if typical.len() < sizes.to_pull.len() {
                    size.push_str(", and more whose size is known once pulled");
                }
            }
        }
        let downloads: Vec<&str> = sizes.to_download().map(|c| c.name.as_str()).collect();
        if !downloads.is_empty() {
            size.push_str(&format!(
                ", plus models to download ({}), whose size is known once downloaded",
                downloads.join(", ")
            ));
        }
        if sizes.images_unknown {
            size = "Unknown: Docker does not answer".to_owned();
        }
        if let Some(message) = unknown {
            size = format!("Unknown: {}", message.text);
        }
        let mut models = if options.models.skip {
            "Not packaged: the nodes download their models at first start, with the credentials stored on the workstation".to_owned()
        } else if sizes.caches.is_empty() {
            "None: the selected nodes have no model section".to_owned()
        } else {
            sizes
                .caches
                .iter()
                .map(|cache| {
                    let profiles = if cache.profiles.is_empty() {
                        "every profile".to_owned()
                    } else {
                        cache.profiles.join(", ")
                    };
                    let source = match &cache.size {
                        CacheSize::Held { bytes } => format!("{} on this machine", human(*bytes)),
                        CacheSize::Given { bytes } => human(*bytes),
                        CacheSize::ToDownload => "downloaded at Create".to_owned(),
                    };
                    format!("{} ({profiles}): {source}", cache.name)
                })
                .collect::<Vec<_>>()
                .join("; ")
        };
        if options.since.is_some() && !options.models.skip && !sizes.caches.is_empty() {
            models.push_str(
                "; the files the old package holds are left out, so the package may be smaller",
            );
        }
        let folder = output.parent().unwrap_or(Path::new("/"));
        let mut estimate = Self {
            size,
            models,
            space: String::new(),
            warning: None,
            output: None,
            signature: String::new(),
            problems: Vec::new(),
            blocker: None,
        };
        if !folder.is_dir() {
            let text = format!(
                "The folder “{}” does not exist: create it, or choose another output file.",
                folder.display()
            );
            estimate.space = "No such folder".to_owned();
            estimate.blocker = Some(text.clone());
            estimate.output = Some(Message::at(Field::Output, text));
            return estimate;
        }
        match fs4::available_space(folder) {
            Ok(free) => {
                estimate.space = format!("{} free in “{}”", human(free), folder.display());
                if free < needed {
                    let text = format!(
                        "The package will not fit: it needs about {}, and “{}” has {} free. Free some space, or choose an output file in another folder.",
                        human(needed),
                        folder.display(),
                        human(free)
                    );
                    estimate.warning = Some(text.clone());
                    estimate.blocker.get_or_insert(text);
                }
            }
            Err(e) => estimate.space = format!("Free space unknown ({e})"),
        }
        if !force && std::fs::symlink_metadata(output).is_ok() {
            let text = format!(
                "“{}” already exists: tick “{}”, or choose another output file.",
                output.display(),
                controls::FORCE
            );
            estimate.blocker.get_or_insert(text.clone());
            estimate.output = Some(Message::at(Field::Output, text));
        }
        estimate
    }

    /// Adds a problem of another field: it blocks Create too.
    pub(crate) fn problem(&mut self, message: Message) {
        self.blocker.get_or_insert(message.text.clone());
        self.problems.push(message);
    }
}

/// A `.zip` file of the output folder.
#[derive(Debug, Clone)]
pub(crate) struct PackageFile {
    /// Its full path.
    pub path: String,
    /// Its file name.
    pub name: String,
    /// Its size.
    pub size: String,
    /// When it was last written, in UTC.
    pub modified: String,
    /// The names of its nodes, or why it is not a readable package.
    pub nodes: Result<Vec<String>, String>,
    /// For an update package, its base and what it leaves out.
    pub base: Option<String>,
}

/// The packages of `folder` (`.zip` files and first parts, hidden ones
/// left out), newest first; each opened to name its
/// nodes (which reads its manifest only).
pub(crate) fn list_packages(folder: &Path) -> Result<Vec<PackageFile>, String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("Cannot list “{}”: {e}", folder.display()))?;
    let mut files: Vec<(std::time::SystemTime, PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let meta = entry.metadata().ok()?;
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            let package = crate::paths::is_zip(&path) || crate::paths::is_first_part(&path);
            (meta.is_file() && package && !hidden).then(|| {
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                (modified, path, meta.len())
            })
        })
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    files.truncate(LISTED);
    // Each package is opened on a thread of its own: opening a large
    // manifest is CPU work, and the files are independent.
    let opened: Vec<_> = std::thread::scope(|scope| {
        let openings: Vec<_> = files
            .iter()
            .map(|(_, path, _)| scope.spawn(move || Package::open(path)))
            .collect();
        openings
            .into_iter()
            .map(|opening| opening.join().expect("opening a package does not panic"))
            .collect()
    });
    Ok(files
        .into_iter()
        .zip(opened)
        .map(|((modified, path, size), package)| {
            let package = package.map_err(|e| budgetguard::error_text(&e));
            let manifest = package.as_ref().map(Package::manifest);
            PackageFile {
                name: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                size: human(size),
                modified: utc_time(time::OffsetDateTime::from(modified)),
                nodes: manifest
                    .map(|m| m.nodes.iter().map(|n| n.node.name.clone()).collect())
                    .map_err(String::clone),
                base: manifest.ok().and_then(|m| m.base.as_ref()).map(base_text),
                path: path.display().to_string(),
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetguard::catalog::Catalog;
    use budgetguard::engine::RegistryAuth;
    use budgetguard::package::zip::Compression;
    use budgetguard::package::{ModelOptions, PackagePlan};

    fn sizes(
        images: &[(String, ImageSize)],
        nodes: &[&str],
        models: &ModelOptions,
    ) -> SizeEstimate {
        let catalog = Catalog::builtin();
        let options = CreateOptions {
            nodes: nodes
                .iter()
                .map(|n| catalog.get(n).unwrap().clone())
                .collect(),
            ..options(PathBuf::from("p.zip"), false, models)
        };
        PackagePlan::new(&options).estimate(images)
    }

    /// Options writing `output` (`force`: replacing it), with `models`.
    fn options(output: PathBuf, force: bool, models: &ModelOptions) -> CreateOptions {
        CreateOptions {
            nodes: Vec::new(),
            output,
            compression: Compression::None,
            force,
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

    fn present(id: &str, size: u64) -> ImageSize {
        ImageSize::Present {
            id: id.into(),
            size,
        }
    }

    fn skip() -> ModelOptions {
        ModelOptions {
            skip: true,
            ..Default::default()
        }
    }

    #[test]
    fn shared_images_count_once_and_pulls_and_downloads_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let engine = ImageBytes::Engine(None);
        let images = [
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("b:1".to_owned(), ImageSize::Missing),
        ];
        let skip = skip();
        let p = dir.path().join("p.zip");
        let found = sizes(&images, &["Demo"], &skip);
        let estimate = Estimate::new(&found, &engine, &options(p.clone(), false, &skip));
        assert_eq!(
            estimate.size,
            "About 101.0 MiB (1 image), plus 1 image to pull, whose size is known once pulled"
        );
        assert!(
            estimate.models.starts_with("Not packaged"),
            "{}",
            estimate.models
        );
        assert!(estimate.space.contains("free in"), "{}", estimate.space);
        assert_eq!(estimate.blocker, None);

        let store = tempfile::tempdir().unwrap();
        let models = ModelOptions {
            store: Some(budgetguard::models::ModelStore::new(
                store.path().to_owned(),
            )),
            ..Default::default()
        };
        let found = sizes(&images[..1], &["Demo"], &models);
        let estimate = Estimate::new(&found, &engine, &options(p.clone(), false, &models));
        assert_eq!(
            estimate.size,
            "About 101.0 MiB (1 image), plus models to download (demo), whose size is known once downloaded"
        );
        assert_eq!(
            estimate.models,
            "demo (demo-base-cpu): downloaded at Create"
        );

        let found = sizes(&images, &["Demo"], &skip);
        std::fs::write(&p, b"x").unwrap();
        let exists = Estimate::new(&found, &engine, &options(p.clone(), false, &skip));
        assert!(exists.blocker.unwrap().contains("already exists"));
        let replaced = Estimate::new(&found, &engine, &options(p, true, &skip));
        assert!(replaced.blocker.is_none());

        let elsewhere = options(dir.path().join("no/p.zip"), false, &skip);
        let nowhere = Estimate::new(&found, &engine, &elsewhere);
        assert!(nowhere.blocker.unwrap().contains("does not exist"));

        let huge = sizes(
            &[("h:1".to_owned(), present("sha256:h", u64::MAX / 2))],
            &[],
            &skip,
        );
        let q = options(dir.path().join("q.zip"), false, &skip);
        let mut full = Estimate::new(&huge, &engine, &q);
        assert!(full
            .warning
            .clone()
            .unwrap()
            .starts_with("The package will not fit"));
        full.problem(Message::at(Field::Profiles, "bad"));
        assert!(full
            .blocker
            .unwrap()
            .starts_with("The package will not fit"));
    }

    #[test]
    fn images_to_pull_say_the_catalogs_typical_size() {
        let dir = tempfile::tempdir().unwrap();
        let skip = skip();
        let demo = Catalog::builtin().get("Demo").unwrap().clone();
        let typical = demo.typical_image_size.expect("the Demo's size is known");
        let images = [(demo.image.clone(), ImageSize::Missing)];
        let found = sizes(&images, &["Demo"], &skip);
        let create = CreateOptions {
            nodes: vec![demo],
            ..options(dir.path().join("p.zip"), false, &skip)
        };
        let estimate = Estimate::new(&found, &ImageBytes::Engine(None), &create);
        assert!(
            estimate.size.ends_with(&format!(
                ", plus 1 image to pull: about {} to download (typical)",
                human(typical)
            )),
            "{}",
            estimate.size
        );
        // An image the catalog knows no size of is said as unknown.
        let flux = Catalog::builtin().get("FLUX Dev").unwrap().clone();
        let images = [
            (create.nodes[0].image.clone(), ImageSize::Missing),
            (flux.image.clone(), ImageSize::Missing),
        ];
        let found = sizes(&images, &["Demo", "FLUX Dev"], &skip);
        let both = CreateOptions {
            nodes: vec![create.nodes[0].clone(), flux],
            ..create
        };
        let estimate = Estimate::new(&found, &ImageBytes::Engine(None), &both);
        assert!(
            estimate.size.ends_with(&format!(
                "plus 2 images to pull: about {} to download (typical), and more whose size is known once pulled",
                human(typical)
            )),
            "{}",
            estimate.size
        );
    }

    #[test]
    fn registry_sizes_and_what_the_old_package_holds_are_said() {
        let dir = tempfile::tempdir().unwrap();
        let skip = skip();
        let mut update = options(dir.path().join("p.zip"), false, &skip);
        let served = RegistrySize {
            images: 2,
            bytes: 50 << 20,
            left_out: 0,
        };
        let bare = sizes(&[], &[], &skip);
        let whole = Estimate::new(&bare, &ImageBytes::Registry(Ok(served.clone())), &update);
        assert_eq!(
            whole.size,
            "About 51.0 MiB (2 images as their registries serve them)"
        );

        update.since = Some(dir.path().join("old.zip"));
        let smaller = RegistrySize {
            left_out: 30 << 20,
            ..served
        };
        let registry = Estimate::new(&bare, &ImageBytes::Registry(Ok(smaller)), &update);
        assert_eq!(
            registry.size,
            "About 51.0 MiB (2 images as their registries serve them), without the 30.0 MiB the old package holds"
        );

        // From Docker, what the base holds is left out of the package, but
        // the export wants room for all of it.
        let exported = sizes(
            &[("a:1".to_owned(), present("sha256:a", 100 << 20))],
            &[],
            &skip,
        );
        let held = Estimate::new(&exported, &ImageBytes::Engine(Some(Ok(100 << 20))), &update);
        assert_eq!(
            held.size,
            "About 1.0 MiB (1 image), without the 100.0 MiB the old package holds"
        );
        let none = Estimate::new(&exported, &ImageBytes::Engine(Some(Ok(0))), &update);
        assert_eq!(
            none.size,
            "About 101.0 MiB (1 image); the old package holds none of it"
        );

        let refused = Message::at(Field::Platform, "`a:1` has no image for linux/amd64.");
        let unknown = Estimate::new(&bare, &ImageBytes::Registry(Err(refused)), &update);
        assert_eq!(unknown.size, "Unknown: “a:1” has no image for linux/amd64.");
    }
}
