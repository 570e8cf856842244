//! One byte range of a remote package, streamed: a download task on the
//! source's runtime requests the range, resumes a dropped connection with a
//! new `Range` request from the byte reached (failures in a row bounded,
//! with backoff), and hands chunks through a small bounded channel to a
//! [`RangeReader`] read on a blocking thread. Memory stays at a few chunks
//! whatever the range's size.

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use bytes::{Buf, Bytes, BytesMut};
use tokio::sync::mpsc;

use super::{HttpError, Server, Stop};

/// Batches the download may run ahead of its reader.
const AHEAD: usize = 4;
/// The bytes handed to the reader at once.
const BATCH: usize = 256 << 10;
/// The piece of a long range that one request of [`Segments`] fetches.
pub(super) const SEGMENT: u64 = 4 << 20;

/// What the download task sends: the next bytes, or why it stopped.
type Chunk = Result<Bytes, HttpError>;

/// Downloads `start..end` of the package into `sender`, every byte once and
/// in order across resumed connections; an error is the last message.
pub(super) async fn transfer(
    server: Arc<Server>,
    start: u64,
    end: u64,
    sender: mpsc::Sender<Chunk>,
) {
    let mut at = start;
    let mut failures = 0;
    while at < end {
        let before = at;
        let (last, unreachable) = match attempt(&server, &mut at, end, &sender).await {
            Ok(()) if at == end => return,
            Ok(()) => (
                format!(
                    "the connection closed after {} of {} bytes",
                    at - start,
                    end - start
                ),
                false,
            ),
            Err(Stop::Retry(why)) => (why, false),
            Err(Stop::Unreachable(why)) => (why, true),
            Err(Stop::Fatal(error)) => {
                let _ = sender.send(Err(error)).await;
                return;
            }
        };
        if sender.is_closed() {
            return;
        }
        if at > before {
            failures = 0;
        }
        failures += 1;
        if failures > server.options.retries {
            let error = match unreachable {
                true => server.unreachable(last),
                false => server.cut_too_often(failures, last),
            };
            let _ = sender.send(Err(error)).await;
            return;
        }
        tracing::info!(url = %server.address.shown, at, end, failures, why = %last, "range cut: resuming");
        tokio::time::sleep(server.options.backoff_after(failures - 1)).await;
    }
}

/// One request, from `at` to `end`; `at` follows the bytes sent on.
async fn attempt(
    server: &Server,
    at: &mut u64,
    end: u64,
    sender: &mpsc::Sender<Chunk>,
) -> Result<(), Stop> {
    let mut response = server.get(&format!("bytes={}-{}", *at, end - 1)).await?;
    let range = server.range_of(&response)?;
    if range.first != *at || range.last + 1 > end {
        return Err(Stop::Fatal(HttpError::NoRanges {
            url: server.address.shown.clone(),
            detail: format!(
                "asked for bytes {}-{}, it sent {}-{}",
                *at,
                end - 1,
                range.first,
                range.last
            ),
        }));
    }
    // Chunks go to the reader in batches: one wake-up of its thread per
    // batch, not per network read.
    let mut batch = BytesMut::new();
    let outcome = loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break Ok(()),
            Err(e) => break Err(Stop::Retry(budgetguard_base::error_text(&e.without_url()))),
        };
        let chunk = chunk.slice(..chunk.len().min((end - *at) as usize));
        *at += chunk.len() as u64;
        batch.extend_from_slice(&chunk);
        let full = batch.len() >= BATCH || *at == end;
        if full && sender.send(Ok(batch.split().freeze())).await.is_err() {
            // The reader is gone: nobody wants the rest.
            return Ok(());
        }
        if *at == end {
            break Ok(());
        }
    };
    // What arrived before a cut is good: the reader gets it, and the next
    // attempt goes on after it.
    if !batch.is_empty() && sender.send(Ok(batch.freeze())).await.is_err() {
        return Ok(());
    }
    outcome
}

/// A byte range of a remote package, read as a blocking [`BufRead`]. Its
/// download starts when it is opened; dropping it stops the download. An
/// error carries an [`HttpError`] (see [`HttpError::from_io`]).
pub(super) struct RangeReader {
    receiver: mpsc::Receiver<Chunk>,
    current: Bytes,
    left: u64,
    task: tokio::task::JoinHandle<()>,
}

impl RangeReader {
    /// Starts downloading `start..end` on `runtime`, running ahead of its
    /// reader by a few chunks.
    pub(super) fn open(
        server: Arc<Server>,
        runtime: &tokio::runtime::Handle,
        start: u64,
        end: u64,
    ) -> Self {
        Self::with_room(server, runtime, start, end, AHEAD)
    }

    /// The same, running ahead by up to `room` chunks.
    fn with_room(
        server: Arc<Server>,
        runtime: &tokio::runtime::Handle,
        start: u64,
        end: u64,
        room: usize,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(room);
        let task = runtime.spawn(transfer(server, start, end.max(start), sender));
        Self {
            receiver,
            current: Bytes::new(),
            left: end.saturating_sub(start),
            task,
        }
    }
}

impl Drop for RangeReader {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl BufRead for RangeReader {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.current.is_empty() && self.left > 0 {
            match budgetguard_base::wait(self.receiver.recv()) {
                Some(Ok(bytes)) => {
                    self.left -= bytes.len() as u64;
                    self.current = bytes;
                }
                Some(Err(error)) => {
                    self.left = 0;
                    return Err(io::Error::other(error));
                }
                None => {
                    self.left = 0;
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the download stopped early",
                    ));
                }
            }
        }
        Ok(&self.current)
    }

    fn consume(&mut self, amount: usize) {
        self.current.advance(amount);
    }
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        budgetguard_base::read_buffered(self, buf)
    }
}

/// A long range read in [`SEGMENT`]s, `jobs` downloading at once, in order.
pub(super) struct Segments {
    server: Arc<Server>,
    runtime: tokio::runtime::Handle,
    /// The pieces downloading, the one being read first.
    open: std::collections::VecDeque<RangeReader>,
    /// The first byte of the next piece to open, and the range's end.
    next: u64,
    end: u64,
}

impl Segments {
    /// Starts the first `jobs` pieces of `start..end`.
    pub(super) fn open(
        server: Arc<Server>,
        runtime: &tokio::runtime::Handle,
        start: u64,
        end: u64,
        jobs: usize,
    ) -> Self {
        let mut segments = Self {
            server,
            runtime: runtime.clone(),
            open: std::collections::VecDeque::with_capacity(jobs),
            next: start,
            end,
        };
        for _ in 0..jobs {
            segments.open_next();
        }
        segments
    }

    /// Starts the next piece, if one is left. A piece may download whole
    /// before it is read: its channel has room for all its batches.
    fn open_next(&mut self) {
        if self.next < self.end {
            let end = (self.next + SEGMENT).min(self.end);
            let room = (SEGMENT as usize).div_ceil(BATCH);
            self.open.push_back(RangeReader::with_room(
                self.server.clone(),
                &self.runtime,
                self.next,
                end,
                room,
            ));
            self.next = end;
        }
    }
}

impl BufRead for Segments {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self
            .open
            .front_mut()
            .is_some_and(|front| front.left == 0 && front.current.is_empty())
        {
            self.open.pop_front();
            self.open_next();
        }
        let Some(front) = self.open.front_mut() else {
            return Ok(&[]);
        };
        if let Err(error) = front.fill_buf() {
            // Nothing more after an error: the pieces ahead stop.
            self.open.clear();
            self.next = self.end;
            return Err(error);
        }
        Ok(self
            .open
            .front_mut()
            .map_or(&[], |front| &front.current[..]))
    }

    fn consume(&mut self, amount: usize) {
        if let Some(front) = self.open.front_mut() {
            front.consume(amount);
        }
    }
}

impl Read for Segments {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        budgetguard_base::read_buffered(self, buf)
    }
}
