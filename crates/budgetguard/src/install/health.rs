//! Readiness checks over plain HTTP on loopback.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{InstallError, InstalledNode};
use crate::Cancel;

/// The HTTP status of `GET http://<address><path>`, or `None` when
/// nothing answers within two seconds.
pub async fn http_status(address: SocketAddr, path: &str) -> Option<u16> {
    let request = async {
        let mut stream = TcpStream::connect(address).await.ok()?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut head = [0u8; 64];
        let mut len = 0;
        while len < 12 {
            let n = stream.read(&mut head[len..]).await.ok()?;
            if n == 0 {
                break;
            }
            len += n;
        }
        let line = std::str::from_utf8(&head[..len]).ok()?;
        line.split_whitespace().nth(1)?.parse().ok()
    };
    tokio::time::timeout(Duration::from_secs(2), request)
        .await
        .ok()
        .flatten()
}

/// Waits until the node's readiness path answers 200, polling each second.
/// A timeout is [`InstallError::NotReady`], naming its URL and container;
/// cancellation ends the wait early with [`InstallError::Cancelled`].
pub async fn wait_ready(
    node: &InstalledNode,
    timeout: Duration,
    cancel: &Cancel,
) -> Result<(), InstallError> {
    let (address, path) = (node.node.local_address(), &node.node.health_path);
    let started = Instant::now();
    loop {
        if http_status(address, path).await == Some(200) {
            return Ok(());
        }
        if cancel.is_cancelled() {
            return Err(InstallError::Cancelled);
        }
        if started.elapsed() >= timeout {
            return Err(InstallError::NotReady {
                node: node.name.clone(),
                url: node.health_url.clone(),
                seconds: timeout.as_secs(),
                container: node.container.clone(),
            });
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = cancel.cancelled() => return Err(InstallError::Cancelled),
        }
    }
}
