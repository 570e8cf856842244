//! Pushing to a registry: a blob is found already there, mounted from
//! another repository of the same registry, or uploaded in one streamed
//! `PUT` (started again from its first byte when a connection drops); a
//! manifest is put by tag or digest. The registry checks every digest.

use std::io::{self, Read};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use reqwest::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::Method;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;

use budgetguard_base::{error_text, Cancel};

use crate::client::{base_url, refused_redirect, unreachable, Access, Call, Target};
use crate::reference::Reference;
use crate::{Descriptor, RegistryClient, RegistryError};

/// Bytes of an upload read at once from its source.
const CHUNK: usize = 1 << 20;

/// Opens a blob's bytes from the first, once per upload attempt.
pub type OpenBlob = Arc<dyn Fn() -> io::Result<Box<dyn Read + Send>> + Send + Sync>;

/// How a blob came to be in the repository.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pushed {
    /// It was there already: nothing was sent.
    Present,
    /// The registry linked it from another repository: nothing was sent.
    Mounted,
    /// Its bytes were uploaded.
    Uploaded,
}

/// One upload attempt's end short of success.
enum Stop {
    /// Worth another attempt (the connection dropped).
    Retry(String),
    /// Final.
    Fatal(RegistryError),
}

impl RegistryClient {
    /// Whether `reference`'s repository holds blob `digest`.
    pub async fn has_blob(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<bool, RegistryError> {
        let response = self
            .send(reference, Call::push(Method::HEAD, Target::Blob(digest)))
            .await?;
        Ok(response.status().is_success())
    }

    /// Puts `descriptor`'s blob into `reference`'s repository: nothing when
    /// it is there, a mount from repository `from` (of the same registry)
    /// when that one has it, else an upload of what `open` reads. The
    /// registry refuses bytes whose digest is not the descriptor's.
    pub async fn push_blob(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        from: Option<&str>,
        open: OpenBlob,
        cancel: &Cancel,
    ) -> Result<Pushed, RegistryError> {
        let digest = descriptor.digest.as_str();
        if self.has_blob(reference, digest).await? {
            return Ok(Pushed::Present);
        }
        // A mount the registry declines starts an upload (202) instead.
        let mut location = match from.filter(|from| *from != reference.repository()) {
            Some(from) => {
                let response = self
                    .send(
                        reference,
                        Call::push(Method::POST, Target::Mount { digest, from }),
                    )
                    .await?;
                if response.status().as_u16() == 201 {
                    return Ok(Pushed::Mounted);
                }
                Some(upload_location(reference, digest, &response)?)
            }
            None => None,
        };
        let options = &self.inner.options;
        let mut failures = 0;
        loop {
            let at = match location.take() {
                Some(at) => at,
                None => self.start_upload(reference, digest).await?,
            };
            let attempt = tokio::select! {
                biased;
                _ = cancel.cancelled() => return Err(RegistryError::Cancelled),
                attempt = self.upload(reference, descriptor, &at, &open) => attempt,
            };
            let last = match attempt {
                Ok(()) => return Ok(Pushed::Uploaded),
                Err(Stop::Fatal(error)) => return Err(error),
                Err(Stop::Retry(why)) => why,
            };
            failures += 1;
            if failures > options.retries {
                return Err(RegistryError::TooManyRetries {
                    reference: reference.to_string(),
                    what: Target::Upload(digest).describe(),
                    attempts: failures,
                    last,
                });
            }
            tokio::time::sleep(options.backoff_after(failures - 1)).await;
        }
    }

    /// Puts `bytes` as the manifest `tag_or_digest` of `reference`'s
    /// repository, and returns its digest.
    pub async fn put_manifest(
        &self,
        reference: &Reference,
        tag_or_digest: &str,
        media_type: &str,
        bytes: Bytes,
    ) -> Result<String, RegistryError> {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&bytes)));
        let mut call = Call::push(Method::PUT, Target::Manifest(tag_or_digest));
        call.body = Some((bytes, media_type));
        self.send(reference, call).await?;
        Ok(digest)
    }

    /// Starts an upload session; returns its address.
    async fn start_upload(
        &self,
        reference: &Reference,
        digest: &str,
    ) -> Result<String, RegistryError> {
        let response = self
            .send(reference, Call::push(Method::POST, Target::Upload(digest)))
            .await?;
        upload_location(reference, digest, &response)
    }

    /// Sends the blob to the upload session at `at` in one `PUT`, streamed
    /// from `open` on a blocking thread.
    async fn upload(
        &self,
        reference: &Reference,
        descriptor: &Descriptor,
        at: &str,
        open: &OpenBlob,
    ) -> Result<(), Stop> {
        let digest = descriptor.digest.as_str();
        let mut url = reqwest::Url::parse(at).map_err(|e| {
            Stop::Fatal(RegistryError::BadManifest {
                reference: reference.to_string(),
                detail: format!("the upload address `{at}` is not a URL: {e}"),
            })
        })?;
        url.query_pairs_mut().append_pair("digest", digest);
        let failed = Arc::new(Mutex::new(None));
        let body = stream_body(open.clone(), failed.clone());
        let mut request = self
            .inner
            .http
            .put(url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .header(CONTENT_LENGTH, descriptor.size)
            .body(body);
        let key = (
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            Access::Push,
        );
        if let Some(value) = self.authorization(&key) {
            request = request.header(AUTHORIZATION, value);
        }
        let outcome = request.send().await;
        if let Some(error) = failed.lock().expect("not poisoned").take() {
            return Err(Stop::Fatal(RegistryError::Source(error)));
        }
        let response = outcome.map_err(|e| match refused_redirect(reference.registry(), &e) {
            Some(refused) => Stop::Fatal(refused),
            None => match unreachable(reference.registry(), &e) {
                RegistryError::Unreachable { detail, .. } => Stop::Retry(detail),
                other => Stop::Fatal(other),
            },
        })?;
        match response.status().as_u16() {
            200..=299 => Ok(()),
            // An expired token, a lost session: a new session asks again.
            401 | 404 | 408 | 429 | 500..=599 => Err(Stop::Retry(format!(
                "the registry answered {}",
                response.status().as_u16()
            ))),
            _ => Err(Stop::Fatal(
                crate::client::rejected(reference, Target::Upload(digest), response).await,
            )),
        }
    }
}

/// The address of the upload session an answer started (`Location`,
/// relative to the registry's API when it is a path).
fn upload_location(
    reference: &Reference,
    digest: &str,
    response: &reqwest::Response,
) -> Result<String, RegistryError> {
    let location = response
        .headers()
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| RegistryError::Status {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            what: Target::Upload(digest).describe(),
            status: response.status().as_u16(),
        })?;
    Ok(match location.starts_with('/') {
        true => format!("{}{location}", base_url(reference.registry())),
        false => location.to_owned(),
    })
}

/// A request body read from `open` on a blocking thread, a chunk at a
/// time; a read error stops the body and is left in `failed`.
fn stream_body(open: OpenBlob, failed: Arc<Mutex<Option<io::Error>>>) -> reqwest::Body {
    let (sender, receiver) = mpsc::channel::<io::Result<Bytes>>(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = match open() {
            Ok(reader) => reader,
            Err(error) => return fail(&sender, &failed, error),
        };
        loop {
            let mut chunk = vec![0; CHUNK];
            match read_full(&mut reader, &mut chunk) {
                Ok(0) => return,
                Ok(n) => {
                    chunk.truncate(n);
                    if sender.blocking_send(Ok(Bytes::from(chunk))).is_err() {
                        return;
                    }
                }
                Err(error) => return fail(&sender, &failed, error),
            }
        }
    });
    let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
        receiver.recv().await.map(|item| (item, receiver))
    });
    reqwest::Body::wrap_stream(stream)
}

/// Keeps the source's `error` and ends the body with an error.
fn fail(
    sender: &mpsc::Sender<io::Result<Bytes>>,
    failed: &Mutex<Option<io::Error>>,
    error: io::Error,
) {
    let text = error_text(&error);
    *failed.lock().expect("not poisoned") = Some(error);
    let _ = sender.blocking_send(Err(io::Error::other(text)));
}

/// Reads until `buf` is full or the source ends.
fn read_full(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
