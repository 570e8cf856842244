//! A Unix-socket proxy in front of a real Docker engine that answers GPU
//! device requests as an engine with a GPU would: each container created
//! through it has its `HostConfig.DeviceRequests` taken out (and recorded),
//! so the engine runs it as if the GPU had been granted. Everything else
//! passes on unchanged; `docker info` still lists no `nvidia` runtime. With
//! an image whose `nvidia-smi` prints a GPU line, the tool's GPU probe and
//! a GPU node's container run on a machine without a GPU. [`GpuProxy::cdi`]
//! grants only CDI requests, as a host set up for CDI without the toolkit's
//! `nvidia` driver would: the engine's own refusal answers the others.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::Shutdown;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::thread;

/// A running proxy; it stops accepting when dropped.
pub struct GpuProxy {
    socket: PathBuf,
    granted: Arc<Mutex<Vec<serde_json::Value>>>,
    _dir: tempfile::TempDir,
}

impl GpuProxy {
    /// Proxies to the engine socket `upstream` (a path), granting every
    /// device request.
    pub fn start(upstream: &Path) -> Self {
        Self::granting(upstream, None)
    }

    /// Proxies to `upstream`, granting only device requests of the `cdi`
    /// driver.
    pub fn cdi(upstream: &Path) -> Self {
        Self::granting(upstream, Some("cdi"))
    }

    fn granting(upstream: &Path, driver: Option<&'static str>) -> Self {
        let dir = tempfile::tempdir().expect("a temp folder");
        let socket = dir.path().join("gpu.sock");
        let listener = UnixListener::bind(&socket).expect("the proxy socket binds");
        let granted = Arc::new(Mutex::new(Vec::new()));
        let (upstream, record) = (upstream.to_owned(), Arc::clone(&granted));
        thread::spawn(move || {
            for client in listener.incoming() {
                let Ok(client) = client else { return };
                let Ok(server) = UnixStream::connect(&upstream) else {
                    return;
                };
                relay(client, server, Arc::clone(&record), driver);
            }
        });
        Self {
            socket,
            granted,
            _dir: dir,
        }
    }

    /// The proxy's address for `DOCKER_HOST`.
    pub fn host(&self) -> String {
        format!("unix://{}", self.socket.display())
    }

    /// The device requests taken out so far, one JSON object each, in order.
    pub fn granted(&self) -> Vec<serde_json::Value> {
        self.granted.lock().expect("not poisoned").clone()
    }
}

/// Passes requests on one by one, rewriting container creations; answers
/// pass back unchanged.
fn relay(
    client: UnixStream,
    server: UnixStream,
    granted: Arc<Mutex<Vec<serde_json::Value>>>,
    driver: Option<&'static str>,
) {
    let (mut answers, mut back) = (
        server.try_clone().expect("a socket clones"),
        client.try_clone().expect("a socket clones"),
    );
    thread::spawn(move || {
        let _ = std::io::copy(&mut answers, &mut back);
        let _ = back.shutdown(Shutdown::Both);
    });
    thread::spawn(move || {
        let mut from = BufReader::new(client);
        let mut to = server;
        while let Ok(true) = pass_request(&mut from, &mut to, &granted, driver) {}
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Passes one request on; `false` at the end of the connection (or once it
/// is upgraded to a raw stream, which is then copied through).
fn pass_request(
    from: &mut BufReader<UnixStream>,
    to: &mut UnixStream,
    granted: &Mutex<Vec<serde_json::Value>>,
    driver: Option<&str>,
) -> std::io::Result<bool> {
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if from.read_line(&mut line)? == 0 {
            return Ok(false);
        }
        let end = line == "\r\n";
        head.push(line);
        if end {
            break;
        }
    }
    let header = |name: &str| {
        head.iter().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.eq_ignore_ascii_case(name)
                .then(|| value.trim().to_owned())
        })
    };
    let length: Option<u64> = header("content-length").and_then(|v| v.parse().ok());
    let chunked = header("transfer-encoding").is_some_and(|v| v.contains("chunked"));
    let upgrade = header("upgrade").is_some();
    let creates = head[0].starts_with("POST ") && head[0].contains("/containers/create");
    match (creates, length) {
        (true, Some(length)) => {
            let mut body = vec![0; length as usize];
            from.read_exact(&mut body)?;
            let body = grant(&body, granted, driver);
            for line in &head {
                let key = line.split(':').next().unwrap_or_default();
                if key.eq_ignore_ascii_case("content-length") {
                    write!(to, "Content-Length: {}\r\n", body.len())?;
                } else {
                    to.write_all(line.as_bytes())?;
                }
            }
            to.write_all(&body)?;
        }
        _ => {
            to.write_all(head.concat().as_bytes())?;
            if let Some(length) = length {
                std::io::copy(&mut from.by_ref().take(length), to)?;
            } else if chunked {
                pass_chunks(from, to)?;
            }
        }
    }
    to.flush()?;
    if upgrade {
        std::io::copy(from, to)?;
        return Ok(false);
    }
    Ok(true)
}

/// Passes a chunked body on as it is.
fn pass_chunks(from: &mut BufReader<UnixStream>, to: &mut UnixStream) -> std::io::Result<()> {
    loop {
        let mut size_line = String::new();
        from.read_line(&mut size_line)?;
        to.write_all(size_line.as_bytes())?;
        let size =
            u64::from_str_radix(size_line.trim().split(';').next().unwrap_or("0"), 16).unwrap_or(0);
        // The chunk and its CRLF; the last chunk is followed by trailers,
        // ended by an empty line.
        if size == 0 {
            loop {
                let mut trailer = String::new();
                if from.read_line(&mut trailer)? == 0 || trailer == "\r\n" {
                    to.write_all(trailer.as_bytes())?;
                    return Ok(());
                }
                to.write_all(trailer.as_bytes())?;
            }
        }
        std::io::copy(&mut from.by_ref().take(size + 2), to)?;
    }
}

/// The creation body `body` without its device requests of `driver` (any,
/// when `None`), which are recorded.
fn grant(body: &[u8], granted: &Mutex<Vec<serde_json::Value>>, driver: Option<&str>) -> Vec<u8> {
    let Ok(mut create) = serde_json::from_slice::<serde_json::Value>(body) else {
        return body.to_vec();
    };
    let Some(serde_json::Value::Array(requests)) = create
        .get_mut("HostConfig")
        .and_then(|host| host.get_mut("DeviceRequests"))
    else {
        return body.to_vec();
    };
    let (grants, refused): (Vec<_>, Vec<_>) = requests.drain(..).partition(|request| {
        driver.is_none_or(|driver| request["Driver"].as_str() == Some(driver))
    });
    *requests = refused;
    granted.lock().expect("not poisoned").extend(grants);
    serde_json::to_vec(&create).expect("JSON serializes")
}
