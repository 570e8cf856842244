//! Plain-HTTP endpoints for tests of where credentials may go: a stub
//! that answers every request alike (a registry's 401 challenge, a
//! redirect), and a trap on this machine's non-loopback address that
//! records every request it gets, with this machine's address found for it.

use std::io::BufReader;
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use crate::http::{self, Head};

/// This machine's first non-loopback IPv4 address (`ip -4 addr`, global
/// scope): a host that is not loopback yet reaches a listener here.
pub fn non_loopback_ip() -> IpAddr {
    let output = std::process::Command::new("ip")
        .args(["-o", "-4", "addr", "show", "scope", "global"])
        .output()
        .expect("`ip` runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            words.find(|w| *w == "inet")?;
            words.next()?.split('/').next()?.parse().ok()
        })
        .expect("this machine has a non-loopback IPv4 address (`ip -4 addr`)")
}

/// A plain-HTTP server on a free port of `ip`: answers each request with
/// `status`, `headers` and an empty JSON body, and records its head. It
/// stops accepting when dropped.
pub struct Endpoint {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Head>>>,
    stopped: Arc<AtomicBool>,
}

impl std::fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Endpoint")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

impl Endpoint {
    /// Starts one on `ip`.
    pub fn start(ip: IpAddr, status: &str, headers: &[(&str, &str)]) -> Self {
        let listener = TcpListener::bind((ip, 0)).expect("a free port");
        let addr = listener.local_addr().expect("a bound address");
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stopped = Arc::new(AtomicBool::new(false));
        let status = status.to_owned();
        let headers: Vec<(String, String)> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let (seen, stop) = (requests.clone(), stopped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stop.load(Ordering::Relaxed) {
                    return;
                }
                let Ok(mut client) = client else { return };
                let Ok(Some((head, _))) = http::read_request(&mut BufReader::new(&client)) else {
                    continue;
                };
                seen.lock().expect("not poisoned").push(head);
                let headers: Vec<(&str, &str)> = headers
                    .iter()
                    .map(|(n, v)| (n.as_str(), v.as_str()))
                    .collect();
                let _ = http::respond(&mut client, &status, &headers, b"{}");
            }
        });
        Self {
            addr,
            requests,
            stopped,
        }
    }

    /// Its `host:port`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The heads of the requests it got, in order.
    pub fn requests(&self) -> Vec<Head> {
        self.requests.lock().expect("not poisoned").clone()
    }
}

impl Drop for Endpoint {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}
