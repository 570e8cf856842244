//! Before building: each node's image as the engine has it, the estimated
//! package size of a selection (images and model caches, from the
//! library's [`estimate`](budgetguard::package::estimate)) against the free
//! space where it goes, and the packages already made in the output folder.

use std::path::{Path, PathBuf};

use budgetguard::catalog::Node;
use budgetguard::engine::Engine;
use budgetguard::package::estimate::{CacheSize, ImageSize};
use budgetguard::package::{Package, SizeEstimate};
use budgetguard::size::human;
use serde::Serialize;

use crate::messages::{controls, Field, Message};
use crate::pages::utc_time;

/// How many packages the list shows, newest first.
const LISTED: usize = 50;

/// What `engine` has of `node`'s image.
pub(crate) async fn image_size(engine: Option<&Engine>, node: &Node) -> ImageSize {
    let Some(engine) = engine else {
        return ImageSize::Unknown;
    };
    match engine.image(&node.image).await {
        Ok(Some(info)) => ImageSize::Present {
            id: info.id,
            size: info.size,
        },
        Ok(None) => ImageSize::Missing,
        Err(_) => ImageSize::Unknown,
    }
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

impl Estimate {
    /// The estimate of a package of `sizes` written to `output` (`force`:
    /// an existing file is replaced; `models`: whether the form packages
    /// models).
    pub(crate) fn new(sizes: &SizeEstimate, models: bool, output: &Path, force: bool) -> Self {
        let bytes = sizes.bytes;
        let mut parts = Vec::new();
        if sizes.images > 0 {
            parts.push(count(sizes.images, "image"));
        }
        if sizes.models_bytes() > 0 {
            parts.push(format!("models {}", human(sizes.models_bytes())));
        }
        let mut size = format!("About {}", human(bytes));
        if !parts.is_empty() {
            size.push_str(&format!(" ({})", parts.join(", ")));
        }
        if !sizes.to_pull.is_empty() {
            size.push_str(&format!(
                ", plus {} to pull, whose size is known once pulled",
                count(sizes.to_pull.len(), "image")
            ));
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
        let models = if !models {
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
                "The folder `{}` does not exist: create it, or choose another output file.",
                folder.display()
            );
            estimate.space = "No such folder".to_owned();
            estimate.blocker = Some(text.clone());
            estimate.output = Some(Message::at(Field::Output, text));
            return estimate;
        }
        match fs4::available_space(folder) {
            Ok(free) => {
                estimate.space = format!("{} free in `{}`", human(free), folder.display());
                if free < bytes {
                    let text = format!(
                        "The package will not fit: it needs about {}, and `{}` has {} free. Free some space, or choose an output file in another folder.",
                        human(bytes),
                        folder.display(),
                        human(free)
                    );
                    estimate.warning = Some(text.clone());
                    estimate.blocker = Some(text);
                }
            }
            Err(e) => estimate.space = format!("Free space unknown ({e})"),
        }
        if !force && std::fs::symlink_metadata(output).is_ok() {
            let text = format!(
                "`{}` already exists: tick “{}”, or choose another output file.",
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
}

/// The `.zip` files of `folder`, newest first; each opened to name its
/// nodes (which reads its manifest only).
pub(crate) fn list_packages(folder: &Path) -> Result<Vec<PackageFile>, String> {
    let entries = std::fs::read_dir(folder)
        .map_err(|e| format!("Cannot list `{}`: {e}", folder.display()))?;
    let mut files: Vec<(std::time::SystemTime, PathBuf, u64)> = entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let path = entry.path();
            let meta = entry.metadata().ok()?;
            (meta.is_file() && crate::paths::is_zip(&path)).then(|| {
                let modified = meta.modified().unwrap_or(std::time::UNIX_EPOCH);
                (modified, path, meta.len())
            })
        })
        .collect();
    files.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    files.truncate(LISTED);
    Ok(files
        .into_iter()
        .map(|(modified, path, size)| PackageFile {
            name: path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            size: human(size),
            modified: utc_time(time::OffsetDateTime::from(modified)),
            nodes: Package::open(&path)
                .map(|p| {
                    p.manifest()
                        .nodes
                        .iter()
                        .map(|n| n.node.name.clone())
                        .collect()
                })
                .map_err(|e| budgetguard::error_text(&e)),
            path: path.display().to_string(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetguard::catalog::Catalog;
    use budgetguard::package::{estimate, ModelOptions};

    fn sizes(
        images: &[(String, ImageSize)],
        nodes: &[&str],
        models: &ModelOptions,
    ) -> SizeEstimate {
        let catalog = Catalog::builtin();
        let nodes: Vec<Node> = nodes
            .iter()
            .map(|n| catalog.get(n).unwrap().clone())
            .collect();
        estimate(&nodes, images, models)
    }

    #[test]
    fn shared_images_count_once_and_pulls_and_downloads_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let present = |id: &str, size| ImageSize::Present {
            id: id.into(),
            size,
        };
        let images = [
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("b:1".to_owned(), ImageSize::Missing),
        ];
        let skip = ModelOptions {
            skip: true,
            ..Default::default()
        };
        let found = sizes(&images, &["Demo"], &skip);
        let estimate = Estimate::new(&found, false, &dir.path().join("p.zip"), false);
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
        let estimate = Estimate::new(&found, true, &dir.path().join("p.zip"), false);
        assert_eq!(
            estimate.size,
            "About 101.0 MiB (1 image), plus models to download (demo), whose size is known once downloaded"
        );
        assert_eq!(
            estimate.models,
            "demo (demo-base-cpu): downloaded at Create"
        );

        let found = sizes(&images, &["Demo"], &skip);
        std::fs::write(dir.path().join("p.zip"), b"x").unwrap();
        let exists = Estimate::new(&found, false, &dir.path().join("p.zip"), false);
        assert!(exists.blocker.unwrap().contains("already exists"));
        assert!(
            Estimate::new(&found, false, &dir.path().join("p.zip"), true)
                .blocker
                .is_none()
        );

        let nowhere = Estimate::new(&found, false, &dir.path().join("no/p.zip"), false);
        assert!(nowhere.blocker.unwrap().contains("does not exist"));

        let huge = sizes(
            &[("h:1".to_owned(), present("sha256:h", u64::MAX / 2))],
            &[],
            &skip,
        );
        let mut full = Estimate::new(&huge, false, &dir.path().join("q.zip"), false);
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
}
