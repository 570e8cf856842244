//! A Unix-socket proxy in front of a Docker engine that cuts a connection
//! after a number of bytes in one direction, as an engine dying mid-stream
//! would, or stops passing bytes on while keeping it open, as a hung engine
//! would.

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

/// Which direction is cut or stalled, after how many bytes.
#[derive(Clone, Copy)]
enum Cut {
    Request(u64),
    Response(u64),
    Stall(u64),
}

fn relay(client: UnixStream, server: UnixStream, cut: Cut) {
    let (request_limit, response_limit) = match cut {
        Cut::Request(limit) => (limit, u64::MAX),
        Cut::Response(limit) | Cut::Stall(limit) => (u64::MAX, limit),
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
