//! The load stream: a `docker save`-format tar built on the fly from the
//! package, the layout files and `manifest.json` first, then the blobs, each
//! read from its ZIP entry and checked against its SHA-256 as it passes. A
//! mismatch ends the stream with an error, so the engine loads nothing.

use std::collections::HashSet;
use std::io::{self, Read, Write};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures_util::Stream;
use tokio::sync::mpsc;

use super::plan::{blobs_of, LoadPlan};
use crate::engine::Engine;
use crate::install::InstallError;
use crate::package::layout;
use crate::package::manifest::PackagedImage;
use crate::package::Package;
use crate::progress::{Counted, Event, Reporter, SharedReporter, Step, Throttle};
use crate::Cancel;

/// Sends one load stream and waits for the engine's verdict. A problem of the
/// package found while streaming wins over the engine's complaint about the
/// cut stream.
pub(crate) async fn stream_into_engine(
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
        _ = cancel.cancelled() => Ok(()),
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
