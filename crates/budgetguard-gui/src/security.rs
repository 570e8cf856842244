//! The checks every request passes before it reaches a route: the server
//! answers only to its own address (no DNS rebinding), refuses requests sent
//! by other sites' pages, and wants the per-run token everywhere but on the
//! static assets.

use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, HeaderName, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

/// The request header the page's script sends the token in (pages and the
/// event stream take it as the `token` query parameter instead).
pub(crate) const TOKEN_HEADER: &str = "x-budgetguard-token";

/// Paths served without the token: the stylesheet and the script, which hold
/// nothing secret.
const PUBLIC_PREFIX: &str = "/assets/";

/// A per-run secret: 32 random bytes, in hex.
#[derive(Debug, Clone)]
pub(crate) struct Token(String);

impl Token {
    /// A fresh token from the system's random source.
    pub(crate) fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(hex::encode(bytes)))
    }

    /// The token's text, as the URL carries it.
    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the token, compared in constant time.
    fn matches(&self, candidate: &str) -> bool {
        let (a, b) = (self.0.as_bytes(), candidate.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0, |acc, (x, y)| acc | (x ^ y)) == 0
    }
}

/// What a request must match: the server's own addresses and the token.
#[derive(Debug, Clone)]
pub(crate) struct Guard {
    token: Token,
    hosts: [String; 2],
}

impl Guard {
    /// The guard of a server listening on 127.0.0.1:`port`.
    pub(crate) fn new(token: Token, port: u16) -> Self {
        Self {
            token,
            hosts: [format!("127.0.0.1:{port}"), format!("localhost:{port}")],
        }
    }

    /// The token pages embed for their script.
    pub(crate) fn token(&self) -> &Token {
        &self.token
    }

    /// Why a request with these parts is refused, if it is.
    fn refusal(&self, uri: &Uri, headers: &HeaderMap) -> Option<Refusal> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        if !host.is_some_and(|host| self.hosts.iter().any(|own| own.eq_ignore_ascii_case(host))) {
            return Some(Refusal::Host);
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let own = origin.to_str().ok().and_then(|o| o.strip_prefix("http://"));
            if !own.is_some_and(|o| self.hosts.iter().any(|h| h.eq_ignore_ascii_case(o))) {
                return Some(Refusal::Origin);
            }
        }
        if uri.path().starts_with(PUBLIC_PREFIX) {
            return None;
        }
        let from_header = headers.get(TOKEN_HEADER).and_then(|t| t.to_str().ok());
        let from_query = Query::<TokenQuery>::try_from_uri(uri)
            .ok()
            .and_then(|Query(q)| q.token);
        match from_header.or(from_query.as_deref()) {
            Some(token) if self.token.matches(token) => None,
            _ => Some(Refusal::Token),
        }
    }
}

#[derive(Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// Why a request was refused.
enum Refusal {
    Host,
    Origin,
    Token,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let message = match self {
            Refusal::Host => {
                "refused: this server answers only at the 127.0.0.1 address “budgetguard-techops gui” printed"
            }
            Refusal::Origin => "refused: the request came from another site's page",
            Refusal::Token => {
                "refused: open the address “budgetguard-techops gui” printed; it carries this run's access token"
            }
        };
        (StatusCode::FORBIDDEN, message).into_response()
    }
}

/// The middleware: refuses what [`Guard`] refuses, passes the rest on.
pub(crate) async fn check(State(guard): State<Guard>, request: Request, next: Next) -> Response {
    let mut response = match guard.refusal(request.uri(), request.headers()) {
        Some(refusal) => refusal.into_response(),
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

/// Sent with every response: only this server's own script and styles run
/// (inline styles are allowed for the progress bar's width), pictures come
/// from the server or inline (Try it's answer, a `data:` URL), no other
/// site may frame the page, and nothing is cached (the pages carry the
/// token).
const SECURITY_HEADERS: [(HeaderName, &str); 4] = [
    (
        header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ),
    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (header::REFERRER_POLICY, "no-referrer"),
    (header::CACHE_CONTROL, "no-store"),
];

#[cfg(test)]
mod tests {
    use super::*;

    fn guard() -> Guard {
        Guard::new(Token("ab12".into()), 4000)
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn token_comes_from_the_header_or_the_query() {
        let g = guard();
        let host = headers(&[("host", "127.0.0.1:4000")]);
        let passes =
            |uri: &str, headers: &HeaderMap| g.refusal(&uri.parse().unwrap(), headers).is_none();
        assert!(passes("/?token=ab12", &host));
        assert!(passes("/?x=1&token=ab12", &host));
        let with_header = headers(&[("host", "127.0.0.1:4000"), (TOKEN_HEADER, "ab12")]);
        assert!(passes("/api/cancel", &with_header));
        assert!(!passes("/?token=ab13", &host));
        assert!(!passes("/?token=ab1", &host));
        assert!(!passes("/", &host));
        assert!(passes("/assets/app.css", &host));
    }

    #[test]
    fn only_the_servers_own_host_and_origin_pass() {
        let g = guard();
        let uri: Uri = "/?token=ab12".parse().unwrap();
        let ok = |pairs: &[(&'static str, &str)]| g.refusal(&uri, &headers(pairs)).is_none();
        assert!(ok(&[("host", "localhost:4000")]));
        assert!(ok(&[
            ("host", "127.0.0.1:4000"),
            ("origin", "http://localhost:4000")
        ]));
        assert!(!ok(&[]));
        assert!(!ok(&[("host", "127.0.0.1")]));
        assert!(!ok(&[("host", "evil.example:4000")]));
        assert!(!ok(&[
            ("host", "127.0.0.1:4000"),
            ("origin", "http://evil.example")
        ]));
        assert!(!ok(&[("host", "127.0.0.1:4000"), ("origin", "null")]));
        assert!(!ok(&[
            ("host", "127.0.0.1:4000"),
            ("origin", "https://127.0.0.1:4000")
        ]));
    }
}
