//! An HTTP proxy in front of a test registry that misbehaves on purpose:
//! it cuts blob downloads mid-way (a number of times, then behaves), flips a byte of a
//! blob every time (a registry that lies about a digest), delays every
//! request (a distant registry), or refuses manifests with a status. It records every
//! request, so tests can check that a download resumed with `Range`.

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::http::{self, BodyFault};

/// What the proxy does wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The first `times` `GET`s of blob `digest` are each cut after `after`
    /// body bytes.
    CutBlob {
        /// The blob.
        digest: String,
        /// Body bytes sent before each cut.
        after: u64,
        /// How many responses are cut.
        times: u32,
    },
    /// The first `times` `GET`s asking for a byte range longer than
    /// `longer_than` bytes (a package's entry, not its headers) are each
    /// cut after `after` body bytes.
    CutRanges {
        /// The shortest range cut, less one.
        longer_than: u64,
        /// Body bytes sent before each cut.
        after: u64,
        /// How many responses are cut.
        times: u32,
    },
    /// Every `GET` of blob `digest` has its byte at `offset` flipped.
    FlipBlobByte {
        /// The blob.
        digest: String,
        /// The offset in the blob.
        offset: u64,
    },
    /// Every request waits this long before it is relayed, as over a
    /// distant network.
    Latency(std::time::Duration),
    /// Every `GET` of a manifest is answered with this status (as NGC
    /// answers 402 to an account without the image's entitlement).
    ManifestStatus(u16),
}

/// A request the proxy saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The path and query.
    pub target: String,
    /// Its `Range` header, if any.
    pub range: Option<String>,
}

/// The first and last byte of a `Range: bytes=first-last` request, when it
/// names both.
fn range_bounds(range: Option<&str>) -> Option<(u64, u64)> {
    let (first, last) = range?.strip_prefix("bytes=")?.split_once('-')?;
    Some((first.parse().ok()?, last.parse().ok()?))
}

/// The length of a `Range: bytes=first-last` request, when it names both.
fn range_len(range: Option<&str>) -> Option<u64> {
    range_bounds(range).map(|(first, last)| last + 1 - first)
}

impl Seen {
    /// The first and last byte its `Range` asked for, when it named both.
    pub fn range_bounds(&self) -> Option<(u64, u64)> {
        range_bounds(self.range.as_deref())
    }
}

/// A running proxy; it stops accepting when dropped.
pub struct FaultProxy {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<Seen>>>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for FaultProxy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FaultProxy")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl FaultProxy {
    /// A proxy on a free loopback port for the registry at `backend`.
    pub fn start(backend: SocketAddr, fault: Fault) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let cuts = Arc::new(AtomicU32::new(0));
        let (seen_by_loop, stopped_by_loop) = (seen.clone(), stopped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped_by_loop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { return };
                let (seen, fault, cuts) = (seen_by_loop.clone(), fault.clone(), cuts.clone());
                std::thread::spawn(move || {
                    let _ = serve(client, backend, &fault, &cuts, &seen);
                });
            }
        });
        Self {
            addr,
            seen,
            stopped,
        }
    }

    /// Its host for references, `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The requests seen so far, in order.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().expect("not poisoned").clone()
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(
    mut client: TcpStream,
    backend: SocketAddr,
    fault: &Fault,
    cuts: &AtomicU32,
    seen: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let Some((head, body)) = http::read_request(&mut BufReader::new(&client))? else {
        return Ok(());
    };
    let (method, target) = head.method_and_target();
    seen.lock().expect("not poisoned").push(Seen {
        method: method.to_owned(),
        target: target.to_owned(),
        range: head.header("range").map(str::to_owned),
    });
    let blob = |digest: &str| method == "GET" && target.ends_with(&format!("/blobs/{digest}"));
    let body_fault = match fault {
        Fault::CutBlob {
            digest,
            after,
            times,
        } if blob(digest) && cuts.fetch_add(1, Ordering::SeqCst) < *times => {
            BodyFault::CutAfter(*after)
        }
        Fault::CutRanges {
            longer_than,
            after,
            times,
        } if method == "GET"
            && range_len(head.header("range")).is_some_and(|len| len > *longer_than)
            && cuts.fetch_add(1, Ordering::SeqCst) < *times =>
        {
            BodyFault::CutAfter(*after)
        }
        Fault::FlipBlobByte { digest, offset } if blob(digest) => {
            // A ranged request starts later in the blob.
            let start = head
                .header("range")
                .and_then(|r| r.strip_prefix("bytes="))
                .and_then(|r| r.split('-').next())
                .and_then(|s| s.parse::<u64>().ok())
                .unwrap_or(0);
            match offset.checked_sub(start) {
                Some(at) => BodyFault::FlipAt(at),
                None => BodyFault::None,
            }
        }
        Fault::Latency(wait) => {
            std::thread::sleep(*wait);
            BodyFault::None
        }
        Fault::ManifestStatus(status) if method == "GET" && target.contains("/manifests/") => {
            let body = br#"{"errors":[{"code":"DENIED","message":"refused by the test proxy"}]}"#;
            return http::respond(
                &mut client,
                &format!("{status} Refused"),
                &[("Content-Type", "application/json")],
                body,
            );
        }
        _ => BodyFault::None,
    };
    http::relay(&mut client, head, &body, backend, body_fault)?;
    Ok(())
}
