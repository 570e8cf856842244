//! Just enough HTTP/1.1 for test registries: reading a request or response
//! head, a blocking client for pushes, and relaying one request to a
//! backend (with a fault on the way, if asked). Every exchange uses its own
//! connection (`Connection: close`), so no message framing beyond
//! `Content-Length` is needed.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};

/// A request or response line and its headers.
#[derive(Debug, Clone)]
pub struct Head {
    /// `GET /v2/ HTTP/1.1`, or `HTTP/1.1 200 OK`.
    pub first_line: String,
    /// The headers, in order.
    pub headers: Vec<(String, String)>,
}

impl Head {
    /// Reads a head; `None` when the peer closed before sending one.
    pub fn read(reader: &mut impl BufRead) -> io::Result<Option<Head>> {
        let mut first_line = String::new();
        if reader.read_line(&mut first_line)? == 0 {
            return Ok(None);
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "head cut short",
                ));
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_owned(), value.trim().to_owned()));
            }
        }
        Ok(Some(Head {
            first_line: first_line.trim_end().to_owned(),
            headers,
        }))
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Replaces (or adds) header `name`.
    pub fn set_header(&mut self, name: &str, value: &str) {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_owned(), value.to_owned()));
    }

    /// The `Content-Length`, 0 when absent.
    pub fn content_length(&self) -> u64 {
        self.header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// A request's method and target (`("GET", "/v2/")`).
    pub fn method_and_target(&self) -> (&str, &str) {
        let mut parts = self.first_line.split(' ');
        (
            parts.next().unwrap_or_default(),
            parts.next().unwrap_or_default(),
        )
    }

    /// A response's status code.
    pub fn status(&self) -> u16 {
        self.first_line
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0)
    }

    /// Writes the head.
    pub fn write(&self, out: &mut impl Write) -> io::Result<()> {
        let mut text = format!("{}\r\n", self.first_line);
        for (name, value) in &self.headers {
            text.push_str(&format!("{name}: {value}\r\n"));
        }
        text.push_str("\r\n");
        out.write_all(text.as_bytes())
    }
}

/// A whole response.
#[derive(Debug)]
pub struct Response {
    /// Its head.
    pub head: Head,
    /// Its body.
    pub body: Vec<u8>,
}

/// Sends one request to `addr` and reads the whole response. `body` is
/// sent with its `Content-Length` of `length` bytes.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: impl Read,
    length: u64,
) -> io::Result<Response> {
    let stream = TcpStream::connect(addr)?;
    let mut head = Head {
        first_line: format!("{method} {target} HTTP/1.1"),
        headers: vec![
            ("Host".into(), addr.to_string()),
            ("Connection".into(), "close".into()),
            ("Content-Length".into(), length.to_string()),
        ],
    };
    for (name, value) in headers {
        head.set_header(name, value);
    }
    let mut out = io::BufWriter::with_capacity(1 << 20, &stream);
    head.write(&mut out)?;
    let sent = io::copy(&mut body.take(length), &mut out)?;
    out.flush()?;
    drop(out);
    if sent != length {
        return Err(io::Error::other(format!(
            "the body had {sent} of {length} bytes"
        )));
    }
    let mut reader = BufReader::new(&stream);
    let head = Head::read(&mut reader)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "no response"))?;
    let mut body = Vec::new();
    if method != "HEAD" {
        reader.read_to_end(&mut body)?;
    }
    Ok(Response { head, body })
}

/// Reads a request (head and `Content-Length` body) from a client.
pub fn read_request(reader: &mut impl BufRead) -> io::Result<Option<(Head, Vec<u8>)>> {
    let Some(head) = Head::read(reader)? else {
        return Ok(None);
    };
    let mut body = vec![0; usize::try_from(head.content_length()).unwrap_or(0)];
    reader.read_exact(&mut body)?;
    Ok(Some((head, body)))
}

/// Writes a small whole response and closes.
pub fn respond(
    client: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<()> {
    let mut head = Head {
        first_line: format!("HTTP/1.1 {status}"),
        headers: vec![
            ("Connection".into(), "close".into()),
            ("Content-Length".into(), body.len().to_string()),
        ],
    };
    for (name, value) in headers {
        head.set_header(name, value);
    }
    head.write(client)?;
    client.write_all(body)?;
    client.flush()?;
    client.shutdown(Shutdown::Both)
}

/// What a relay does to a response body on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFault {
    /// Nothing: the body passes as it is.
    None,
    /// The connection is cut after this many body bytes.
    CutAfter(u64),
    /// The byte at this offset of the body is flipped.
    FlipAt(u64),
}

/// Sends the request `head` + `body` to `backend` and relays the answer to
/// `client` with `fault` applied; returns the response's status. Closes
/// the client connection after the body.
pub fn relay(
    client: &mut TcpStream,
    mut head: Head,
    body: &[u8],
    backend: SocketAddr,
    fault: BodyFault,
) -> io::Result<u16> {
    let upstream = TcpStream::connect(backend)?;
    head.set_header("Connection", "close");
    head.set_header("Host", &backend.to_string());
    let mut out = io::BufWriter::new(&upstream);
    head.write(&mut out)?;
    out.write_all(body)?;
    out.flush()?;
    drop(out);
    let mut reader = BufReader::with_capacity(1 << 16, &upstream);
    let mut answer = Head::read(&mut reader)?
        .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "the backend closed"))?;
    let status = answer.status();
    answer.set_header("Connection", "close");
    answer.write(client)?;
    let mut offset = 0u64;
    let mut buffer = vec![0; 1 << 16];
    loop {
        let mut n = reader.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        match fault {
            BodyFault::CutAfter(limit) if offset + n as u64 >= limit => {
                n = (limit - offset) as usize;
                client.write_all(&buffer[..n])?;
                client.flush()?;
                break;
            }
            BodyFault::FlipAt(at) if (offset..offset + n as u64).contains(&at) => {
                buffer[(at - offset) as usize] ^= 0xff;
            }
            _ => {}
        }
        client.write_all(&buffer[..n])?;
        offset += n as u64;
    }
    client.flush()?;
    let _ = client.shutdown(Shutdown::Both);
    Ok(status)
}
