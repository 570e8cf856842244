//! Before building: each node's image as the engine has it, the estimated
//! package size of a selection against the free space where it goes, and
//! the packages already made in the output folder.

use std::path::{Path, PathBuf};

use budgetguard::catalog::Node;
use budgetguard::engine::Engine;
use budgetguard::package::Package;
use budgetguard::size::human;
use serde::Serialize;

use crate::messages::{controls, Field, Message};
use crate::pages::utc_time;

/// Bytes a package holds beside its images (manifest, Compose files,
/// scripts): the library's own allowance.
const OVERHEAD: u64 = 1 << 20;

/// How many packages the list shows, newest first.
const LISTED: usize = 50;

/// What the engine has of a node's image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ImageFacts {
    /// The engine has it: its ID and size.
    Present {
        /// The image ID.
        id: String,
        /// Its size in bytes.
        size: u64,
    },
    /// The engine lacks it: Create pulls it.
    Missing,
    /// The engine could not be asked.
    Unknown,
}

impl ImageFacts {
    /// What `engine` has of `node`'s image.
    pub(crate) async fn of(engine: Option<&Engine>, node: &Node) -> Self {
        let Some(engine) = engine else {
            return Self::Unknown;
        };
        match engine.image(&node.image).await {
            Ok(Some(info)) => Self::Present {
                id: info.id,
                size: info.size,
            },
            Ok(None) => Self::Missing,
            Err(_) => Self::Unknown,
        }
    }
}

/// The estimate for a selection, as the create form shows it.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Estimate {
    /// `About 1.2 GiB (2 images)`, with what is not known yet.
    pub size: String,
    /// `5.0 GiB free in /out`, or why the folder cannot be used.
    pub space: String,
    /// The package will not fit: the warning.
    pub warning: Option<String>,
    /// A problem of the output field (folder missing, file exists).
    pub output: Option<Message>,
    /// Why Create cannot work now, if so.
    pub blocker: Option<String>,
}

impl Estimate {
    /// The estimate of a package of `images` written to `output`
    /// (`force`: an existing file is replaced).
    pub(crate) fn new(images: &[(String, ImageFacts)], output: &Path, force: bool) -> Self {
        let mut ids: Vec<&str> = Vec::new();
        let mut bytes = OVERHEAD;
        let mut to_pull: Vec<&str> = Vec::new();
        let mut unknown = false;
        for (reference, facts) in images {
            match facts {
                ImageFacts::Present { id, size } => {
                    if !ids.contains(&id.as_str()) {
                        ids.push(id);
                        bytes += size;
                    }
                }
                ImageFacts::Missing => {
                    if !to_pull.contains(&reference.as_str()) {
                        to_pull.push(reference);
                    }
                }
                ImageFacts::Unknown => unknown = true,
            }
        }
        let mut size = format!(
            "About {}{}",
            human(bytes),
            match ids.len() {
                0 => String::new(),
                1 => " (1 image)".to_owned(),
                n => format!(" ({n} images)"),
            }
        );
        if !to_pull.is_empty() {
            size.push_str(&format!(
                ", plus {} to pull, whose size is known once pulled",
                if to_pull.len() == 1 {
                    "1 image".to_owned()
                } else {
                    format!("{} images", to_pull.len())
                }
            ));
        }
        if unknown {
            size = "Unknown: Docker does not answer".to_owned();
        }
        let folder = output.parent().unwrap_or(Path::new("/"));
        let mut estimate = Self {
            size,
            space: String::new(),
            warning: None,
            output: None,
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

    #[test]
    fn shared_images_count_once_and_pulls_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let present = |id: &str, size| ImageFacts::Present {
            id: id.into(),
            size,
        };
        let images = [
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("a:1".to_owned(), present("sha256:a", 100 << 20)),
            ("b:1".to_owned(), ImageFacts::Missing),
        ];
        let estimate = Estimate::new(&images, &dir.path().join("p.zip"), false);
        assert_eq!(
            estimate.size,
            "About 101.0 MiB (1 image), plus 1 image to pull, whose size is known once pulled"
        );
        assert!(estimate.space.contains("free in"), "{}", estimate.space);
        assert_eq!(estimate.blocker, None);

        std::fs::write(dir.path().join("p.zip"), b"x").unwrap();
        let exists = Estimate::new(&images, &dir.path().join("p.zip"), false);
        assert!(exists.blocker.unwrap().contains("already exists"));
        assert!(Estimate::new(&images, &dir.path().join("p.zip"), true)
            .blocker
            .is_none());

        let nowhere = Estimate::new(&images, &dir.path().join("no/p.zip"), false);
        assert!(nowhere.blocker.unwrap().contains("does not exist"));

        let huge = [("h:1".to_owned(), present("sha256:h", u64::MAX / 2))];
        let full = Estimate::new(&huge, &dir.path().join("q.zip"), false);
        assert!(full
            .warning
            .unwrap()
            .starts_with("The package will not fit"));
    }
}
