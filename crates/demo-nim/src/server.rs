//! The accept loop: one thread per connection, one request per connection,
//! one log line per request on stderr.

use crate::http::{self, ReadError};
use crate::routes::{self, Config};
use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

/// How often the accept loop looks at the stop flag.
const POLL: Duration = Duration::from_millis(25);
/// A client that stalls this long mid-request is dropped.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// Serves `listener` until `stop` becomes true (checked every 25 ms, so a
/// SIGTERM handler that sets it ends the process promptly).
pub fn serve(listener: TcpListener, cfg: Config, stop: &'static AtomicBool) -> io::Result<()> {
    listener.set_nonblocking(true)?;
    while !stop.load(Ordering::SeqCst) {
        match listener.accept() {
            Ok((stream, peer)) => {
                thread::spawn(move || connection(stream, peer, &cfg));
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => thread::sleep(POLL),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                // e.g. EMFILE: log, back off, keep serving.
                eprintln!("demo-nim: accept failed: {e}");
                thread::sleep(POLL);
            }
        }
    }
    Ok(())
}

/// Handles one connection: read a request, answer it, log it, close.
fn connection(mut stream: TcpStream, peer: SocketAddr, cfg: &Config) {
    let started = Instant::now();
    let setup = stream
        .set_nonblocking(false)
        .and_then(|_| stream.set_read_timeout(Some(IO_TIMEOUT)))
        .and_then(|_| stream.set_write_timeout(Some(IO_TIMEOUT)));
    if let Err(e) = setup {
        eprintln!("demo-nim: {peer}: socket setup failed: {e}");
        return;
    }
    let (line, response) = match http::read_request(&mut stream) {
        Ok(req) => (
            format!("{} {}", req.method, req.path),
            routes::handle(&req, cfg),
        ),
        Err(ReadError::Closed) => return, // e.g. a bare TCP probe
        Err(e) => match e.response() {
            Some(r) => ("-".to_string(), r),
            None => {
                eprintln!("demo-nim: {peer}: read failed: {e}");
                return;
            }
        },
    };
    let result = response.write_to(&mut stream);
    // Half-close so the client sees a clean end of stream.
    let _ = stream.shutdown(std::net::Shutdown::Write);
    eprintln!(
        "{peer} \"{line}\" {} {}B {}ms{}",
        response.status,
        response.body.len(),
        started.elapsed().as_millis(),
        match result {
            Ok(()) => String::new(),
            Err(e) => format!(" (write failed: {e})"),
        }
    );
}
