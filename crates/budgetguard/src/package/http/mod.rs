//! A package read in place from a web server that answers range requests
//! (nginx, Apache, S3, MinIO): a [`PackageSource`] over HTTP(S), so the
//! same strict reader, signature check and install run on it as on a file,
//! and only the entries an install needs are downloaded.
//!
//! At open, one suffix request fetches the end records (and, for most
//! packages, the whole central directory); a larger directory takes one
//! more. The local headers the reader checks next are fetched together, in
//! requests that merge neighbours. Those bytes are held ([`blocks`]) for
//! positioned reads; each entry then streams from one range request of its
//! own ([`stream`]), resumed from the byte reached when a connection drops.
//! Other remote sources (`oci://`) are further [`PackageSource`]s beside
//! this one.

mod address;
mod blocks;
mod error;
mod login;
mod stream;
#[cfg(test)]
mod tests;

use std::io::{self, BufRead};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_RANGE, ETAG, LAST_MODIFIED, RANGE};

use super::runtime::Runtime;
use super::zip::PackageSource;
use address::Address;
use blocks::Blocks;

pub use address::{is_url, redacted};
pub use error::HttpError;
pub use login::TokenSource;

/// The end window the ZIP reader reads first: an end record and the
/// longest comment it may have.
const END_WINDOW: u64 = 22 + 0xFFFF;
/// Neighbouring local headers closer than this are fetched in one request
/// (the bytes between come along).
const MERGE_GAP: u64 = 16 << 10;
/// The longest request that merged headers make.
const MERGE_MAX: u64 = 1 << 20;

/// How a package is read over HTTP(S).
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Plain `http://` to another machine is allowed (else only to this
    /// one).
    pub allow_http: bool,
    /// The bearer token, if one is sent; else `~/.netrc` gives the login.
    pub token: Option<TokenSource>,
    /// Requests made at once: for the local headers, and for the pieces
    /// of a long entry (each piece buffered, so memory grows with it).
    pub jobs: usize,
    /// Failed attempts in a row (no new byte) before a read is given up.
    pub retries: u32,
    /// The wait after the first failure; it doubles after each further one,
    /// up to 30 s.
    pub backoff: Duration,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long a connection may stay silent before it is dropped (and the
    /// read resumed).
    pub read_timeout: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        Self {
            allow_http: false,
            token: None,
            // One stream per entry: on a LAN it reaches the line's rate, and
            // pieces side by side cost CPU (measured: `scripts/bench http`).
            jobs: 1,
            retries: 5,
            backoff: Duration::from_secs(1),
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl HttpOptions {
    /// The wait before attempt `failures + 1`.
    fn backoff_after(&self, failures: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << failures.min(16))
            .min(Duration::from_secs(30))
    }
}

/// A package on a web server, read by byte ranges. Its requests run on a
/// small runtime of its own, so it reads alike from any thread (a read
/// inside async code blocks that thread, as a file's read does).
pub struct HttpSource {
    server: Arc<Server>,
    description: PathBuf,
    blocks: Mutex<Blocks>,
    runtime: Runtime,
}

impl std::fmt::Debug for HttpSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpSource")
            .field("url", &self.server.address.shown)
            .field("size", &self.server.size)
            .finish_non_exhaustive()
    }
}

/// What every request of one source shares.
struct Server {
    address: Address,
    client: reqwest::Client,
    /// The login, marked sensitive (never printed).
    authorization: Option<HeaderValue>,
    options: HttpOptions,
    /// The package's size, from the first answer.
    size: u64,
    /// Its `ETag` (else `Last-Modified`) in the first answer: every later
    /// answer must carry the same, or the file changed.
    validator: Option<HeaderValue>,
}

/// One attempt's end short of its goal.
enum Stop {
    /// Worth another attempt (a connection lost, a server error).
    Retry(String),
    /// No connection could be made: worth another attempt while reading
    /// (the server was there a moment ago), not at open (a wrong address
    /// is said at once).
    Unreachable(String),
    /// Final.
    Fatal(HttpError),
}

/// Where a ranged answer lies: `Content-Range: bytes first-last/total`.
#[derive(Debug, PartialEq, Eq)]
struct ContentRange {
    first: u64,
    last: u64,
    total: u64,
}

fn content_range(value: &str) -> Option<ContentRange> {
    let (range, total) = value.strip_prefix("bytes ")?.split_once('/')?;
    let (first, last) = range.split_once('-')?;
    let range = ContentRange {
        first: first.trim().parse().ok()?,
        last: last.trim().parse().ok()?,
        total: total.trim().parse().ok()?,
    };
    (range.first <= range.last && range.last < range.total).then_some(range)
}

impl HttpSource {
    /// Opens the package at `given` (`https://…`, or `http://…` as
    /// `options` allow): one request fetches its end and tells its size.
    pub fn open(given: &str, options: &HttpOptions) -> Result<Self, HttpError> {
        let address = Address::parse(given, options.allow_http)?;
        // A login is looked up only where it may be sent.
        let authorization = if address.may_carry_login() {
            login::authorization(options.token.as_ref(), address.host())?
        } else if options.token.is_some() {
            return Err(HttpError::LoginOverPlainHttp {
                url: address.shown.clone(),
            });
        } else {
            None
        };
        budgetguard_registry::install_tls_provider();
        // A redirect never takes a login to plain HTTP elsewhere.
        let allow_http = options.allow_http && authorization.is_none();
        let client = reqwest::Client::builder()
            .user_agent(concat!("budgetguard-techops/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                let plain = attempt.url().scheme() == "http"
                    && !budgetguard_registry::is_loopback_url(attempt.url());
                if plain && !allow_http {
                    attempt.error("a redirect to plain HTTP on another machine")
                } else if attempt.previous().len() > 10 {
                    attempt.error("too many redirects")
                } else {
                    attempt.follow()
                }
            }))
            .build()
            .map_err(|e| HttpError::Unreachable {
                url: address.shown.clone(),
                detail: budgetguard_base::error_text(&e.without_url()),
            })?;
        let runtime = Runtime::new().map_err(|e| HttpError::Unreachable {
            url: address.shown.clone(),
            detail: e.to_string(),
        })?;
        let description = PathBuf::from(&address.shown);
        let server = Server {
            address,
            client,
            authorization,
            options: options.clone(),
            size: 0,
            validator: None,
        };
        let (server, start, tail) = runtime.run(server.fetch_end())?;
        let mut blocks = Blocks::default();
        blocks.insert(start, tail);
        tracing::info!(url = %server.address.shown, size = server.size, "package opened over HTTP");
        Ok(Self {
            server: Arc::new(server),
            description,
            blocks: Mutex::new(blocks),
            runtime,
        })
    }

    /// Fetches `start..end` (bytes not held yet) into the held blocks.
    fn fetch(&self, start: u64, end: u64) -> io::Result<()> {
        let bytes = self
            .runtime
            .run(self.server.clone().fetch(start, end))
            .map_err(io::Error::other)?;
        self.blocks
            .lock()
            .expect("not poisoned")
            .insert(start, bytes);
        Ok(())
    }
}

impl Server {
    /// The end of the package: its size and its last [`END_WINDOW`] bytes
    /// (or all of it), with where they start.
    async fn fetch_end(mut self) -> Result<(Self, u64, Vec<u8>), HttpError> {
        let mut failures = 0;
        loop {
            let last = match self.attempt_end().await {
                Ok((start, bytes)) => return Ok((self, start, bytes)),
                Err(Stop::Fatal(error)) => return Err(error),
                Err(Stop::Unreachable(detail)) => return Err(self.unreachable(detail)),
                Err(Stop::Retry(why)) => why,
            };
            failures += 1;
            if failures > self.options.retries {
                return Err(self.cut_too_often(failures, last));
            }
            tokio::time::sleep(self.options.backoff_after(failures - 1)).await;
        }
    }

    async fn attempt_end(&mut self) -> Result<(u64, Vec<u8>), Stop> {
        let mut response = self.get(&format!("bytes=-{END_WINDOW}")).await?;
        let range = self.range_of(&response)?;
        // Only the end asked for is read: a server that answers with more
        // (or another range) would have the package read into memory.
        let len = range.last - range.first + 1;
        if range.last + 1 != range.total || len > END_WINDOW {
            return Err(Stop::Fatal(HttpError::NoRanges {
                url: self.address.shown.clone(),
                detail: "it answered another range than the file's end".into(),
            }));
        }
        self.size = range.total;
        self.validator = response
            .headers()
            .get(ETAG)
            .or_else(|| response.headers().get(LAST_MODIFIED))
            .cloned();
        let mut bytes = Vec::with_capacity(len as usize);
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| Stop::Retry(budgetguard_base::error_text(&e.without_url())))?
        {
            if (bytes.len() + chunk.len()) as u64 > len {
                return Err(Stop::Fatal(HttpError::NoRanges {
                    url: self.address.shown.clone(),
                    detail: "its answer was longer than the range it named".into(),
                }));
            }
            bytes.extend_from_slice(&chunk);
        }
        if bytes.len() as u64 != len {
            return Err(Stop::Retry("the answer was cut short".into()));
        }
        Ok((range.first, bytes))
    }

    /// `start..end` whole, resuming and retrying as a stream does.
    async fn fetch(self: Arc<Self>, start: u64, end: u64) -> Result<Vec<u8>, HttpError> {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(16);
        let shown = self.address.shown.clone();
        let task = tokio::spawn(stream::transfer(self, start, end, sender));
        let mut bytes = Vec::with_capacity((end - start) as usize);
        while let Some(chunk) = receiver.recv().await {
            bytes.extend_from_slice(&chunk?);
        }
        let _ = task.await;
        // A transfer that ended without its error (its task gone) is no
        // answer: the caller slices exactly `start..end`.
        if bytes.len() as u64 != end - start {
            return Err(HttpError::Unreachable {
                url: shown,
                detail: "the transfer stopped short of the bytes asked for".into(),
            });
        }
        Ok(bytes)
    }

    /// Sends one `GET` with `range`, and sorts the answer: a `206` is
    /// returned; a `200` (the whole file) means the server ignores ranges.
    async fn get(&self, range: &str) -> Result<reqwest::Response, Stop> {
        let mut request = self
            .client
            .get(self.address.url.clone())
            .header(RANGE, range);
        if let Some(authorization) = &self.authorization {
            request = request.header(AUTHORIZATION, authorization.clone());
        }
        let url = || self.address.shown.clone();
        let response = request.send().await.map_err(|e| {
            let (fatal, connect) = (e.is_redirect() || e.is_builder(), e.is_connect());
            let detail = budgetguard_base::error_text(&e.without_url());
            match (fatal, connect) {
                (true, _) => Stop::Fatal(HttpError::Unreachable { url: url(), detail }),
                (false, true) => Stop::Unreachable(detail),
                (false, false) => Stop::Retry(detail),
            }
        })?;
        let status = response.status().as_u16();
        match status {
            206 => Ok(response),
            200 => Err(Stop::Fatal(HttpError::NoRanges {
                url: url(),
                detail: "it sent the whole file (200) for a range".into(),
            })),
            404 | 410 => Err(Stop::Fatal(HttpError::NotFound { url: url() })),
            401 | 403 => {
                if self.authorization.is_none() && !self.address.may_carry_login() {
                    return Err(Stop::Fatal(HttpError::LoginOverPlainHttp { url: url() }));
                }
                Err(Stop::Fatal(HttpError::Login {
                    url: url(),
                    status,
                    had_login: self.authorization.is_some(),
                }))
            }
            // Before the first answer nothing was seen that could change.
            416 if self.size == 0 => Err(Stop::Fatal(HttpError::NoRanges {
                url: url(),
                detail: "it refused the range of the file's end (416)".into(),
            })),
            416 => Err(Stop::Fatal(HttpError::Changed { url: url() })),
            429 | 500..=599 => Err(Stop::Retry(format!("the server answered {status}"))),
            _ => Err(Stop::Fatal(HttpError::Status { url: url(), status })),
        }
    }

    /// The range a `206` answer holds; refuses an answer without one, and
    /// one from a file that changed since the first answer.
    fn range_of(&self, response: &reqwest::Response) -> Result<ContentRange, Stop> {
        let headers = response.headers();
        let range = headers
            .get(CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .and_then(content_range)
            .ok_or_else(|| {
                Stop::Fatal(HttpError::NoRanges {
                    url: self.address.shown.clone(),
                    detail: "its partial answer named no byte range".into(),
                })
            })?;
        let validator = headers.get(ETAG).or_else(|| headers.get(LAST_MODIFIED));
        let changed = self.size != 0
            && (range.total != self.size
                || (self.validator.is_some() && validator != self.validator.as_ref()));
        if changed {
            return Err(Stop::Fatal(HttpError::Changed {
                url: self.address.shown.clone(),
            }));
        }
        Ok(range)
    }

    fn unreachable(&self, detail: String) -> HttpError {
        HttpError::Unreachable {
            url: self.address.shown.clone(),
            detail,
        }
    }

    fn cut_too_often(&self, attempts: u32, last: String) -> HttpError {
        HttpError::CutTooOften {
            url: self.address.shown.clone(),
            attempts,
            last,
        }
    }
}

impl PackageSource for HttpSource {
    fn size(&self) -> u64 {
        self.server.size
    }

    fn description(&self) -> &Path {
        &self.description
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let size = self.server.size;
        if offset >= size || buf.is_empty() {
            return Ok(0);
        }
        if let Some(n) = self.blocks.lock().expect("not poisoned").read(offset, buf) {
            return Ok(n);
        }
        // Exactly what is asked (the reader asks for the directory in one
        // read), up to the next bytes held.
        let wanted = (offset + buf.len() as u64).min(size);
        let next = self.blocks.lock().expect("not poisoned").next_held(offset);
        let end = next.map_or(wanted, |next| next.min(wanted));
        self.fetch(offset, end)?;
        let held = self.blocks.lock().expect("not poisoned").read(offset, buf);
        Ok(held.unwrap_or(0))
    }

    fn will_read(&self, spans: &[(u64, u64)]) -> io::Result<()> {
        let size = self.server.size;
        let mut wanted: Vec<(u64, u64)> = {
            let blocks = self.blocks.lock().expect("not poisoned");
            spans
                .iter()
                .map(|&(start, len)| (start, start.saturating_add(len).min(size)))
                .filter(|&(start, end)| start < end && blocks.holds_none(start, end))
                .collect()
        };
        wanted.sort_unstable();
        // Neighbours merge into one request; each request keeps only the
        // spans asked for.
        let mut groups: Vec<Vec<(u64, u64)>> = Vec::new();
        for span in wanted {
            match groups.last_mut() {
                Some(group)
                    if span.0 <= group.last().map_or(0, |s| s.1) + MERGE_GAP
                        && span.1 - group[0].0 <= MERGE_MAX =>
                {
                    let last = group.last_mut().expect("a group is never empty");
                    if span.0 <= last.1 {
                        last.1 = last.1.max(span.1);
                    } else {
                        group.push(span);
                    }
                }
                _ => groups.push(vec![span]),
            }
        }
        let jobs = self.server.options.jobs.max(1);
        let requests: Vec<_> = groups
            .into_iter()
            .map(|group| {
                let server = self.server.clone();
                let start = group[0].0;
                let end = group.last().map_or(start, |s| s.1);
                async move {
                    let bytes = server.fetch(start, end).await?;
                    Ok::<_, HttpError>((start, group, bytes))
                }
            })
            .collect();
        let fetched: Vec<_> = self.runtime.run(
            futures_util::stream::iter(requests)
                .buffer_unordered(jobs)
                .collect::<Vec<_>>(),
        );
        let mut blocks = self.blocks.lock().expect("not poisoned");
        for outcome in fetched {
            let (start, group, bytes) = outcome.map_err(io::Error::other)?;
            for (first, end) in group {
                let from = (first - start) as usize;
                let to = (end - start) as usize;
                blocks.insert(first, bytes[from..to].to_vec());
            }
        }
        Ok(())
    }

    fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>> {
        let end = start.saturating_add(len).min(self.server.size);
        let (server, runtime) = (self.server.clone(), self.runtime.handle());
        let jobs = self.server.options.jobs;
        Ok(if jobs > 1 && end - start > stream::SEGMENT {
            Box::new(stream::Segments::open(server, runtime, start, end, jobs))
        } else {
            Box::new(stream::RangeReader::open(server, runtime, start, end))
        })
    }
}
