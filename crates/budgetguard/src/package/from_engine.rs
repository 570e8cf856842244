//! Images from the Docker engine: each node's image found (or pulled, when
//! allowed), then the engine's `docker save` stream of them all, handed to
//! the package writer's thread in batches. `export.rs` turns that stream
//! into the package's image layout.

use std::io::{self, Read};

use bytes::Bytes;
use futures_util::StreamExt;
use tokio::sync::mpsc;

use super::created::parse_time;
use super::export::{write_images, WantedImage};
use super::manifest::PackagedImage;
use super::plan::{ImageInput, ImageStream, ResolvedImages};
use super::since::ImageLayers;
use super::writer::{BaseHolds, PackageWriter};
use super::PackageError;
use crate::catalog::Node;
use crate::engine::{Engine, EngineError, RegistryAuth};
use crate::progress::{Event, Reporter, Step};
use crate::Cancel;

/// The images to export, with what the package needs to know of them
/// before the export.
#[derive(Debug)]
pub(crate) struct EngineImages {
    /// The images, each once.
    pub wanted: Vec<WantedImage>,
    /// Their size in the engine (uncompressed): about the export's size.
    pub size: u64,
    /// Their creation times.
    pub created: Vec<Option<time::OffsetDateTime>>,
}

impl EngineImages {
    /// Finds (or pulls, when `pull` allows) the image of every node, merging
    /// nodes that share one.
    pub(crate) async fn resolve(
        engine: &Engine,
        nodes: &[Node],
        pull: bool,
        auth: &RegistryAuth,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Self, PackageError> {
        let mut images = Self {
            wanted: Vec::new(),
            size: 0,
            created: Vec::new(),
        };
        for node in nodes {
            if images
                .wanted
                .iter()
                .any(|w| w.references.contains(&node.image))
            {
                continue;
            }
            let info = tokio::select! {
                info = engine.ensure_image(&node.image, pull, auth, reporter) => info?,
                _ = cancel.cancelled() => return Err(PackageError::Cancelled),
            };
            match images.wanted.iter_mut().find(|w| w.id == info.id) {
                Some(same) => same.references.push(node.image.clone()),
                None => {
                    images.size += info.size;
                    images
                        .created
                        .push(info.created.as_deref().and_then(parse_time));
                    images.wanted.push(WantedImage {
                        id: info.id,
                        layers: info.layers,
                        references: vec![node.image.clone()],
                        repo_digests: info.repo_digests,
                    });
                }
            }
        }
        Ok(images)
    }

    /// Starts the export of every image in one request, moved by a task of
    /// its own into the returned reader for the writer's thread; the task
    /// ends with the stream, on a failure (handed on for the writer to
    /// report) or when `cancel` is set.
    fn export(
        &self,
        engine: &Engine,
        cancel: &Cancel,
    ) -> (ChannelReader, tokio::task::JoinHandle<()>) {
        let references: Vec<String> = self
            .wanted
            .iter()
            .map(|w| w.references[0].clone())
            .collect();
        let (sender, receiver) = mpsc::channel(4);
        let pump = tokio::spawn(pump(engine.export(&references), sender, cancel.clone()));
        (ChannelReader::new(receiver), pump)
    }
}

/// The images in an engine, to export from it.
pub(crate) struct FromEngine<'a> {
    /// The engine.
    pub engine: &'a Engine,
    /// The images.
    pub images: EngineImages,
}

impl ResolvedImages for FromEngine<'_> {
    /// Their diff IDs; their blobs are known as the export streams them.
    fn layers(&self) -> Vec<ImageLayers> {
        self.images
            .wanted
            .iter()
            .map(|w| ImageLayers::exported(&w.layers))
            .collect()
    }

    fn created(&self) -> Vec<Option<time::OffsetDateTime>> {
        self.images.created.clone()
    }

    /// The export streams every layer; those the base holds are dropped as
    /// they arrive, so the whole size is wanted.
    fn size(&self, _base: Option<&BaseHolds>) -> u64 {
        self.images.size
    }

    fn start(self: Box<Self>, reporter: &dyn Reporter, cancel: &Cancel) -> ImageStream {
        let Self { engine, images } = *self;
        reporter.report(Event::Started {
            step: Step::Export,
            total: Some(images.size),
        });
        let (stream, pump) = images.export(engine, cancel);
        ImageStream {
            input: Box::new(Export {
                wanted: images.wanted,
                stream,
            }),
            pump: Some(pump),
            origin: format!("Docker {}", engine.version()),
        }
    }
}

/// The engine's `docker save` stream of some images, on the writer's
/// thread.
struct Export {
    /// The images.
    wanted: Vec<WantedImage>,
    /// The stream.
    stream: ChannelReader,
}

impl ImageInput for Export {
    fn write(
        self: Box<Self>,
        package: &mut PackageWriter,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Vec<PackagedImage>, PackageError> {
        let images = write_images(self.stream, package, &self.wanted, reporter, cancel)?;
        reporter.report(Event::Finished { step: Step::Export });
        Ok(images)
    }
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
