//! The model server's HTTP side: the manifest, files with ranges, the
//! bearer token, counters, cuts and throttling.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::{fill, lock, Shared};

/// Bytes generated per response chunk.
const CHUNK: usize = 64 * 1024;

/// Answers `GET /v1/models/<model>/manifest` and `.../files/<sha256>`.
pub async fn answer(
    State(shared): State<Arc<Shared>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    let token = lock(&shared.token).clone();
    if let Some(token) = token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if given != Some(format!("Bearer {token}").as_str()) {
            return detail(StatusCode::UNAUTHORIZED, "missing or wrong bearer token");
        }
    }
    if rest.strip_suffix("/manifest") == Some(shared.spec.model.as_str()) {
        shared.manifest_requests.fetch_add(1, Ordering::SeqCst);
        return (
            [(header::CONTENT_TYPE, "application/json")],
            manifest(&shared).to_string(),
        )
            .into_response();
    }
    match rest.rsplit_once("/files/") {
        Some((model, sha)) if model == shared.spec.model => match shared.blobs.get(sha) {
            Some(&(size, seed)) => file(&shared, sha, size, seed, &headers),
            None => detail(StatusCode::NOT_FOUND, "no such file"),
        },
        _ => detail(StatusCode::NOT_FOUND, "no such model or path"),
    }
}

fn detail(status: StatusCode, msg: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        serde_json::json!({ "detail": msg }).to_string(),
    )
        .into_response()
}

fn manifest(shared: &Shared) -> serde_json::Value {
    let profiles: Vec<_> = shared
        .spec
        .profiles
        .iter()
        .zip(&shared.files)
        .map(|(p, files)| {
            let files: Vec<_> = files
                .iter()
                .map(|f| serde_json::json!({"path": f.path, "size": f.size, "sha256": f.sha256}))
                .collect();
            serde_json::json!({"id": p.id, "description": p.description, "gpus": p.gpus, "files": files})
        })
        .collect();
    serde_json::json!({
        "model": shared.spec.model,
        "revision": shared.spec.revision,
        "profiles": profiles,
    })
}

/// Parses `bytes=N-` or `bytes=N-M` into a first and an exclusive last byte.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let (first, last) = value.trim().strip_prefix("bytes=")?.split_once('-')?;
    let first: u64 = first.trim().parse().ok()?;
    let end = match last.trim() {
        "" => size,
        last => last.parse::<u64>().ok()?.saturating_add(1).min(size),
    };
    Some((first, end))
}

/// A file response: whole (200) or a range (206), generated chunk by chunk.
fn file(shared: &Arc<Shared>, sha: &str, size: u64, seed: u64, headers: &HeaderMap) -> Response {
    *lock(&shared.requests).entry(sha.to_owned()).or_insert(0) += 1;
    let range = headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_range(v, size));
    let (status, start, end) = match range {
        None => (StatusCode::OK, 0, size),
        Some((first, end)) => {
            lock(&shared.ranges).push((sha.to_owned(), first));
            if first >= size || first >= end {
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(header::CONTENT_RANGE, format!("bytes */{size}"))],
                )
                    .into_response();
            }
            (StatusCode::PARTIAL_CONTENT, first, end)
        }
    };
    let cut = {
        let mut armed = lock(&shared.cut);
        match armed.take() {
            Some((file, bytes)) if file == sha => Some(bytes),
            other => {
                *armed = other;
                None
            }
        }
    };
    let sending = Sending {
        shared: Arc::clone(shared),
        seed,
        pos: start,
        end,
        cut,
    };
    let body = Body::from_stream(futures_util::stream::unfold(sending, next_chunk));
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let h = response.headers_mut();
    h.insert(header::CONTENT_LENGTH, (end - start).into());
    h.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/octet-stream"),
    );
    h.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        let value = format!("bytes {start}-{}/{size}", end - 1);
        h.insert(
            header::CONTENT_RANGE,
            value.parse().expect("a valid header value"),
        );
    }
    response
}

/// Where a file response is.
struct Sending {
    shared: Arc<Shared>,
    seed: u64,
    pos: u64,
    end: u64,
    /// Bytes left before the connection is cut, if a cut is armed.
    cut: Option<u64>,
}

async fn next_chunk(mut s: Sending) -> Option<(io::Result<Bytes>, Sending)> {
    if s.pos >= s.end {
        return None;
    }
    if s.cut == Some(0) {
        // Let the connection flush what it was given, then abort it.
        tokio::time::sleep(Duration::from_millis(100)).await;
        s.pos = s.end;
        return Some((Err(io::Error::other("connection cut by the test")), s));
    }
    let mut n = (s.end - s.pos).min(CHUNK as u64);
    if let Some(cut) = s.cut {
        n = n.min(cut);
        s.cut = Some(cut - n);
    }
    let rate = s.shared.throttle.load(Ordering::SeqCst);
    if rate > 0 {
        tokio::time::sleep(Duration::from_secs_f64(n as f64 / rate as f64)).await;
    }
    let mut buf = vec![0u8; n as usize];
    fill(s.seed, s.pos, &mut buf);
    s.pos += n;
    s.shared.bytes_served.fetch_add(n, Ordering::SeqCst);
    Some((Ok(Bytes::from(buf)), s))
}
