//! `create-install-package`: resolve the nodes' images (in the engine, or in
//! their registries), prepare the model caches, then write the package on a
//! thread of its own beside the output under a temporary name that is
//! renamed only when everything is written.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::created::package_time;
use super::from_registry::RegistrySource;
use super::job::PackageJob;
use super::manifest::Manifest;
use super::models::{prepare_caches, ModelOptions};
use super::partial;
use super::plan::{ImageStream, PackagePlan};
use super::split::{PartList, PartSize, PartsWriter};
use super::zip::{Compression, ZipOutput};
use super::PackageError;
use crate::catalog::Node;
use crate::engine::{Engine, RegistryAuth};
use crate::progress::SharedReporter;
use crate::signing::SigningKey;
use crate::Cancel;

/// What to package, and where.
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// The nodes to install.
    pub nodes: Vec<Node>,
    /// The ZIP file to write.
    pub output: PathBuf,
    /// How to compress the entries.
    pub compression: Compression,
    /// Replace an existing output file.
    pub force: bool,
    /// Pull images the engine lacks: for its export, or (images from their
    /// registries) for the images' own tools that fill model caches.
    pub pull: bool,
    /// Registry logins, for pulls and for reading from registries.
    pub auth: RegistryAuth,
    /// Record in the package that its nodes start after install.
    pub start_after_install: bool,
    /// The model caches to carry.
    pub models: ModelOptions,
    /// The key that signs the package.
    pub sign: Option<std::sync::Arc<SigningKey>>,
    /// Read the images from their registries, with no engine, as the
    /// registry serves them (gzip layers); `None` exports them from the
    /// engine.
    pub from_registry: Option<RegistrySource>,
    /// Make an update package: leave out every blob and model file this
    /// older package holds, and record it as the base.
    pub since: Option<PathBuf>,
    /// The time the package says it was made, and its entries' times;
    /// `None` takes the newest creation time of its images. Faces pass
    /// [`super::source_date_epoch`].
    pub created: Option<time::OffsetDateTime>,
    /// Write the package as parts of at most this size (`<output>.001`,
    /// …) with their list, instead of one file.
    pub split: Option<PartSize>,
}

impl CreateOptions {
    /// Whether making this package needs the Docker engine: to export the
    /// images, or to fill or list a model cache with an image's own tools.
    /// A face may then leave the engine out (`None`) of
    /// [`create_package`].
    pub fn needs_engine(&self) -> bool {
        PackagePlan::new(self).needs_engine()
    }
}

/// What was written.
#[derive(Debug, Clone, Serialize)]
pub struct CreateReport {
    /// The package file.
    pub path: PathBuf,
    /// Its size in bytes.
    pub size: u64,
    /// The package id: the SHA-256 of its manifest, which lists the SHA-256
    /// of every other entry.
    pub package_id: String,
    /// The key that signed it, if any.
    pub signed_by: Option<String>,
    /// For an update package: the bytes it leaves out because its base
    /// holds them.
    pub savings: u64,
    /// The parts and their list, when the package was split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<PartList>,
    /// The manifest it carries (its `base` names an update package's base).
    pub manifest: Manifest,
}

/// Makes a package as `options` say, reporting progress; on any failure or
/// cancellation nothing is left at or beside the output path. `engine` may
/// be `None` when [`CreateOptions::needs_engine`] says so.
pub async fn create_package(
    engine: Option<&Engine>,
    options: &CreateOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<CreateReport, PackageError> {
    let output = std::path::absolute(&options.output).map_err(|source| PackageError::Io {
        action: "resolve",
        path: options.output.clone(),
        source,
    })?;
    if let Some(since) = &options.since {
        if same_file(since, &output) {
            return Err(PackageError::BaseIsOutput {
                path: since.clone(),
            });
        }
    }
    let plan = PackagePlan::new(options);
    plan.check_nodes()?;
    match options.split {
        Some(_) => super::split::check_parts_free(&output, options.force)?,
        None => check_output(&output, options.force)?,
    }
    let dir = output.parent().unwrap_or(Path::new("/")).to_owned();
    partial::remove_stale(&dir);
    let resolved = plan.resolve(engine, &*reporter, cancel).await?;
    let caches = prepare_caches(engine, &plan, reporter.clone(), cancel).await?;
    let needed = resolved.needed(&caches);
    let available = fs4::available_space(&dir).map_err(|source| PackageError::Io {
        action: "check free space in",
        path: dir.clone(),
        source,
    })?;
    if available < needed {
        return Err(PackageError::DiskFull {
            dir,
            needed,
            available,
        });
    }

    let file_name = output
        .file_name()
        .map_or("package".into(), |n| n.to_string_lossy());
    let destination = match options.split {
        Some(size) => Destination::Parts(PartsWriter::new(&dir, &file_name, size)),
        None => Destination::File(partial::create(&dir, &file_name).map_err(|source| {
            PackageError::Io {
                action: "create a file in",
                path: dir.clone(),
                source,
            }
        })?),
    };

    let time = package_time(options.created, resolved.images.created());
    let ImageStream {
        input,
        pump,
        origin,
    } = resolved.images.start(&*reporter, cancel);
    let job = PackageJob {
        nodes: options.nodes.clone(),
        images: input,
        compression: options.compression,
        output: output.clone(),
        source_engine: origin,
        start_after_install: options.start_after_install,
        caches,
        sign: options.sign.clone(),
        time,
        base: resolved.holds,
    };
    let written = {
        let reporter = reporter.clone();
        let cancel = cancel.clone();
        let file: Result<Box<dyn ZipOutput + Send>, _> = match &destination {
            Destination::File(temp) => match temp.reopen() {
                Ok(file) => Ok(Box::new(file)),
                Err(source) => Err(PackageError::Io {
                    action: "open",
                    path: temp.path().to_owned(),
                    source,
                }),
            },
            Destination::Parts(parts) => Ok(Box::new(parts.clone())),
        };
        tokio::task::spawn_blocking(move || job.write(file?, &*reporter, &cancel))
    }
    .await
    .expect("the package writer does not panic");
    if let Some(pump) = pump {
        pump.abort();
    }
    if cancel.is_cancelled() {
        return Err(PackageError::Cancelled);
    }
    let written = written?;
    let package_id = hex::encode(Sha256::digest(&written.manifest_bytes));
    let parts = match destination {
        Destination::File(temp) => {
            persist(temp, &output, options.force)?;
            None
        }
        Destination::Parts(parts) => {
            Some(parts.finish(&package_id, options.force, options.sign.as_deref())?)
        }
    };
    Ok(CreateReport {
        path: output,
        size: written.size,
        package_id,
        signed_by: options.sign.as_ref().map(|k| k.id()),
        savings: written.manifest.base.as_ref().map_or(0, |b| b.savings()),
        parts,
        manifest: written.manifest,
    })
}

/// Where the package is written.
enum Destination {
    /// One partial file, renamed to the output at the end.
    File(tempfile::NamedTempFile),
    /// Parts beside the output.
    Parts(PartsWriter),
}

/// Renames the finished package file (or part) `temp` to `output`.
pub(super) fn persist(
    temp: tempfile::NamedTempFile,
    output: &Path,
    force: bool,
) -> Result<(), PackageError> {
    make_readable(temp.as_file()).map_err(|source| PackageError::Io {
        action: "set permissions of",
        path: temp.path().to_owned(),
        source,
    })?;
    // The output may have been replaced by something else meanwhile.
    check_output(output, force)?;
    let persisted = if force {
        temp.persist(output)
    } else {
        temp.persist_noclobber(output)
    };
    persisted.map_err(|e| match e.error.kind() {
        io::ErrorKind::AlreadyExists => PackageError::OutputExists {
            path: output.to_owned(),
        },
        _ => PackageError::Io {
            action: "rename the finished package to",
            path: output.to_owned(),
            source: e.error,
        },
    })?;
    Ok(())
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Refuses an output that is a folder, a device, a named pipe or a socket
/// (only a regular file or a symbolic link's own entry is ever replaced),
/// one that exists when `force` is not given, and one in a missing folder.
pub(super) fn check_output(output: &Path, force: bool) -> Result<(), PackageError> {
    match std::fs::symlink_metadata(output) {
        Ok(meta) if meta.is_dir() => Err(PackageError::Io {
            action: "write the package to",
            path: output.to_owned(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "it is a folder; name a file"),
        }),
        Ok(meta) if !meta.is_file() && !meta.is_symlink() => Err(PackageError::Io {
            action: "replace",
            path: output.to_owned(),
            source: io::Error::new(
                io::ErrorKind::InvalidInput,
                crate::files::NotAFile {
                    kind: crate::files::kind(meta.file_type()).unwrap_or("not a file"),
                },
            ),
        }),
        Ok(_) if !force => Err(PackageError::OutputExists {
            path: output.to_owned(),
        }),
        _ => match output.parent() {
            Some(dir) if !dir.is_dir() => Err(PackageError::Io {
                action: "write into",
                path: dir.to_owned(),
                source: io::Error::new(io::ErrorKind::NotFound, "no such folder"),
            }),
            _ => Ok(()),
        },
    }
}

/// Temporary files are private; a package is for copying around (0644).
fn make_readable(file: &File) -> io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}
