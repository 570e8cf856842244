//! A bearer-token front for a test registry, as Docker Hub, NGC and most
//! registries authenticate: `/v2/…` without a valid token answers 401 with
//! `WWW-Authenticate: Bearer realm="http://127.0.0.1:<port>/token",…`;
//! `/token` issues tokens for the basic credentials it knows (or for its
//! identity token, by OAuth2 `POST`); requests with a token it issued are
//! relayed to the backing registry.

use std::io::BufReader;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use base64::Engine as _;

use crate::http::{self, BodyFault, Head};

/// The service name the front announces.
pub const SERVICE: &str = "testkit";

/// A running token front; it stops accepting when dropped.
pub struct TokenFront {
    addr: SocketAddr,
    state: Arc<State>,
}

impl std::fmt::Debug for TokenFront {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenFront")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

struct State {
    backend: SocketAddr,
    user: String,
    password: String,
    identity_token: String,
    issued: Mutex<Vec<String>>,
    token_requests: Mutex<Vec<String>>,
    stopped: std::sync::atomic::AtomicBool,
}

impl TokenFront {
    /// A front on a free loopback port for `backend` (an anonymous
    /// registry), issuing tokens to `user`/`password` and to
    /// `identity_token`.
    pub fn start(backend: SocketAddr, user: &str, password: &str, identity_token: &str) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
        let addr = listener.local_addr().expect("a bound address");
        let state = Arc::new(State {
            backend,
            user: user.to_owned(),
            password: password.to_owned(),
            identity_token: identity_token.to_owned(),
            issued: Mutex::new(Vec::new()),
            token_requests: Mutex::new(Vec::new()),
            stopped: false.into(),
        });
        let shared = state.clone();
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if shared.stopped.load(std::sync::atomic::Ordering::Relaxed) {
                    return;
                }
                let Ok(client) = client else { return };
                let state = shared.clone();
                std::thread::spawn(move || {
                    let _ = serve(client, addr, &state);
                });
            }
        });
        Self { addr, state }
    }

    /// Its host for references, `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// The query or form of each token request so far, in order.
    pub fn token_requests(&self) -> Vec<String> {
        self.state
            .token_requests
            .lock()
            .expect("not poisoned")
            .clone()
    }
}

impl Drop for TokenFront {
    fn drop(&mut self) {
        self.state
            .stopped
            .store(true, std::sync::atomic::Ordering::Relaxed);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(mut client: TcpStream, addr: SocketAddr, state: &State) -> std::io::Result<()> {
    let Some((head, body)) = http::read_request(&mut BufReader::new(&client))? else {
        return Ok(());
    };
    let (method, target) = head.method_and_target();
    if let Some(query) = target.strip_prefix("/token") {
        return issue(&mut client, state, method, query, &head, &body);
    }
    let token = head
        .header("authorization")
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned);
    let known = token.is_some_and(|t| state.issued.lock().expect("not poisoned").contains(&t));
    if known {
        http::relay(&mut client, head, &body, state.backend, BodyFault::None)?;
        return Ok(());
    }
    let mut challenge = format!("Bearer realm=\"http://{addr}/token\",service=\"{SERVICE}\"");
    if let Some(name) = repository_of(target) {
        challenge.push_str(&format!(",scope=\"repository:{name}:pull\""));
    }
    http::respond(
        &mut client,
        "401 Unauthorized",
        &[
            ("WWW-Authenticate", &challenge),
            ("Content-Type", "application/json"),
        ],
        br#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#,
    )
}

/// Answers `/token`: a token for the known password or identity token.
fn issue(
    client: &mut TcpStream,
    state: &State,
    method: &str,
    query: &str,
    head: &Head,
    body: &[u8],
) -> std::io::Result<()> {
    let form = String::from_utf8_lossy(body).into_owned();
    let allowed = if method == "POST" {
        form.split('&')
            .any(|pair| pair == format!("refresh_token={}", state.identity_token))
            && form.contains("grant_type=refresh_token")
    } else {
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{}:{}", state.user, state.password))
        );
        head.header("authorization") == Some(expected.as_str())
    };
    state
        .token_requests
        .lock()
        .expect("not poisoned")
        .push(if method == "POST" {
            format!(
                "POST {}",
                form.replace(&state.identity_token, "<identity token>")
            )
        } else {
            format!("GET {query}")
        });
    if !allowed {
        return http::respond(
            client,
            "401 Unauthorized",
            &[],
            br#"{"details":"bad credentials"}"#,
        );
    }
    let token = {
        let mut issued = state.issued.lock().expect("not poisoned");
        let token = format!("testkit-token-{}", issued.len());
        issued.push(token.clone());
        token
    };
    let answer = serde_json::json!({"token": token, "access_token": token, "expires_in": 300});
    http::respond(
        client,
        "200 OK",
        &[("Content-Type", "application/json")],
        answer.to_string().as_bytes(),
    )
}

/// The repository of `/v2/<name>/manifests/…` or `/v2/<name>/blobs/…`.
fn repository_of(target: &str) -> Option<&str> {
    let rest = target.strip_prefix("/v2/")?;
    ["/manifests/", "/blobs/"]
        .iter()
        .find_map(|marker| rest.find(marker).map(|i| &rest[..i]))
}
