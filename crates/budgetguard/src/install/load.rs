//! Streaming a package's images into the engine, straight from the ZIP.
//!
//! The load stream is a `docker save`-format tar built on the fly: the layout
//! files and `manifest.json` first, then the blobs, each read from its ZIP
//! entry and checked against its SHA-256 as it passes. A mismatch ends the
//! stream with an error, so the engine loads nothing. Layers the engine
//! already has are left out (classic store: by chain; containerd store: by
//! blob, with `index.json` in the stream); if the engine refuses such a
//! partial stream, the whole stream is sent once more.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::mpsc;

use super::InstallError;
use crate::engine::{Engine, LocalImage};
use crate::package::layout;
use crate::package::manifest::{Blob, PackagedImage};
use crate::package::Package;
use crate::progress::{Counted, Event, Reporter, SharedReporter, Step, Throttle};
use crate::Cancel;

/// What happened to each image of the package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageOutcome {
    /// The engine already had it.
    AlreadyPresent,
    /// It was streamed into the engine.
    Loaded,
}

/// Which images to stream and which layers to leave out.
pub(crate) struct LoadPlan {
    /// Images to stream.
    stream: Vec<PackagedImage>,
    /// Layer digests the engine has already, left out of the stream.
    omit: HashSet<String>,
}

impl LoadPlan {
    /// Asks the engine what it has and plans the load of `package`.
    pub(crate) async fn prepare(
        engine: &Engine,
        package: &Package,
        containerd: bool,
    ) -> Result<(Self, Vec<ImageOutcome>), InstallError> {
        let local = engine.local_images().await?;
        Ok(Self::new(&package.manifest().images, &local, containerd))
    }

    fn new(
        images: &[PackagedImage],
        local: &[LocalImage],
        containerd: bool,
    ) -> (Self, Vec<ImageOutcome>) {
        let mut plan = LoadPlan {
            stream: Vec::new(),
            omit: HashSet::new(),
        };
        let mut outcomes = Vec::new();
        for image in images {
            if is_present(image, local, containerd) {
                outcomes.push(ImageOutcome::AlreadyPresent);
                continue;
            }
            outcomes.push(ImageOutcome::Loaded);
            plan.stream.push(image.clone());
        }
        // A layer file can be left out only if the engine has it at every
        // place the streamed images use it (the classic store keys layers by
        // the chain below them).
        let mut needed = HashSet::new();
        for image in &plan.stream {
            let digests: Vec<String> = image.layers.iter().map(|l| l.digest.clone()).collect();
            for i in 0..digests.len() {
                let chain = &digests[..=i];
                if local.iter().any(|l| l.info.layers.starts_with(chain)) {
                    plan.omit.insert(digests[i].clone());
                } else {
                    needed.insert(digests[i].clone());
                }
            }
        }
        plan.omit.retain(|digest| !needed.contains(digest));
        (plan, outcomes)
    }

    /// The bytes the stream carries.
    pub(crate) fn stream_bytes(&self) -> u64 {
        let mut seen = HashSet::new();
        self.stream
            .iter()
            .flat_map(blobs_of)
            .filter(|b| !self.omit.contains(&b.digest) && seen.insert(b.digest.clone()))
            .map(|b| b.size)
            .sum()
    }
}

/// Whether the engine has the image: the classic store names it by its
/// config digest, the containerd store by its manifest digest.
pub(crate) fn is_present(image: &PackagedImage, local: &[LocalImage], containerd: bool) -> bool {
    local
        .iter()
        .any(|l| l.info.id == engine_id(image, containerd))
}

/// The ID the engine gives the image: its config digest on the classic
/// store, its manifest digest on the containerd store.
fn engine_id(image: &PackagedImage, containerd: bool) -> &str {
    if containerd {
        &image.manifest.digest
    } else {
        &image.id
    }
}

/// The blobs of an image in stream order: manifest, config, layers.
fn blobs_of(image: &PackagedImage) -> impl Iterator<Item = &Blob> {
    [&image.manifest, &image.config]
        .into_iter()
        .chain(image.layers.iter())
}

/// Loads what `plan` says and tags every image of the package.
pub(crate) async fn load_images(
    engine: &Engine,
    package: &Arc<Package>,
    plan: LoadPlan,
    containerd: bool,
    reporter: &SharedReporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let images = &package.manifest().images;
    if !plan.stream.is_empty() {
        let partial = !plan.omit.is_empty();
        match stream_into_engine(engine, package, &plan, reporter, cancel).await {
            Err(InstallError::Engine(e)) if partial => {
                reporter.report(Event::Note {
                    message: format!("the engine refused a stream without the layers it has ({e}); sending every layer"),
                });
                let full = LoadPlan {
                    stream: plan.stream.clone(),
                    omit: HashSet::new(),
                };
                stream_into_engine(engine, package, &full, reporter, cancel).await?;
            }
            other => other?,
        }
    }
    // `docker load` tags what it loads; an image that was present may lack a tag.
    for image in images {
        for reference in &image.references {
            let has_tag = engine
                .image(reference)
                .await?
                .is_some_and(|info| info.id == image.id || info.id == image.manifest.digest);
            if !has_tag {
                engine.tag(engine_id(image, containerd), reference).await?;
            }
        }
    }
    Ok(())
}

/// Sends one load stream and waits for the engine's verdict. A problem of the
/// package found while streaming wins over the engine's complaint about the
/// cut stream.
async fn stream_into_engine(
    engine: &Engine,
    package: &Arc<Package>,
    plan: &LoadPlan,
    reporter: &SharedReporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let total = plan.stream_bytes();
    reporter.report(Event::Started {
        step: Step::Load,
        total: Some(total),
    });
    let (sender, receiver) = mpsc::channel(4);
    let producer = {
        let package = package.clone();
        let images = plan.stream.clone();
        let omit = plan.omit.clone();
        let reporter = reporter.clone();
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || {
            let mut out = ChannelWriter::new(sender);
            let written = write_stream(&package, &images, &omit, &mut out, &*reporter, &cancel);
            match &written {
                Ok(()) => out.finish(),
                Err(e) => out.abort(e.to_string()),
            }
            written
        })
    };
    let loaded = tokio::select! {
        loaded = engine.load(receiver_stream(receiver)) => loaded,
        _ = cancel.cancelled() => Ok(Vec::new()),
    };
    let produced = producer
        .await
        .expect("the load stream writer does not panic");
    if cancel.is_cancelled() {
        return Err(InstallError::Cancelled);
    }
    match (produced, loaded) {
        // The engine's own words say why it stopped reading.
        (Err(InstallError::Engine(_)), Err(engine)) => return Err(engine.into()),
        (Err(package), _) => return Err(package),
        (Ok(()), Err(engine)) => return Err(engine.into()),
        (Ok(()), Ok(_)) => {}
    }
    reporter.report(Event::Finished { step: Step::Load });
    Ok(())
}

/// Writes the load tar for `images` into `out`.
fn write_stream(
    package: &Package,
    images: &[PackagedImage],
    omit: &HashSet<String>,
    out: &mut ChannelWriter,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let mut tar = tar::Builder::new(out);
    let mut progress = Throttle::new(Step::Load);
    let stream_error = |e: io::Error| match e.kind() {
        io::ErrorKind::BrokenPipe => InstallError::Engine(crate::engine::EngineError::Load {
            detail: "the engine stopped reading the stream".into(),
        }),
        _ if cancel.is_cancelled() => InstallError::Cancelled,
        _ => InstallError::Package(package.read_error(e)),
    };
    for (name, data) in [
        ("oci-layout", layout::oci_layout()),
        ("index.json", layout::oci_index(images)),
        ("manifest.json", layout::docker_manifest(images)),
    ] {
        append(&mut tar, name, data.len() as u64, data.as_slice()).map_err(stream_error)?;
    }
    let mut sent = HashSet::new();
    for (number, image) in images.iter().enumerate() {
        reporter.report(Event::Note {
            message: format!(
                "Streaming {} ({}/{})",
                image.references.join(", "),
                number + 1,
                images.len()
            ),
        });
        for blob in blobs_of(image) {
            if omit.contains(&blob.digest) || !sent.insert(blob.digest.clone()) {
                continue;
            }
            // `Package::open` checked that every blob is listed with its size.
            let entry = layout::blob_entry(layout::hex_of(&blob.digest));
            let reader = Counted {
                inner: package.open_entry(&entry)?,
                progress: &mut progress,
                reporter,
                cancel,
            };
            append(&mut tar, &layout::layout_path(blob), blob.size, reader)
                .map_err(stream_error)?;
        }
    }
    tar.finish().map_err(stream_error)?;
    reporter.report(Event::Advanced {
        step: Step::Load,
        done: progress.done(),
    });
    Ok(())
}

fn append<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut header, name, data)
}

/// The chunk size of the load stream.
const CHUNK: usize = 1 << 20;

/// A blocking writer feeding the async request body through a bounded
/// channel: memory stays at a few chunks whatever the image size.
struct ChannelWriter {
    sender: mpsc::Sender<io::Result<Bytes>>,
    buffer: BytesMut,
}

impl ChannelWriter {
    fn new(sender: mpsc::Sender<io::Result<Bytes>>) -> Self {
        Self {
            sender,
            buffer: BytesMut::with_capacity(CHUNK),
        }
    }

    fn send(&mut self) -> io::Result<()> {
        let chunk = self.buffer.split().freeze();
        self.sender
            .blocking_send(Ok(chunk))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the engine stopped reading"))
    }

    /// Sends what is left; the stream then ends.
    fn finish(&mut self) {
        if !self.buffer.is_empty() {
            let _ = self.send();
        }
    }

    /// Ends the stream with an error, so the engine discards what it got.
    fn abort(&mut self, reason: String) {
        let _ = self.sender.blocking_send(Err(io::Error::other(reason)));
    }
}

impl Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.buffer.extend_from_slice(buf);
        if self.buffer.len() >= CHUNK {
            self.send()?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn receiver_stream(
    receiver: mpsc::Receiver<io::Result<Bytes>>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::ImageInfo;

    fn blob(digest: &str) -> Blob {
        Blob {
            digest: digest.to_owned(),
            size: 1,
        }
    }

    fn image(id: &str, layers: &[&str]) -> PackagedImage {
        PackagedImage {
            references: vec![format!("{id}:1")],
            id: id.to_owned(),
            repo_digests: Vec::new(),
            manifest: blob(&format!("{id}-manifest")),
            config: blob(id),
            layers: layers.iter().map(|l| blob(l)).collect(),
        }
    }

    fn local(id: &str, layers: &[&str]) -> LocalImage {
        LocalImage {
            tags: Vec::new(),
            info: ImageInfo {
                id: id.to_owned(),
                repo_digests: Vec::new(),
                layers: layers.iter().map(|l| l.to_string()).collect(),
                size: 0,
            },
        }
    }

    #[test]
    fn present_images_are_not_streamed_and_present_chains_are_left_out() {
        let images = [image("old", &["A", "B"]), image("new", &["A", "B", "C"])];
        let (plan, outcomes) = LoadPlan::new(&images, &[local("old", &["A", "B"])], false);
        assert_eq!(
            outcomes,
            [ImageOutcome::AlreadyPresent, ImageOutcome::Loaded]
        );
        assert_eq!(plan.stream.len(), 1);
        assert_eq!(plan.omit, HashSet::from(["A".to_owned(), "B".to_owned()]));
    }

    #[test]
    fn a_layer_is_left_out_only_where_every_use_of_it_is_present() {
        // E (say the empty layer) is present under A, but not under A, E, X.
        let images = [image("new", &["A", "E", "X", "E"])];
        let (plan, _) = LoadPlan::new(&images, &[local("old", &["A", "E"])], false);
        assert_eq!(plan.omit, HashSet::from(["A".to_owned()]));
    }

    #[test]
    fn the_containerd_store_names_images_by_manifest() {
        let images = [image("cfg", &["A"])];
        assert!(is_present(
            &images[0],
            &[local("cfg-manifest", &["A"])],
            true
        ));
        assert!(!is_present(
            &images[0],
            &[local("cfg-manifest", &["A"])],
            false
        ));
    }
}
