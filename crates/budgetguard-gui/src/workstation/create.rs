//! The create form as the library's [`CreateOptions`], for the estimate and
//! for Create alike: each field checked, its problem said at the field;
//! whether Create needs Docker, and the words when Docker does not answer;
//! and the size of images read from their registries, kept a little while
//! (the estimate asks again at every change of the form).

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

use budgetguard::catalog::Node;
use budgetguard::package::estimate::RegistrySize;
use budgetguard::package::split::PartSize;
use budgetguard::package::{source_date_epoch, CreateOptions, Package, PackageError};
use budgetguard::package::{PackagePlan, RegistrySource};
use budgetguard::registry::Platform;
use budgetguard::Cancel;

use super::{Unavailable, Workstation};
use crate::messages::{controls, package_error, Field, Message};
use crate::paths::zip_file;
use crate::settings::PackageSettings;

/// The most downloads at once the form takes (as the command line).
const MAX_JOBS: usize = 64;

/// How long a registry size is reused for the same images, platform and
/// base.
const SIZE_KEPT: Duration = Duration::from_secs(30);

/// How long the estimate waits for the registries.
const SIZE_LIMIT: Duration = Duration::from_secs(20);

/// The create form as options, and what is wrong with it.
#[derive(Debug)]
pub(crate) struct Draft {
    /// The options, with the default in place of each part that has a
    /// problem; unsigned (the key's password comes with Create only).
    pub options: CreateOptions,
    /// The problems, each at its field.
    pub problems: Vec<Message>,
}

/// The last registry size asked for: its images, platform and base (with
/// the base's time), when, and the answer.
#[derive(Debug)]
struct KeptSize {
    key: SizeKey,
    at: Instant,
    size: Result<RegistrySize, Message>,
}

type SizeKey = (Vec<String>, String, Option<(PathBuf, Option<SystemTime>)>);

/// The registry size last asked for, if any.
#[derive(Debug, Default)]
pub(crate) struct RegistrySizes(Mutex<Option<KeptSize>>);

impl Workstation {
    /// The form's `settings` for `nodes` as options; `Err` when the output
    /// file is refused (nothing can be estimated without it).
    pub(crate) fn draft(
        &self,
        nodes: Vec<Node>,
        settings: &PackageSettings,
    ) -> Result<Draft, Message> {
        let output = zip_file(&settings.output, Field::Output)?;
        let mut problems = Vec::new();
        let models = self
            .model_options(&nodes, settings.models, &settings.profiles)
            .unwrap_or_else(|message| {
                problems.push(message);
                // As if the profiles field were empty.
                self.model_options(&nodes, settings.models, "")
                    .unwrap_or_default()
            });
        let from_registry = registry_source(settings, &mut problems);
        let split = part_size(&settings.split, &mut problems);
        let since = since(&settings.since, &output).unwrap_or_else(|message| {
            problems.push(message);
            None
        });
        let created = source_date_epoch().unwrap_or_else(|e| {
            problems.push(package_error(&e));
            None
        });
        Ok(Draft {
            options: CreateOptions {
                nodes,
                output,
                compression: settings.compression,
                force: settings.force,
                pull: !settings.no_pull,
                auth: self.session().auth(),
                start_after_install: settings.start_after_install,
                models,
                sign: None,
                from_registry,
                since,
                created,
                split,
            },
            problems,
        })
    }

    /// What the images of `options` come to when read from their
    /// registries, or why that is not known; `None` when they come from
    /// Docker. Asked again after [`SIZE_KEPT`], or for other images,
    /// platform or base.
    pub(crate) async fn registry_size(
        &self,
        options: &CreateOptions,
    ) -> Option<Result<RegistrySize, Message>> {
        let plan = PackagePlan::new(options);
        let source = plan.registry()?;
        let key = (
            options.nodes.iter().map(|n| n.image.clone()).collect(),
            source.platform.to_string(),
            options.since.as_ref().map(|path| {
                let modified = std::fs::metadata(path).and_then(|m| m.modified()).ok();
                (path.clone(), modified)
            }),
        );
        if let Some(kept) = &*self.registry_sizes.0.lock().expect("not poisoned") {
            if kept.key == key && kept.at.elapsed() < SIZE_KEPT {
                return Some(kept.size.clone());
            }
        }
        let cancel = Cancel::new();
        let asked = plan.registry_size(&cancel);
        let size = match tokio::time::timeout(SIZE_LIMIT, asked).await {
            Ok(size) => size?.map_err(|e| package_error(&e)),
            Err(_) => Err(Message::new(format!(
                "the registries did not answer within {} s",
                SIZE_LIMIT.as_secs()
            ))),
        };
        *self.registry_sizes.0.lock().expect("not poisoned") = Some(KeptSize {
            key,
            at: Instant::now(),
            size: size.clone(),
        });
        Some(size)
    }
}

/// Why Create cannot make the package of `options` while Docker does not
/// answer (`down`: why), and what to do.
pub(crate) fn engine_needed(options: &CreateOptions, down: &Unavailable) -> Message {
    let (why, fix) = if options.from_registry.is_none() {
        (
            "Create exports the images from it",
            format!("tick “{}”", controls::FROM_REGISTRY),
        )
    } else {
        (
            "the model caches are filled with the images' own tools, which run in it",
            format!("untick “{}”", controls::MODELS),
        )
    };
    Message::new(format!(
        "Docker does not answer, and {why}: {}. Start Docker, or {fix}.",
        down.to_string().trim_end_matches('.')
    ))
}

/// How the form reads images from their registries (`None`: Docker
/// exports them); a value that cannot be used is replaced by the default,
/// and its problem added to `problems`.
fn registry_source(
    settings: &PackageSettings,
    problems: &mut Vec<Message>,
) -> Option<RegistrySource> {
    if !settings.from_registry {
        return None;
    }
    let default = RegistrySource::default();
    let platform = platform(&settings.platform).unwrap_or_else(|message| {
        problems.push(message);
        default.platform
    });
    let jobs = if (1..=MAX_JOBS).contains(&settings.jobs) {
        settings.jobs
    } else {
        problems.push(Message::at(
            Field::Jobs,
            format!(
                "Enter how many downloads run at once in “{}”: from 1 to {MAX_JOBS}.",
                controls::JOBS
            ),
        ));
        default.jobs
    };
    Some(RegistrySource { platform, jobs })
}

/// The part size typed in “Split into parts of”; `None` for one file (or
/// a size refused, with its problem).
fn part_size(typed: &str, problems: &mut Vec<Message>) -> Option<PartSize> {
    if typed.trim().is_empty() {
        return None;
    }
    typed
        .parse()
        .map_err(|problem| {
            problems.push(Message::at(
                Field::Split,
                format!(
                    "Enter a part size in “{}”, e.g. 4095MiB for a FAT32 drive or 700MB: {problem}.",
                    controls::SPLIT
                ),
            ))
        })
        .ok()
}

/// The platform typed in “Platform”.
fn platform(typed: &str) -> Result<Platform, Message> {
    if typed.trim().is_empty() {
        return Err(Message::at(
            Field::Platform,
            format!(
                "Enter the platform of the workstations in “{}”, e.g. `linux/amd64`.",
                controls::PLATFORM
            ),
        ));
    }
    typed
        .trim()
        .parse()
        .map_err(|e| Message::at(Field::Platform, format!("{}.", budgetguard::error_text(&e))))
}

/// The old package typed in “Update of”, checked as far as opening it;
/// `None`: a whole package.
fn since(typed: &str, output: &Path) -> Result<Option<PathBuf>, Message> {
    if typed.trim().is_empty() {
        return Ok(None);
    }
    let path = zip_file(typed, Field::Since)?;
    if !path.is_file() {
        return Err(Message::at(
            Field::Since,
            format!(
                "There is no file `{}`: check the path in “{}”, or empty it to make a whole package.",
                path.display(),
                controls::SINCE
            ),
        ));
    }
    if path == output {
        return Err(Message::at(
            Field::Since,
            "The old package cannot be the output file: choose another output file.",
        ));
    }
    Package::open(&path).map_err(|e| package_error(&PackageError::Base(Box::new(e))))?;
    Ok(Some(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> PackageSettings {
        PackageSettings {
            from_registry: true,
            ..PackageSettings::new("/tmp/p.zip".into())
        }
    }

    #[test]
    fn registry_settings_are_checked_at_their_fields() {
        let mut problems = Vec::new();
        let source = registry_source(&settings(), &mut problems).unwrap();
        assert_eq!(source, RegistrySource::default());
        let off = PackageSettings::new("/tmp/p.zip".into());
        assert_eq!(registry_source(&off, &mut problems), None);
        assert_eq!(problems, []);
        for typed in ["", " ", "linux", "linux/amd64/v3/x"] {
            let message = platform(typed).unwrap_err();
            assert_eq!(message.field, Some(Field::Platform), "{typed}");
        }
        assert_eq!(
            platform(" linux/arm64 ").unwrap().to_string(),
            "linux/arm64"
        );
        for jobs in [0, MAX_JOBS + 1] {
            let wrong = PackageSettings {
                platform: "linux/arm64".into(),
                jobs,
                ..settings()
            };
            let source = registry_source(&wrong, &mut problems).unwrap();
            assert_eq!(source.platform.to_string(), "linux/arm64", "kept");
            assert_eq!(source.jobs, RegistrySource::default().jobs);
            assert_eq!(problems.pop().unwrap().field, Some(Field::Jobs));
        }
    }

    #[test]
    fn the_part_size_is_checked_at_its_field() {
        let mut problems = Vec::new();
        assert_eq!(part_size(" ", &mut problems), None);
        let fat32 = part_size(crate::settings::FAT32_PART, &mut problems).unwrap();
        assert_eq!(fat32.bytes(), 4095 << 20);
        assert_eq!(problems, []);
        assert_eq!(part_size("4 parsecs", &mut problems), None);
        let problem = problems.pop().unwrap();
        assert_eq!(problem.field, Some(Field::Split));
        assert!(
            problem.text.contains("Split into parts of"),
            "{}",
            problem.text
        );
        for (typed, choice) in [("", "none"), ("4095MiB", "fat32"), ("700MB", "custom")] {
            let settings = PackageSettings {
                split: typed.into(),
                ..settings()
            };
            assert!(settings.split_is(choice), "{typed}");
        }
    }

    #[test]
    fn the_old_package_is_refused_at_its_field() {
        let dir = tempfile::tempdir().unwrap();
        let output = dir.path().join("new.zip");
        assert_eq!(since("  ", &output).unwrap(), None);
        let missing = since(dir.path().join("old.zip").to_str().unwrap(), &output).unwrap_err();
        assert_eq!(missing.field, Some(Field::Since));
        assert!(
            missing.text.starts_with("There is no file"),
            "{}",
            missing.text
        );
        let not_zip = since(dir.path().join("old.tar").to_str().unwrap(), &output).unwrap_err();
        assert_eq!(not_zip.field, Some(Field::Since));
        std::fs::write(&output, b"not a zip").unwrap();
        let itself = since(output.to_str().unwrap(), &output).unwrap_err();
        assert!(
            itself.text.contains("cannot be the output file"),
            "{}",
            itself.text
        );
        let garbage = dir.path().join("garbage.zip");
        std::fs::write(&garbage, b"not a zip").unwrap();
        let unreadable = since(garbage.to_str().unwrap(), &output).unwrap_err();
        assert_eq!(unreadable.field, Some(Field::Since));
        assert!(
            unreadable
                .text
                .starts_with("The old package in “Update of” cannot be used:"),
            "{}",
            unreadable.text
        );
    }
}
