//! A Unix-socket proxy in front of a Docker engine that cuts every response
//! after a number of bytes, as an engine dying mid-stream would.

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
    /// response after `limit` bytes.
    pub fn start(upstream: &Path, limit: u64) -> Self {
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
                relay(client, server, limit);
            }
        });
        Self { socket, _dir: dir }
    }

    /// The proxy's address for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }
}

fn relay(client: UnixStream, server: UnixStream, limit: u64) {
    let (mut client_in, mut server_out) = (
        client.try_clone().expect("a socket clones"),
        server.try_clone().expect("a socket clones"),
    );
    thread::spawn(move || {
        let _ = std::io::copy(&mut client_in, &mut server_out);
    });
    thread::spawn(move || {
        let (mut server_in, mut client_out) = (server, client);
        let _ = std::io::copy(&mut (&mut server_in).take(limit), &mut client_out);
        let _ = client_out.flush();
        let _ = client_out.shutdown(Shutdown::Both);
        let _ = server_in.shutdown(Shutdown::Both);
    });
}
