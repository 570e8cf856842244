//! `create-install-package`: resolve the nodes' images, export them from the
//! engine in one stream, and write the package beside the output under a
//! temporary name that is renamed only when everything is written.

use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use super::export::{write_images, WantedImage};
use super::layout;
use super::manifest::{
    Manifest, PackagedImage, PackagedNode, FORMAT, FORMAT_VERSION, FORMAT_VERSION_IMAGES_ONLY,
};
use super::models::{fallback_script, prepare_caches, write_caches, CacheSource, ModelOptions};
use super::writer::{PackageWriter, Written};
use super::zip::{Compression, DosTime};
use super::PackageError;
use crate::catalog::Node;
use crate::compose::compose_file;
use crate::engine::{Engine, EngineError, RegistryAuth};
use crate::progress::{Event, SharedReporter, Step};
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
    /// Pull images the engine lacks.
    pub pull: bool,
    /// Credentials for pulls.
    pub auth: RegistryAuth,
    /// Record in the package that its nodes start after install.
    pub start_after_install: bool,
    /// The model caches to carry.
    pub models: ModelOptions,
    /// The key that signs the package.
    pub sign: Option<std::sync::Arc<SigningKey>>,
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
    /// The manifest it carries.
    pub manifest: Manifest,
}

/// Makes a package as `options` say, reporting progress; on any failure or
/// cancellation nothing is left at or beside the output path.
pub async fn create_package(
    engine: &Engine,
    options: &CreateOptions,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<CreateReport, PackageError> {
    let output = std::path::absolute(&options.output).map_err(|source| PackageError::Io {
        action: "resolve",
        path: options.output.clone(),
        source,
    })?;
    check_output(&output, options.force)?;
    let dir = output.parent().unwrap_or(Path::new("/")).to_owned();

    let wanted = resolve_images(engine, options, &*reporter, cancel).await?;
    let caches = prepare_caches(
        engine,
        &options.nodes,
        &options.models,
        reporter.clone(),
        cancel,
    )
    .await?;
    let mut needed = 1 << 20;
    for want in &wanted {
        needed += want.size;
    }
    let export_estimate = needed;
    for cache in &caches {
        needed += cache.walked.size();
    }
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
    let temp = tempfile::Builder::new()
        .prefix(&format!(".{file_name}."))
        .suffix(".partial")
        .tempfile_in(&dir)
        .map_err(|source| PackageError::Io {
            action: "create a file in",
            path: dir.clone(),
            source,
        })?;
    let file = temp.reopen().map_err(|source| PackageError::Io {
        action: "open",
        path: temp.path().to_owned(),
        source,
    })?;

    reporter.report(Event::Started {
        step: Step::Export,
        total: Some(export_estimate),
    });
    let (sender, receiver) = mpsc::channel(4);
    let job = PackageJob {
        nodes: options.nodes.clone(),
        images: wanted.iter().map(|w| w.image.clone()).collect(),
        compression: options.compression,
        output: output.clone(),
        source_engine: format!("Docker {}", engine.version()),
        start_after_install: options.start_after_install,
        caches,
        sign: options.sign.clone(),
    };
    let writer = {
        let reporter = reporter.clone();
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || {
            job.write(file, ChannelReader::new(receiver), &*reporter, &cancel)
        })
    };
    let references: Vec<String> = wanted
        .iter()
        .map(|w| w.image.references[0].clone())
        .collect();
    let pump = tokio::spawn(pump(engine.export(&references), sender, cancel.clone()));
    let written = writer.await.expect("the package writer does not panic");
    pump.abort();
    if cancel.is_cancelled() {
        return Err(PackageError::Cancelled);
    }
    let written = written?;

    make_readable(temp.as_file()).map_err(|source| PackageError::Io {
        action: "set permissions of",
        path: temp.path().to_owned(),
        source,
    })?;
    let persisted = if options.force {
        temp.persist(&output)
    } else {
        temp.persist_noclobber(&output)
    };
    persisted.map_err(|e| match e.error.kind() {
        io::ErrorKind::AlreadyExists => PackageError::OutputExists {
            path: output.clone(),
        },
        _ => PackageError::Io {
            action: "rename the finished package to",
            path: output.clone(),
            source: e.error,
        },
    })?;
    Ok(CreateReport {
        path: output,
        size: written.size,
        package_id: hex::encode(Sha256::digest(&written.manifest_bytes)),
        signed_by: options.sign.as_ref().map(|k| k.id()),
        manifest: written.manifest,
    })
}

fn check_output(output: &Path, force: bool) -> Result<(), PackageError> {
    match std::fs::symlink_metadata(output) {
        Ok(meta) if meta.is_dir() => Err(PackageError::Io {
            action: "write the package to",
            path: output.to_owned(),
            source: io::Error::new(io::ErrorKind::IsADirectory, "it is a folder; name a file"),
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

/// One image to export, with its size.
struct Resolved {
    image: WantedImage,
    size: u64,
}

/// Finds (or pulls) every image, merging nodes that share one.
async fn resolve_images(
    engine: &Engine,
    options: &CreateOptions,
    reporter: &dyn crate::progress::Reporter,
    cancel: &Cancel,
) -> Result<Vec<Resolved>, PackageError> {
    let mut resolved: Vec<Resolved> = Vec::new();
    for node in &options.nodes {
        if resolved
            .iter()
            .any(|r| r.image.references.contains(&node.image))
        {
            continue;
        }
        let info = tokio::select! {
            info = engine.ensure_image(&node.image, options.pull, &options.auth, reporter) => info?,
            _ = cancel.cancelled() => return Err(PackageError::Cancelled),
        };
        match resolved.iter_mut().find(|r| r.image.id == info.id) {
            Some(same) => same.image.references.push(node.image.clone()),
            None => resolved.push(Resolved {
                image: WantedImage {
                    id: info.id,
                    layers: info.layers,
                    references: vec![node.image.clone()],
                    repo_digests: info.repo_digests,
                },
                size: info.size,
            }),
        }
    }
    Ok(resolved)
}

/// Moves the export stream into the writer's channel, in batches of about
/// [`BATCH`] bytes, until it ends, fails or is cancelled; an engine error is
/// handed on for the writer to report. Spawned as a task of its own, it runs
/// beside the connection's task, so the engine's many small chunks (32 KiB
/// each) do not each wake another thread.
async fn pump(
    export: impl futures_util::Stream<Item = Result<Bytes, EngineError>>,
    sender: mpsc::Sender<Vec<io::Result<Bytes>>>,
    cancel: Cancel,
) {
    let mut export = std::pin::pin!(export);
    let mut batch = Vec::new();
    let mut batched = 0;
    loop {
        let next = tokio::select! {
            next = export.next() => next,
            _ = cancel.cancelled() => return,
        };
        let ended = match next {
            Some(Ok(chunk)) => {
                batched += chunk.len();
                batch.push(Ok(chunk));
                false
            }
            Some(Err(e)) => {
                batch.push(Err(io::Error::other(e)));
                true
            }
            None => true,
        };
        if (ended || batched >= BATCH) && !batch.is_empty() {
            if sender.send(std::mem::take(&mut batch)).await.is_err() {
                return;
            }
            batched = 0;
        }
        if ended {
            return;
        }
    }
}

/// Bytes of the export gathered before the writer thread is woken.
const BATCH: usize = 1 << 20;

/// Everything the writer thread needs.
struct PackageJob {
    nodes: Vec<Node>,
    images: Vec<WantedImage>,
    compression: Compression,
    output: PathBuf,
    source_engine: String,
    start_after_install: bool,
    caches: Vec<CacheSource>,
    sign: Option<std::sync::Arc<SigningKey>>,
}

impl PackageJob {
    /// Writes the whole ZIP into `file`, the images from the save stream
    /// `input`.
    fn write(
        self,
        file: File,
        input: impl Read,
        reporter: &dyn crate::progress::Reporter,
        cancel: &Cancel,
    ) -> Result<Written, PackageError> {
        let now = time::OffsetDateTime::now_utc();
        let mut package =
            PackageWriter::new(file, &self.output, self.compression, DosTime::from_utc(now));
        let packaged = |node: &Node| {
            node.model
                .as_ref()
                .map(|m| m.cache.clone())
                .filter(|cache| self.caches.iter().any(|c| &c.ready.name == cache))
        };
        let mut nodes = Vec::new();
        for node in &self.nodes {
            let name = layout::compose_entry(&node.service_name());
            let offline = packaged(node).is_some();
            package.add(&name, compose_file(node, offline).to_yaml().as_bytes())?;
            nodes.push(PackagedNode {
                node: node.clone(),
                compose_file: name,
                model_cache: packaged(node),
            });
        }
        package.add(
            layout::INSTALL_SH,
            include_str!("scripts/install.sh").as_bytes(),
        )?;
        package.add(
            layout::INSTALL_PS1,
            include_str!("scripts/install.ps1").as_bytes(),
        )?;
        let images = write_images(input, &mut package, &self.images, reporter, cancel)?;
        reporter.report(Event::Finished { step: Step::Export });
        let caches = write_caches(&mut package, &self.caches, reporter, cancel)?;
        if !caches.is_empty() {
            package.add(layout::MODELS_SH, fallback_script(&caches).as_bytes())?;
        }
        package.add(layout::README, readme_text(&nodes, &images).as_bytes())?;
        package.finish(
            Manifest {
                format: FORMAT.to_owned(),
                format_version: if caches.is_empty() {
                    FORMAT_VERSION_IMAGES_ONLY
                } else {
                    FORMAT_VERSION
                },
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
                created: now
                    .format(&time::format_description::well_known::Rfc3339)
                    .expect("the current time always formats"),
                source_engine: self.source_engine,
                compression: self.compression,
                start_after_install: self.start_after_install,
                nodes,
                images,
                caches,
                entries: Vec::new(),
            },
            self.sign.as_deref(),
        )
    }
}

/// The package's `README.txt`.
fn readme_text(nodes: &[PackagedNode], images: &[PackagedImage]) -> String {
    let mut text = String::from(
        "BudgetGuard TechOps install package\n===================================\n\nNodes:\n",
    );
    for n in nodes {
        text.push_str(&format!(
            "  - {} ({}), http://localhost:{}{}\n",
            n.node.name, n.node.image, n.node.host_port, n.node.infer_path
        ));
    }
    text.push_str("\nImages:\n");
    for image in images {
        text.push_str(&format!(
            "  - {} ({})\n",
            image.references.join(", "),
            image.id
        ));
    }
    text.push_str(
        "\nInstall on the workstation (no need to unzip):\n\n    \
         budgetguard-techops install-package --package <this file> [--start]\n\n\
         Without budgetguard-techops, with Docker and Docker Compose only: unzip this file,\n\
         then run `sh install/install.sh [--start]` (Linux) or\n\
         `powershell -ExecutionPolicy Bypass -File install\\install.ps1 [-Start]` (Windows)\n\
         from the unzipped folder.\n\n\
         Credentials (NGC API key, Hugging Face token) are not in this package: install them\n\
         on the workstation with `budgetguard-techops install-credentials`.\n",
    );
    text
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

/// Reads the batches of chunks the async side sends, as a blocking `Read`.
struct ChannelReader {
    receiver: mpsc::Receiver<Vec<io::Result<Bytes>>>,
    batch: std::vec::IntoIter<io::Result<Bytes>>,
    current: Bytes,
}

impl ChannelReader {
    fn new(receiver: mpsc::Receiver<Vec<io::Result<Bytes>>>) -> Self {
        Self {
            receiver,
            batch: Vec::new().into_iter(),
            current: Bytes::new(),
        }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.current.is_empty() {
            match self.batch.next() {
                Some(chunk) => self.current = chunk?,
                None => match self.receiver.blocking_recv() {
                    Some(batch) => self.batch = batch.into_iter(),
                    None => return Ok(0),
                },
            }
        }
        let n = buf.len().min(self.current.len());
        buf[..n].copy_from_slice(&self.current.split_to(n));
        Ok(n)
    }
}
