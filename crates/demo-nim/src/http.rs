//! Just enough HTTP/1.1: read one request (head plus a Content-Length body)
//! and write one response with `Connection: close`.

use std::io::{self, Read, Write};

/// Largest request head (request line plus headers) we accept.
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body we accept (conditioning images arrive inline as base64).
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// One parsed HTTP request.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// The method, e.g. `GET`.
    pub method: String,
    /// The path without the query string, e.g. `/v1/infer`.
    pub path: String,
    /// Headers in order, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The body (empty without Content-Length).
    pub body: Vec<u8>,
}

impl Request {
    /// The first header called `name` (give it in lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Why a request could not be read; each maps to an HTTP error status.
#[derive(Debug)]
pub enum ReadError {
    /// The peer closed the connection before sending anything.
    Closed,
    /// The request is not valid HTTP/1.x (400).
    Malformed(&'static str),
    /// The head or the body is too large (431 / 413).
    TooLarge(u16),
    /// A chunked body, which we do not support (411).
    LengthRequired,
    /// The socket failed or timed out.
    Io(io::Error),
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        ReadError::Io(e)
    }
}

impl std::fmt::Display for ReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReadError::Closed => write!(f, "connection closed before a request"),
            ReadError::Malformed(m) => write!(f, "malformed request: {m}"),
            ReadError::TooLarge(s) => write!(f, "request too large ({s})"),
            ReadError::LengthRequired => write!(f, "chunked body without Content-Length"),
            ReadError::Io(e) => write!(f, "{e}"),
        }
    }
}

impl ReadError {
    /// The error response to send back, if the connection is still usable.
    pub fn response(&self) -> Option<Response> {
        let (status, msg) = match self {
            ReadError::Closed | ReadError::Io(_) => return None,
            ReadError::Malformed(m) => (400, *m),
            ReadError::TooLarge(s) => (*s, "request too large"),
            ReadError::LengthRequired => (411, "Content-Length required"),
        };
        Some(Response::detail(status, msg))
    }
}

/// Reads one request from `stream`. Answers `Expect: 100-continue` so that
/// clients such as curl send large bodies without waiting.
pub fn read_request<S: Read + Write>(stream: &mut S) -> Result<Request, ReadError> {
    let mut buf = Vec::with_capacity(1024);
    let mut chunk = [0u8; 8192];
    let mut scanned = 0; // bytes already searched for the blank line
    let head_end = loop {
        if let Some(i) = find(&buf[scanned..], b"\r\n\r\n") {
            break scanned + i;
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() > MAX_HEAD {
            return Err(ReadError::TooLarge(431));
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(if buf.is_empty() {
                ReadError::Closed
            } else {
                ReadError::Malformed("incomplete request head")
            });
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    if head_end > MAX_HEAD {
        return Err(ReadError::TooLarge(431));
    }
    let mut req = parse_head(&buf[..head_end])?;

    if req
        .header("transfer-encoding")
        .is_some_and(|v| !v.eq_ignore_ascii_case("identity"))
    {
        return Err(ReadError::LengthRequired);
    }
    let len = match req.header("content-length") {
        None => 0,
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| ReadError::Malformed("invalid Content-Length"))?,
    };
    if len > MAX_BODY {
        return Err(ReadError::TooLarge(413));
    }
    let mut body = buf.split_off(head_end + 4);
    if body.len() < len
        && req
            .header("expect")
            .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"))
    {
        stream.write_all(b"HTTP/1.1 100 Continue\r\n\r\n")?;
    }
    while body.len() < len {
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(ReadError::Malformed("body shorter than Content-Length"));
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(len); // ignore anything pipelined after the body
    req.body = body;
    Ok(req)
}

/// Parses the request line and headers (the bytes before the blank line).
pub fn parse_head(head: &[u8]) -> Result<Request, ReadError> {
    let text = std::str::from_utf8(head).map_err(|_| ReadError::Malformed("head is not UTF-8"))?;
    let mut lines = text.split("\r\n");
    let request_line = lines.next().unwrap_or_default();
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed("bad request line"));
    };
    let token = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_uppercase());
    if !token(method) || !target.starts_with('/') || !version.starts_with("HTTP/1.") {
        return Err(ReadError::Malformed("bad request line"));
    }
    let path = target.split(['?', '#']).next().unwrap_or(target);

    let mut headers = Vec::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            return Err(ReadError::Malformed("bad header line"));
        };
        if name.is_empty() || name.contains([' ', '\t']) {
            return Err(ReadError::Malformed("bad header name"));
        }
        headers.push((name.to_ascii_lowercase(), value.trim().to_string()));
    }
    Ok(Request {
        method: method.to_string(),
        path: path.to_string(),
        headers,
        body: Vec::new(),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One HTTP response; the body is always JSON here.
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The status code, e.g. 200.
    pub status: u16,
    /// Extra headers beyond Content-Type, Content-Length and Connection.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

impl Response {
    /// A response with a JSON body.
    pub fn json(status: u16, body: impl Into<String>) -> Self {
        Response {
            status,
            headers: Vec::new(),
            body: body.into(),
        }
    }

    /// An error in FastAPI's plain form, `{"detail":"..."}`.
    pub fn detail(status: u16, msg: &str) -> Self {
        Self::json(
            status,
            format!("{{\"detail\":\"{}\"}}", crate::json::escape(msg)),
        )
    }

    /// Adds a header.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Serialises the whole response (head and body) to `out`.
    pub fn write_to<W: Write>(&self, out: &mut W) -> io::Result<()> {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
            self.status,
            reason(self.status),
            self.body.len()
        );
        for (k, v) in &self.headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        out.write_all(head.as_bytes())?;
        out.write_all(self.body.as_bytes())?;
        out.flush()
    }
}

/// The reason phrase for the status codes this server uses.
pub fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        411 => "Length Required",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        _ => "Unknown",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    /// An in-memory connection: reads from `input`, records writes.
    struct Mock {
        input: Cursor<Vec<u8>>,
        output: Vec<u8>,
    }

    impl Mock {
        fn new(data: &[u8]) -> Self {
            Mock {
                input: Cursor::new(data.to_vec()),
                output: Vec::new(),
            }
        }
    }

    impl Read for Mock {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            // Hand out at most 7 bytes at a time to exercise partial reads.
            let n = buf.len().min(7);
            self.input.read(&mut buf[..n])
        }
    }

    impl Write for Mock {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.output.write(buf)
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn reads_post_with_body() {
        let raw = b"POST /v1/infer?x=1 HTTP/1.1\r\nHost: a\r\nContent-Type: application/json\r\nCONTENT-LENGTH: 13\r\n\r\n{\"prompt\":\"\"}GARBAGE";
        let mut m = Mock::new(raw);
        let req = read_request(&mut m).unwrap();
        assert_eq!(req.method, "POST");
        assert_eq!(req.path, "/v1/infer");
        assert_eq!(req.header("content-type"), Some("application/json"));
        assert_eq!(req.header("host"), Some("a"));
        assert_eq!(req.body, b"{\"prompt\":\"\"}");
        assert!(m.output.is_empty());
    }

    #[test]
    fn reads_get_without_body() {
        let mut m = Mock::new(b"GET /v1/health/ready HTTP/1.0\r\n\r\n");
        let req = read_request(&mut m).unwrap();
        assert_eq!(
            (req.method.as_str(), req.path.as_str()),
            ("GET", "/v1/health/ready")
        );
        assert!(req.headers.is_empty() && req.body.is_empty());
    }

    #[test]
    fn answers_expect_continue() {
        // The mock hands out 7 bytes per read, so most of the body is still unread.
        let raw = b"POST / HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 20\r\n\r\n{\"prompt\":\"abcdefg\"}";
        let mut m = Mock::new(raw);
        assert_eq!(
            read_request(&mut m).unwrap().body,
            b"{\"prompt\":\"abcdefg\"}"
        );
        assert_eq!(m.output, b"HTTP/1.1 100 Continue\r\n\r\n");
    }

    #[test]
    fn rejects_bad_requests() {
        let status = |raw: &[u8]| match read_request(&mut Mock::new(raw)) {
            Err(e) => e.response().map(|r| r.status),
            Ok(_) => Some(200),
        };
        assert_eq!(status(b""), None);
        assert_eq!(status(b"GET / HTTP/1.1\r\n"), Some(400));
        assert_eq!(status(b"GET /\r\n\r\n"), Some(400));
        assert_eq!(status(b"get / HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET x HTTP/1.1\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/2\r\n\r\n"), Some(400));
        assert_eq!(status(b"GET / HTTP/1.1\r\nNoColon\r\n\r\n"), Some(400));
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"),
            Some(400)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nab"),
            Some(400)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Some(411)
        );
        assert_eq!(
            status(b"POST / HTTP/1.1\r\nContent-Length: 999999999999\r\n\r\n"),
            Some(413)
        );
        let mut huge = b"GET / HTTP/1.1\r\nX: ".to_vec();
        huge.extend(std::iter::repeat_n(b'a', MAX_HEAD + 10));
        assert_eq!(status(&huge), Some(431));
    }

    #[test]
    fn writes_response() {
        let mut out = Vec::new();
        Response::detail(405, "Method Not Allowed")
            .with_header("Allow", "GET")
            .write_to(&mut out)
            .unwrap();
        let text = String::from_utf8(out).unwrap();
        assert_eq!(
            text,
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: application/json\r\nContent-Length: 31\r\n\
             Connection: close\r\nAllow: GET\r\n\r\n{\"detail\":\"Method Not Allowed\"}"
        );
    }
}
