//! Streaming one blob: a download task on the runtime hashes every byte as
//! it arrives, resumes a dropped connection with a `Range` request, retries
//! with backoff, and hands 1 MiB batches through a bounded channel to a
//! [`BlobReader`] that the caller reads on a blocking thread (straight into
//! a ZIP entry, say). The reader ends only once the whole blob has matched
//! its digest; a mismatch is its last read's error.

use std::io::{self, BufRead, Read, Write};

use bytes::{Buf, Bytes, BytesMut};
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use budgetguard_base::throttle::Throttle;
use budgetguard_base::{error_text, Cancel};

use crate::client::{Call, Target};
use crate::progress::{BlobEvent, SharedBlobReporter};
use crate::reference::{is_sha256_digest, Reference};
use crate::{Descriptor, RegistryClient, RegistryError};

/// Bytes handed to the reader at once: few wake-ups, bounded memory.
const BATCH: usize = 1 << 20;

/// What the download task sends its reader.
enum Message {
    /// The next bytes, already hashed.
    Data(Bytes),
    /// The blob is complete and matched its digest.
    Done,
    /// The download failed; no more bytes follow.
    Failed(RegistryError),
}

/// One blob being downloaded, read as a blocking [`Read`]/[`BufRead`].
///
/// Its download starts when it is opened and runs ahead of the reader by at
/// most [`super::ClientOptions::buffer`] bytes. Read it on a blocking thread
/// (`spawn_blocking`, or a thread of your own): a read inside async code
/// blocks that thread, as a file's read does.
/// An error carries a [`RegistryError`]: get it with
/// [`RegistryError::from_io`]. Dropping the reader stops the download.
pub struct BlobReader {
    receiver: mpsc::Receiver<Message>,
    current: Bytes,
    finished: bool,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for BlobReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobReader")
            .field("buffered", &self.current.len())
            .field("finished", &self.finished)
            .finish_non_exhaustive()
    }
}

impl Drop for BlobReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BufRead for BlobReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() && !self.finished {
            match budgetguard_base::wait(self.receiver.recv()) {
                Some(Message::Data(bytes)) => self.current = bytes,
                Some(Message::Done) => self.finished = true,
                Some(Message::Failed(error)) => {
                    self.finished = true;
                    return Err(io::Error::other(error));
                }
                None => {
                    self.finished = true;
                    return Err(io::Error::other(RegistryError::Cancelled));
                }
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount);
    }
}

impl Read for BlobReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        budgetguard_base::read_buffered(self, buf)
    }
}

impl RegistryClient {
    /// Starts downloading `descriptor`'s blob of `reference` and returns its
    /// reader. Progress goes to `reporter` as [`BlobEvent`]s; its
    /// `Finished` comes only after the digest matched.
    pub fn open_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> BlobReader {
        self.start(
            reference,
            descriptor,
            (0, descriptor.size),
            true,
            reporter,
            cancel,
        )
    }

    /// Starts downloading `len` bytes of `descriptor`'s blob from byte
    /// `start` (`span` = `(start, len)`), with `Range` requests, and returns
    /// their reader. The bytes are not checked against the blob's digest:
    /// they are the caller's to check (a package's entry against its
    /// manifest, say), so they are hashed once, not twice.
    pub fn open_blob_range(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        span: (u64, u64),
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> BlobReader {
        self.start(reference, descriptor, span, false, reporter, cancel)
    }

    /// Starts the download of `span`, checked against the digest when
    /// `check` (and whole).
    fn start(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        span: (u64, u64),
        check: bool,
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> BlobReader {
        let capacity = (self.inner.options.buffer / BATCH).max(1);
        let (sender, receiver) = mpsc::channel(capacity);
        let download = Download {
            client: self.clone(),
            reference: reference.clone(),
            descriptor: descriptor.clone(),
            span,
            check,
            sender,
            reporter,
        };
        let cancel = cancel.clone();
        let task = self.inner.runtime.spawn(async move {
            let outcome = tokio::select! {
                biased;
                _ = cancel.cancelled() => Err(RegistryError::Cancelled),
                outcome = download.transfer() => outcome,
            };
            download.deliver(outcome).await;
        });
        BlobReader {
            receiver,
            current: Bytes::new(),
            finished: false,
            task,
        }
    }

    /// Downloads `descriptor`'s blob of `reference` into `sink` and returns
    /// its size. Blocks: call it on a blocking thread. `sink` receives every
    /// byte once, in order, even across resumed connections; on an error
    /// it may have received a part of the blob.
    pub fn fetch_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        sink: &mut impl Write,
        reporter: SharedBlobReporter,
        cancel: &Cancel,
    ) -> Result<u64, RegistryError> {
        let mut reader = self.open_blob(reference, descriptor, reporter, cancel);
        let mut written = 0;
        loop {
            let batch = reader.fill_buf().map_err(RegistryError::from_io)?;
            if batch.is_empty() {
                return Ok(written);
            }
            sink.write_all(batch).map_err(RegistryError::Sink)?;
            let n = batch.len();
            written += n as u64;
            reader.consume(n);
        }
    }
}

/// One attempt's end short of the whole blob.
enum Stop {
    /// Worth another attempt (connection lost, registry unreachable).
    Retry(String),
    /// Final.
    Fatal(RegistryError),
}

/// The download task of one blob.
struct Download {
    client: RegistryClient,
    reference: Reference,
    descriptor: Descriptor,
    /// The first byte and the length asked for.
    span: (u64, u64),
    /// Whether the bytes are hashed and checked against the digest.
    check: bool,
    sender: mpsc::Sender<Message>,
    reporter: SharedBlobReporter,
}

/// The state that lives across attempts.
struct Progress {
    hasher: Sha256,
    received: u64,
    batch: BytesMut,
    throttle: Throttle,
}

impl Download {
    /// The blob as its events name it: `<image> <short digest>`.
    fn name(&self) -> String {
        let digest = &self.descriptor.digest;
        let short = digest.get(7..19).unwrap_or(digest);
        format!("{} {short}", self.reference)
    }

    /// Whether the whole blob is asked for.
    fn whole(&self) -> bool {
        self.span == (0, self.descriptor.size)
    }

    /// Downloads the span, resuming and retrying; returns the last batch,
    /// held back until the digest matched (when checked).
    async fn transfer(&self) -> Result<Bytes, RegistryError> {
        let blob = self.name();
        let (start, len) = self.span;
        self.reporter.report(BlobEvent::Started {
            blob: blob.clone(),
            total: len,
        });
        if !is_sha256_digest(&self.descriptor.digest) {
            return Err(RegistryError::BadManifest {
                reference: self.reference.to_string(),
                detail: format!("`{}` is not a sha256 digest", self.descriptor.digest),
            });
        }
        let options = &self.client.inner.options;
        let mut progress = Progress {
            hasher: Sha256::new(),
            received: 0,
            batch: BytesMut::with_capacity(BATCH),
            throttle: Throttle::default(),
        };
        if start
            .checked_add(len)
            .is_none_or(|end| end > self.descriptor.size)
        {
            return Err(RegistryError::SizeMismatch {
                reference: self.reference.to_string(),
                digest: self.descriptor.digest.clone(),
                expected: self.descriptor.size,
            });
        }
        let mut failures = 0;
        while progress.received < len {
            let before = progress.received;
            let last = match self.attempt(&mut progress).await {
                Ok(()) if progress.received == len => break,
                Ok(()) => format!(
                    "the connection closed after {} of {} bytes",
                    progress.received, len
                ),
                Err(Stop::Retry(why)) => why,
                Err(Stop::Fatal(error)) => return Err(error),
            };
            if progress.received > before {
                failures = 0;
            }
            failures += 1;
            if failures > options.retries {
                return Err(RegistryError::TooManyRetries {
                    reference: self.reference.to_string(),
                    what: Target::Blob(&self.descriptor.digest).describe(),
                    attempts: failures,
                    last,
                });
            }
            tokio::time::sleep(options.backoff_after(failures - 1)).await;
        }
        let actual = format!("sha256:{}", hex::encode(progress.hasher.finalize()));
        if self.check && actual != self.descriptor.digest {
            return Err(RegistryError::DigestMismatch {
                reference: self.reference.to_string(),
                digest: self.descriptor.digest.clone(),
                actual,
            });
        }
        self.reporter.report(BlobEvent::Advanced {
            blob,
            done: progress.received,
        });
        Ok(progress.batch.freeze())
    }

    /// One request: from the first byte not yet received to the span's
    /// end (to the blob's end, without a `Range` end, for the whole blob).
    async fn attempt(&self, progress: &mut Progress) -> Result<(), Stop> {
        let digest = &self.descriptor.digest;
        let (start, len) = self.span;
        let from = start + progress.received;
        let range = match self.whole() {
            true => (from > 0).then_some((from, None)),
            false => Some((from, Some(start + len - 1))),
        };
        let mut response = match self
            .client
            .send(
                &self.reference,
                Call::get(Target::Blob(digest), None, range),
            )
            .await
        {
            Ok(response) => response,
            Err(RegistryError::Unreachable { detail, .. }) => return Err(Stop::Retry(detail)),
            Err(error) => return Err(Stop::Fatal(error)),
        };
        // A registry that ignores `Range` sends the whole blob again: the
        // bytes already received are skipped, so the reader sees each once.
        let mut skip = match response.status().as_u16() {
            206 => from - self.range_start(&response, from)?,
            _ => from,
        };
        while let Some(mut chunk) = response
            .chunk()
            .await
            .map_err(|e| Stop::Retry(error_text(&e)))?
        {
            let skipped = chunk.len().min(usize::try_from(skip).unwrap_or(usize::MAX));
            chunk.advance(skipped);
            skip -= skipped as u64;
            let wanted = len - progress.received;
            if chunk.len() as u64 > wanted {
                if self.whole() {
                    return Err(Stop::Fatal(RegistryError::SizeMismatch {
                        reference: self.reference.to_string(),
                        digest: digest.clone(),
                        expected: self.descriptor.size,
                    }));
                }
                // A part asked of a registry that sends more: the rest is
                // not wanted.
                chunk.truncate(wanted as usize);
            }
            if self.check {
                progress.hasher.update(&chunk);
            }
            progress.received += chunk.len() as u64;
            if let Some(done) = progress.throttle.add(chunk.len() as u64) {
                self.reporter.report(BlobEvent::Advanced {
                    blob: self.name(),
                    done,
                });
            }
            progress.batch.extend_from_slice(&chunk);
            if progress.batch.len() >= BATCH {
                let full = progress.batch.split().freeze();
                progress.batch.reserve(BATCH);
                if self.sender.send(Message::Data(full)).await.is_err() {
                    // The reader is gone: nobody wants the rest.
                    return Err(Stop::Fatal(RegistryError::Cancelled));
                }
            }
            if progress.received == len {
                break;
            }
        }
        Ok(())
    }

    /// Where a `206` answer starts (`Content-Range: bytes <start>-<end>/<size>`);
    /// it must not start after the bytes already received.
    fn range_start(&self, response: &reqwest::Response, received: u64) -> Result<u64, Stop> {
        let start = response
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("bytes "))
            .and_then(|v| v.split('-').next())
            .and_then(|v| v.trim().parse::<u64>().ok());
        match start {
            Some(start) if start <= received => Ok(start),
            _ => Err(Stop::Fatal(RegistryError::Status {
                reference: self.reference.to_string(),
                registry: self.reference.registry().to_owned(),
                what: Target::Blob(&self.descriptor.digest).describe(),
                status: 206,
            })),
        }
    }

    /// Hands the outcome to the reader: the held-back last batch and the
    /// end, or the error.
    async fn deliver(&self, outcome: Result<Bytes, RegistryError>) {
        match outcome {
            Ok(last) => {
                if !last.is_empty() && self.sender.send(Message::Data(last)).await.is_err() {
                    return;
                }
                self.reporter
                    .report(BlobEvent::Finished { blob: self.name() });
                let _ = self.sender.send(Message::Done).await;
            }
            Err(error) => {
                let _ = self.sender.send(Message::Failed(error)).await;
            }
        }
    }
}
