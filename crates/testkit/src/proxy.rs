//! A Unix-socket proxy in front of a Docker engine that cuts a connection
//! after a number of bytes in one direction, as an engine dying mid-stream
//! would, or stops passing bytes on while keeping it open, as a hung engine
//! would (after some bytes, or at a chosen request).

use std::io::{Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::thread;

/// A running proxy; it stops accepting when dropped.
pub struct CuttingProxy {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl CuttingProxy {
    /// Proxies to the engine socket `upstream` (a path), cutting each
    /// connection after `limit` bytes of response (an export dies).
    pub fn cut_responses(upstream: &Path, limit: u64) -> Self {
        Self::start(upstream, Cut::Response(limit))
    }

    /// Proxies to `upstream`, cutting each connection after `limit` bytes of
    /// request (a load dies).
    pub fn cut_requests(upstream: &Path, limit: u64) -> Self {
        Self::start(upstream, Cut::Request(limit))
    }

    /// Proxies to `upstream`; after `limit` bytes of response on a
    /// connection, passes nothing more on either way but keeps the
    /// connection open (the engine hangs).
    pub fn stall_responses(upstream: &Path, limit: u64) -> Self {
        Self::start(upstream, Cut::Stall(limit))
    }

    /// Proxies to `upstream`, passing everything on until a request whose
    /// request line (`GET /v1.41/containers/x/json HTTP/1.1`) `hangs`
    /// picks; from then on its connection passes nothing more either way
    /// but stays open (the engine hangs on that request only).
    pub fn hang_requests(upstream: &Path, hangs: fn(&str) -> bool) -> Self {
        Self::start(upstream, Cut::Hang(hangs))
    }

    fn start(upstream: &Path, cut: Cut) -> Self {
        let dir = tempfile::tempdir().expect("a temp folder");
        let socket = dir.path().join("proxy.sock");
        let listener = UnixListener::bind(&socket).expect("the proxy socket binds");
        let upstream = upstream.to_owned();
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    return;
                };
                relay(client, server, cut);
            }
        });
        Self { socket, _dir: dir }
    }

    /// The proxy's address for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

/// Which direction is cut or stalled, after how many bytes, or which
/// requests hang.
#[derive(Clone, Copy)]
enum Cut {
    Request(u64),
    Response(u64),
    Stall(u64),
    Hang(fn(&str) -> bool),
}

fn relay(client: UnixStream, server: UnixStream, cut: Cut) {
    let (request_limit, response_limit) = match cut {
        Cut::Request(limit) => (limit, u64::MAX),
        Cut::Response(limit) | Cut::Stall(limit) => (u64::MAX, limit),
        Cut::Hang(hangs) => return relay_until(client, server, hangs),
    };
    let stall = matches!(cut, Cut::Stall(_));
    let pipe = |from: &UnixStream, to: &UnixStream, limit: u64| {
        let mut from = from.try_clone().expect("a socket clones");
        let mut to = to.try_clone().expect("a socket clones");
        thread::spawn(move || {
            let _ = std::io::copy(&mut (&mut from).take(limit), &mut to);
            let _ = to.flush();
            if stall {
                // Hold both ends open, passing nothing, until the peer goes.
                let _ = std::io::copy(&mut from, &mut std::io::sink());
            }
            let _ = to.shutdown(Shutdown::Both);
            let _ = from.shutdown(Shutdown::Both);
        });
    };
    pipe(&client, &server, request_limit);
    pipe(&server, &client, response_limit);
}

/// Relays requests until one that `hangs` picks, which is not passed on;
/// the connection then stays open, silent, until the client goes.
fn relay_until(client: UnixStream, server: UnixStream, hangs: fn(&str) -> bool) {
    let (mut from, mut to) = (
        client.try_clone().expect("a socket clones"),
        server.try_clone().expect("a socket clones"),
    );
    thread::spawn(move || {
        let mut buffer = vec![0u8; 64 << 10];
        loop {
            let read = match from.read(&mut buffer) {
                Ok(0) | Err(_) => break,
                Ok(read) => read,
            };
            let text = String::from_utf8_lossy(&buffer[..read]);
            if text
                .lines()
                .any(|line| line.ends_with(" HTTP/1.1") && hangs(line))
            {
                let _ = std::io::copy(&mut from, &mut std::io::sink());
                break;
            }
            if to.write_all(&buffer[..read]).is_err() {
                break;
            }
        }
        let _ = to.shutdown(Shutdown::Both);
        let _ = from.shutdown(Shutdown::Both);
    });
    thread::spawn(move || {
        let (mut from, mut to) = (server, client);
        let _ = std::io::copy(&mut from, &mut to);
        let _ = to.shutdown(Shutdown::Both);
    });
}
