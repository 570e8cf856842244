//! A model server on loopback that stands in for NGC: it serves a model's
//! manifest and its generated weight files the way demo-nim's
//! `download-to-cache` expects them.
//!
//! Protocol (the contract demo-nim's module docs repeat):
//! - `GET /v1/models/<model>/manifest` (`<model>` may contain `/`) answers
//!   `{"model", "revision", "profiles": [{"id", "description", "gpus",
//!   "files": [{"path", "size", "sha256"}]}]}`.
//! - `GET /v1/models/<model>/files/<sha256>` answers the file's bytes, with
//!   `Range: bytes=N-` (or `N-M`) answered by 206 and `Content-Range`.
//! - With a token set, both need `Authorization: Bearer <token>`, else 401.
//!
//! File contents are generated from `(size, seed)` on the fly (never held in
//! memory); their SHA-256 is computed by streaming when the server starts
//! (and remembered per process, so several servers of one spec hash once).
//! Tests can read counters (requests per file, Range requests, bytes served),
//! cut a file's next response after some bytes, or slow responses down.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use axum::routing::get;
use axum::Router;
use sha2::{Digest, Sha256};

mod content;
mod http;
pub use content::{content_sha256, fill};

/// The model name of [`ModelSpec::demo`] (and demo-nim's default model).
pub const DEMO_MODEL: &str = "budgetguard/demo-flux";

/// One file of a profile: its path in the snapshot and how to generate it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Path inside the model snapshot, e.g. `transformer/diffusion.safetensors`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// Seed of the generated content; equal `(size, seed)` means equal bytes.
    pub seed: u64,
}

/// One model profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// Profile id, e.g. `demo-base-fp8`.
    pub id: String,
    /// One-line description.
    pub description: String,
    /// GPU names the profile is built for; empty means any machine (CPU).
    pub gpus: Vec<String>,
    /// Its files.
    pub files: Vec<FileSpec>,
}

/// A model as the server offers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelSpec {
    /// Model name, e.g. `budgetguard/demo-flux`.
    pub model: String,
    /// Revision (40 hex digits, like a Hugging Face commit).
    pub revision: String,
    /// Its profiles.
    pub profiles: Vec<ProfileSpec>,
}

impl ModelSpec {
    /// [`DEMO_MODEL`] with three profiles of about `total_bytes` together:
    /// `demo-base-fp8` (Ada and Hopper GPUs), `demo-base-fp4` (Blackwell
    /// GPUs) and `demo-base-cpu` (no GPU). Each has its own
    /// `transformer/diffusion-<fp8|fp4|cpu>.safetensors`; all three share a
    /// small top-level `model_index.json` and one
    /// `text_encoder/model.safetensors` (a quarter of the total). As in one
    /// Hugging Face revision, a path always has the same content.
    pub fn demo(total_bytes: u64) -> Self {
        let index_size = 517;
        let shared_size = (total_bytes / 4).max(1);
        let transformer_size = (total_bytes.saturating_sub(shared_size + index_size) / 3).max(1);
        let profile = |n: u64, id: &str, description: &str, gpus: &[&str]| ProfileSpec {
            id: id.to_owned(),
            description: description.to_owned(),
            gpus: gpus.iter().map(|g| (*g).to_owned()).collect(),
            files: vec![
                FileSpec {
                    path: "model_index.json".to_owned(),
                    size: index_size,
                    seed: 100,
                },
                FileSpec {
                    path: "text_encoder/model.safetensors".to_owned(),
                    size: shared_size,
                    seed: 1,
                },
                FileSpec {
                    path: format!("transformer/diffusion-{}.safetensors", &id[10..]),
                    size: transformer_size,
                    seed: 10 + n,
                },
            ],
        };
        let revision = hex::encode(Sha256::digest(format!("{DEMO_MODEL}:{total_bytes}")));
        ModelSpec {
            model: DEMO_MODEL.to_owned(),
            revision: revision[..40].to_owned(),
            profiles: vec![
                profile(
                    0,
                    "demo-base-fp8",
                    "FLUX demo base in FP8 for Ada and Hopper GPUs",
                    &[
                        "NVIDIA GeForce RTX 4090",
                        "NVIDIA GeForce RTX 4080",
                        "NVIDIA RTX 6000 Ada Generation",
                        "NVIDIA L40S",
                        "NVIDIA H100 80GB HBM3",
                    ],
                ),
                profile(
                    1,
                    "demo-base-fp4",
                    "FLUX demo base in FP4 for Blackwell GPUs",
                    &[
                        "NVIDIA GeForce RTX 5090",
                        "NVIDIA GeForce RTX 5080",
                        "NVIDIA GeForce RTX 5070 Ti",
                    ],
                ),
                profile(2, "demo-base-cpu", "FLUX demo base for any machine", &[]),
            ],
        }
    }
}

/// A served file: its path, size and SHA-256 (lower-case hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedFile {
    /// Path inside the snapshot.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of its content.
    pub sha256: String,
}

/// State shared by the server thread and the test.
struct Shared {
    spec: ModelSpec,
    /// Each profile's files with their SHA-256, in spec order.
    files: Vec<Vec<ServedFile>>,
    /// `(size, seed)` of each blob, by SHA-256.
    blobs: HashMap<String, (u64, u64)>,
    token: Mutex<Option<String>>,
    /// A file (by SHA-256) whose next response is cut after some bytes.
    cut: Mutex<Option<(String, u64)>>,
    throttle: AtomicU64,
    requests: Mutex<HashMap<String, u64>>,
    ranges: Mutex<Vec<(String, u64)>>,
    bytes_served: AtomicU64,
    manifest_requests: AtomicU64,
}

/// A running model server on `127.0.0.1:<free port>`; it stops when dropped.
pub struct ModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl ModelServer {
    /// Starts a server for `spec`, without a token. Hashes every distinct
    /// file first (streaming; a few hundred MB take a moment).
    pub fn start(spec: ModelSpec) -> Self {
        let files: Vec<Vec<ServedFile>> = spec
            .profiles
            .iter()
            .map(|p| {
                p.files
                    .iter()
                    .map(|f| ServedFile {
                        path: f.path.clone(),
                        size: f.size,
                        sha256: content_sha256(f.size, f.seed),
                    })
                    .collect()
            })
            .collect();
        let blobs = spec
            .profiles
            .iter()
            .flat_map(|p| &p.files)
            .map(|f| (content_sha256(f.size, f.seed), (f.size, f.seed)))
            .collect();
        let shared = Arc::new(Shared {
            spec,
            files,
            blobs,
            token: Mutex::new(None),
            cut: Mutex::new(None),
            throttle: AtomicU64::new(0),
            requests: Mutex::new(HashMap::new()),
            ranges: Mutex::new(Vec::new()),
            bytes_served: AtomicU64::new(0),
            manifest_requests: AtomicU64::new(0),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        listener
            .set_nonblocking(true)
            .expect("a non-blocking listener");
        let addr = listener.local_addr().expect("the listener's address");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = Router::new()
            .route("/v1/models/{*rest}", get(http::answer))
            .with_state(Arc::clone(&shared));
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the model server");
            runtime.block_on(async move {
                let listener =
                    tokio::net::TcpListener::from_std(listener).expect("a tokio listener");
                tokio::select! {
                    result = axum::serve(listener, app) => result.expect("the model server runs"),
                    _ = stopped => {}
                }
            });
            // Dropping the runtime drops every open connection.
        });
        ModelServer {
            addr,
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// A server for [`ModelSpec::demo`] of about `total_bytes`.
    pub fn demo(total_bytes: u64) -> Self {
        Self::start(ModelSpec::demo(total_bytes))
    }

    /// Requires `Authorization: Bearer <token>` from now on (`None`: no token).
    pub fn set_token(&self, token: Option<&str>) {
        *lock(&self.shared.token) = token.map(str::to_owned);
    }

    /// Cuts the next response for the file with this SHA-256 after `bytes`
    /// bytes of its body (the connection is aborted), once.
    pub fn cut_file_after(&self, sha256: &str, bytes: u64) {
        *lock(&self.shared.cut) = Some((sha256.to_owned(), bytes));
    }

    /// Limits file responses to about `bytes_per_second` (`None`: as fast as
    /// possible). Takes effect at the next chunk, also in running responses.
    pub fn set_throttle(&self, bytes_per_second: Option<u64>) {
        self.shared
            .throttle
            .store(bytes_per_second.unwrap_or(0), Ordering::SeqCst);
    }

    /// The base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The spec being served.
    pub fn spec(&self) -> &ModelSpec {
        &self.shared.spec
    }

    /// The files of profile `id` with their SHA-256. Panics on an unknown id.
    pub fn files(&self, id: &str) -> &[ServedFile] {
        let i = self
            .shared
            .spec
            .profiles
            .iter()
            .position(|p| p.id == id)
            .unwrap_or_else(|| panic!("no profile {id} in the spec"));
        &self.shared.files[i]
    }

    /// How many times the file with this SHA-256 was requested.
    pub fn file_requests(&self, sha256: &str) -> u64 {
        lock(&self.shared.requests)
            .get(sha256)
            .copied()
            .unwrap_or(0)
    }

    /// How many file requests were made in all.
    pub fn total_file_requests(&self) -> u64 {
        lock(&self.shared.requests).values().sum()
    }

    /// The Range requests made so far: `(sha256, first byte asked for)`.
    pub fn range_requests(&self) -> Vec<(String, u64)> {
        lock(&self.shared.ranges).clone()
    }

    /// File body bytes handed to connections so far.
    pub fn bytes_served(&self) -> u64 {
        self.shared.bytes_served.load(Ordering::SeqCst)
    }

    /// How many times the manifest was requested.
    pub fn manifest_requests(&self) -> u64 {
        self.shared.manifest_requests.load(Ordering::SeqCst)
    }
}

impl Drop for ModelServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Read, Write};

    /// A GET over a plain socket; returns (status, head, body bytes).
    fn get(server: &ModelServer, path: &str, extra: &str) -> (u16, String, Vec<u8>) {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n{extra}\r\n"
        )
        .unwrap();
        let mut answer = Vec::new();
        let _ = s.read_to_end(&mut answer);
        let split = answer
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .expect("a response head");
        let head = String::from_utf8_lossy(&answer[..split]).into_owned();
        (
            head[9..12].parse().unwrap(),
            head,
            answer[split + 4..].to_vec(),
        )
    }

    #[test]
    fn demo_spec_shares_the_text_encoder_and_adds_up() {
        let spec = ModelSpec::demo(4_000_000);
        let ids: Vec<_> = spec.profiles.iter().map(|p| p.id.as_str()).collect();
        assert_eq!(ids, ["demo-base-fp8", "demo-base-fp4", "demo-base-cpu"]);
        for shared in [0, 1] {
            let files: Vec<_> = spec.profiles.iter().map(|p| &p.files[shared]).collect();
            assert!(files.iter().all(|f| *f == files[0]));
        }
        assert_eq!(
            spec.profiles[2].files[2].path,
            "transformer/diffusion-cpu.safetensors"
        );
        let mut distinct: Vec<_> = spec.profiles.iter().flat_map(|p| &p.files).collect();
        distinct.sort_by_key(|f| (f.size, f.seed));
        distinct.dedup();
        let total: u64 = distinct.iter().map(|f| f.size).sum();
        assert!((3_900_000..=4_000_000).contains(&total), "{total}");
        assert_eq!(spec.revision.len(), 40);
    }

    #[test]
    fn serves_manifest_files_and_ranges_with_a_token() {
        let server = ModelServer::demo(300_000);
        let file = server.files("demo-base-cpu")[2].clone();
        let base = format!("/v1/models/{DEMO_MODEL}");
        let (status, _, body) = get(&server, &format!("{base}/manifest"), "");
        assert_eq!(status, 200);
        let manifest: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(manifest["profiles"][2]["files"][2]["sha256"], file.sha256);
        assert_eq!(manifest["revision"], server.spec().revision);

        let (status, _, body) = get(&server, &format!("{base}/files/{}", file.sha256), "");
        assert_eq!(status, 200);
        assert_eq!(hex::encode(Sha256::digest(&body)), file.sha256);

        let (status, head, tail) = get(
            &server,
            &format!("{base}/files/{}", file.sha256),
            "Range: bytes=1000-\r\n",
        );
        assert_eq!(status, 206);
        assert!(head.contains(&format!(
            "content-range: bytes 1000-{}/{}",
            file.size - 1,
            file.size
        )));
        assert_eq!(tail, body[1000..]);
        let (status, _, _) = get(
            &server,
            &format!("{base}/files/{}", file.sha256),
            &format!("Range: bytes={}-\r\n", file.size),
        );
        assert_eq!(status, 416);
        assert_eq!(server.file_requests(&file.sha256), 3);
        assert_eq!(server.range_requests().len(), 2);
        assert_eq!(server.bytes_served(), file.size + file.size - 1000);

        server.set_token(Some("secret"));
        assert_eq!(get(&server, &format!("{base}/manifest"), "").0, 401);
        let auth = "Authorization: Bearer secret\r\n";
        assert_eq!(get(&server, &format!("{base}/manifest"), auth).0, 200);
        assert_eq!(get(&server, &format!("{base}/files/00"), auth).0, 404);
        assert_eq!(get(&server, "/v1/models/other/manifest", auth).0, 404);
        assert_eq!(server.manifest_requests(), 2);
    }

    #[test]
    fn a_cut_ends_one_response_early() {
        let server = ModelServer::demo(300_000);
        let file = server.files("demo-base-fp8")[2].clone();
        let other = server.files("demo-base-fp8")[1].clone();
        server.cut_file_after(&file.sha256, 10_000);
        let path = format!("/v1/models/{DEMO_MODEL}/files/{}", other.sha256);
        assert_eq!(get(&server, &path, "").2.len() as u64, other.size);
        let path = format!("/v1/models/{DEMO_MODEL}/files/{}", file.sha256);
        let (_, _, body) = get(&server, &path, "");
        assert!(body.len() < file.size as usize, "{} bytes", body.len());
        let (_, _, body) = get(&server, &path, "");
        assert_eq!(body.len() as u64, file.size);
    }
}
