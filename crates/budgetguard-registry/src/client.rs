//! The distribution API's requests: addresses, logins answered as the
//! registry challenges, statuses sorted into [`RegistryError`]s, server
//! errors retried with backoff.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::{
    HeaderValue, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, RANGE, WWW_AUTHENTICATE,
};
use reqwest::{Method, Response};

use super::token::{self, Challenge, TokenRequest};
use super::{Credential, RegistryAuth, RegistryError};
use crate::reference::{Reference, DOCKER_HUB};

/// Docker Hub's API host.
const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// How a client behaves; the defaults suit registries across the internet.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Failed attempts in a row (connection lost with no new byte, server
    /// errors) before a download is given up.
    pub retries: u32,
    /// The wait after the first failure; it doubles after each further one,
    /// up to [`ClientOptions::max_backoff`].
    pub backoff: Duration,
    /// The longest wait between two attempts.
    pub max_backoff: Duration,
    /// Bytes a blob download may get ahead of its reader (and so the memory
    /// each open [`super::BlobReader`] may hold).
    pub buffer: usize,
    /// How long to wait for a connection.
    pub connect_timeout: Duration,
    /// How long a connection may stay silent before it is dropped (a
    /// download then resumes where it stopped).
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        Self {
            retries: 5,
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            buffer: 8 << 20,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(60),
        }
    }
}

impl ClientOptions {
    /// The wait before attempt `failures + 1`.
    pub(super) fn backoff_after(&self, failures: u32) -> Duration {
        self.backoff
            .saturating_mul(1 << failures.min(16))
            .min(self.max_backoff)
    }
}

/// A client for the registries of image references: reads manifests and
/// streams blobs with no Docker engine involved. Cheap to clone; clones
/// share connections and tokens.
#[derive(Clone)]
pub struct RegistryClient {
    pub(super) inner: Arc<Inner>,
}

impl std::fmt::Debug for RegistryClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("auth", &self.inner.auth)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    auth: RegistryAuth,
    pub(super) options: ClientOptions,
    /// The runtime blob downloads run on.
    pub(super) runtime: tokio::runtime::Handle,
    /// Logins looked up so far, by registry.
    logins: tokio::sync::Mutex<HashMap<String, Option<Credential>>>,
    /// The `Authorization` value that works, by registry, repository and
    /// access.
    authorizations: Mutex<HashMap<AuthorizationKey, HeaderValue>>,
}

/// What an `Authorization` value was got for: registry, repository, access.
pub(super) type AuthorizationKey = (String, String, Access);

/// What a request may do in its repository: the token's scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) enum Access {
    /// Read manifests and blobs.
    Pull,
    /// Also write them (a token for `pull,push`).
    Push,
}

/// One request of the distribution API, as [`RegistryClient::send`] sends it.
pub(super) struct Call<'a> {
    /// Its method.
    pub method: Method,
    /// What it asks for.
    pub target: Target<'a>,
    /// An address the registry gave (an upload's `Location`) instead of
    /// the target's path.
    pub url: Option<String>,
    /// The `Accept` header.
    pub accept: Option<&'a str>,
    /// The bytes asked for: first and (inclusive) last, or to the end.
    pub range: Option<(u64, Option<u64>)>,
    /// A small body and its content type.
    pub body: Option<(bytes::Bytes, &'a str)>,
    /// What the request may do.
    pub access: Access,
}

impl<'a> Call<'a> {
    /// A `GET` with pull access.
    pub(super) fn get(
        target: Target<'a>,
        accept: Option<&'a str>,
        range: Option<(u64, Option<u64>)>,
    ) -> Self {
        Self {
            method: Method::GET,
            target,
            url: None,
            accept,
            range,
            body: None,
            access: Access::Pull,
        }
    }

    /// A request with push access and no body.
    pub(super) fn push(method: Method, target: Target<'a>) -> Self {
        Self {
            method,
            target,
            url: None,
            accept: None,
            range: None,
            body: None,
            access: Access::Push,
        }
    }

    /// The token scopes it needs: its repository's, and the repository a
    /// mount reads from.
    fn scopes(&self, reference: &Reference) -> Vec<String> {
        let own = match self.access {
            Access::Pull => format!("repository:{}:pull", reference.repository()),
            Access::Push => format!("repository:{}:pull,push", reference.repository()),
        };
        let mut scopes = vec![own];
        if let Target::Mount { from, .. } = self.target {
            scopes.push(format!("repository:{from}:pull"));
        }
        scopes
    }
}

/// What a request asks for: decides the path and what a 404 means.
#[derive(Clone, Copy)]
pub(super) enum Target<'a> {
    /// A manifest by tag or digest.
    Manifest(&'a str),
    /// A blob by digest.
    Blob(&'a str),
    /// An upload of a blob by digest (its start, or its `Location`).
    Upload(&'a str),
    /// A blob by digest mounted from another repository.
    Mount {
        /// The blob.
        digest: &'a str,
        /// The repository it is mounted from.
        from: &'a str,
    },
}

impl Target<'_> {
    fn path(self) -> String {
        match self {
            Target::Manifest(tag_or_digest) => format!("manifests/{tag_or_digest}"),
            Target::Blob(digest) => format!("blobs/{digest}"),
            Target::Upload(_) => "blobs/uploads/".to_owned(),
            Target::Mount { digest, from } => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("mount", digest)
                    .append_pair("from", from)
                    .finish();
                format!("blobs/uploads/?{query}")
            }
        }
    }

    /// How messages name it.
    pub(super) fn describe(self) -> String {
        match self {
            Target::Manifest(_) => "the manifest".to_owned(),
            Target::Blob(digest) => format!("blob {digest}"),
            Target::Upload(digest) => format!("the upload of blob {digest}"),
            Target::Mount { digest, from } => format!("blob {digest} mounted from `{from}`"),
        }
    }
}

/// Installs the process's TLS provider (ring) unless one is installed:
/// every HTTPS client of the process (this crate's, and any other built on
/// the same `reqwest`) needs it.
pub fn install_tls_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl RegistryClient {
    /// A client with the logins of `auth`. Must be called inside a Tokio
    /// runtime: blob downloads run on it.
    pub fn new(auth: RegistryAuth, options: ClientOptions) -> Result<Self, RegistryError> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| RegistryError::Setup("no async runtime is running".into()))?;
        install_tls_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("budgetguard-techops/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::custom(follow_redirect))
            .connect_timeout(options.connect_timeout)
            .read_timeout(options.read_timeout)
            .build()
            .map_err(|e| RegistryError::Setup(budgetguard_base::error_text(&e)))?;
        Ok(Self {
            inner: Arc::new(Inner {
                http,
                auth,
                options,
                runtime,
                logins: tokio::sync::Mutex::new(HashMap::new()),
                authorizations: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// Sends an authorised `GET` for `target` of `reference`'s repository,
    /// from byte `offset` on (a `Range` request) when it is not 0.
    pub(super) async fn get(
        &self,
        reference: &Reference,
        target: Target<'_>,
        accept: Option<&str>,
        offset: u64,
    ) -> Result<Response, RegistryError> {
        let range = (offset > 0).then_some((offset, None));
        self.send(reference, Call::get(target, accept, range)).await
    }

    /// Sends an authorised request of `reference`'s repository. Answers the
    /// registry's login challenge once (for the call's [`Access`]), retries
    /// server errors with backoff, and sorts every other failure.
    pub(super) async fn send(
        &self,
        reference: &Reference,
        call: Call<'_>,
    ) -> Result<Response, RegistryError> {
        let url = match &call.url {
            Some(url) => url.clone(),
            None => format!(
                "{}/v2/{}/{}",
                base_url(reference.registry()),
                reference.repository(),
                call.target.path()
            ),
        };
        let key = (
            reference.registry().to_owned(),
            reference.repository().to_owned(),
            call.access,
        );
        let mut challenged = false;
        let mut server_failures = 0;
        loop {
            let mut request = self.inner.http.request(call.method.clone(), &url);
            if let Some(accept) = call.accept {
                request = request.header(ACCEPT, accept);
            }
            if let Some((start, end)) = call.range {
                let end = end.map(|e| e.to_string()).unwrap_or_default();
                request = request.header(RANGE, format!("bytes={start}-{end}"));
            }
            if let Some((body, content_type)) = &call.body {
                request = request
                    .header(CONTENT_TYPE, *content_type)
                    .body(body.clone());
            } else if call.method == Method::POST || call.method == Method::PUT {
                request = request.header(CONTENT_LENGTH, 0);
            }
            if let Some(value) = self.authorization(&key) {
                request = request.header(AUTHORIZATION, value);
            }
            let response = request.send().await.map_err(|e| {
                refused_redirect(reference.registry(), &e)
                    .unwrap_or_else(|| unreachable(reference.registry(), &e))
            })?;
            let status = response.status();
            match status.as_u16() {
                401 if !challenged => {
                    challenged = true;
                    let value = match self
                        .answer(
                            reference,
                            response.headers().get(WWW_AUTHENTICATE),
                            &call.scopes(reference),
                        )
                        .await
                    {
                        Err(RegistryError::Unauthorized { .. }) if call.access == Access::Push => {
                            return Err(self.push_refused(reference, 401).await)
                        }
                        answer => answer?,
                    };
                    self.inner
                        .authorizations
                        .lock()
                        .expect("not poisoned")
                        .insert(key.clone(), value);
                }
                401 if call.access == Access::Push => {
                    return Err(self.push_refused(reference, 401).await)
                }
                401 => return Err(self.unauthorized(reference).await),
                402 => {
                    return Err(RegistryError::NoEntitlement {
                        reference: reference.to_string(),
                    })
                }
                403 if call.access == Access::Push => {
                    return Err(self.push_refused(reference, 403).await)
                }
                403 => {
                    return Err(RegistryError::Denied {
                        reference: reference.to_string(),
                        registry: reference.registry().to_owned(),
                    })
                }
                404 if call.method != Method::HEAD => {
                    return Err(not_found(reference, call.target))
                }
                429 | 500..=599 if server_failures < self.inner.options.retries => {
                    tokio::time::sleep(self.inner.options.backoff_after(server_failures)).await;
                    server_failures += 1;
                }
                _ if status.is_success() || status.as_u16() == 404 => return Ok(response),
                _ => return Err(rejected(reference, call.target, response).await),
            }
        }
    }

    /// The `Authorization` value that worked for `key` so far.
    pub(super) fn authorization(&self, key: &AuthorizationKey) -> Option<HeaderValue> {
        self.inner
            .authorizations
            .lock()
            .expect("not poisoned")
            .get(key)
            .cloned()
    }

    /// The `Authorization` value that answers `challenge`.
    async fn answer(
        &self,
        reference: &Reference,
        challenge: Option<&HeaderValue>,
        scopes: &[String],
    ) -> Result<HeaderValue, RegistryError> {
        let challenge = challenge
            .and_then(|v| v.to_str().ok())
            .and_then(token::parse_challenge);
        let login = self.login(reference.registry()).await?;
        match (challenge, &login) {
            (Some(Challenge::Basic), Some(Credential::Password { username, password })) => {
                Ok(token::basic(username, password))
            }
            (Some(Challenge::Bearer { realm, service, .. }), _) => {
                token::fetch_token(
                    &self.inner.http,
                    TokenRequest {
                        registry: reference.registry(),
                        reference: &reference.to_string(),
                        realm: &realm,
                        service: service.as_deref(),
                        scopes,
                        credential: login.as_ref(),
                    },
                )
                .await
            }
            _ => Err(RegistryError::Unauthorized {
                reference: reference.to_string(),
                registry: reference.registry().to_owned(),
                had_credentials: login.is_some(),
            }),
        }
    }

    async fn push_refused(&self, reference: &Reference, status: u16) -> RegistryError {
        let had_credentials = matches!(self.login(reference.registry()).await, Ok(Some(_)));
        RegistryError::PushRefused {
            repository: reference.repository().to_owned(),
            registry: reference.registry().to_owned(),
            status,
            had_credentials,
        }
    }

    async fn unauthorized(&self, reference: &Reference) -> RegistryError {
        let had_credentials = matches!(self.login(reference.registry()).await, Ok(Some(_)));
        RegistryError::Unauthorized {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            had_credentials,
        }
    }

    /// The login for `registry`, looked up once.
    async fn login(&self, registry: &str) -> Result<Option<Credential>, RegistryError> {
        let mut logins = self.inner.logins.lock().await;
        if let Some(login) = logins.get(registry) {
            return Ok(login.clone());
        }
        let login = self.inner.auth.login(registry).await?;
        logins.insert(registry.to_owned(), login.clone());
        Ok(login)
    }
}

/// The most redirects followed for one request.
const MAX_REDIRECTS: usize = 10;

/// The address of a registry's API: plain HTTP on loopback (as Docker
/// allows there), HTTPS elsewhere; Docker Hub's API has a host of its own.
pub(super) fn base_url(registry: &str) -> String {
    if registry == DOCKER_HUB {
        return format!("https://{DOCKER_HUB_API}");
    }
    let scheme = if is_loopback(registry) {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{registry}")
}

/// Whether a registry host (with optional port) is this machine:
/// `localhost`, `127.0.0.0/8` or `[::1]`.
fn is_loopback(registry: &str) -> bool {
    reqwest::Url::parse(&format!("http://{registry}")).is_ok_and(|url| is_loopback_url(&url))
}

/// Whether `url`'s host is this machine (`localhost`, `127.0.0.0/8`,
/// `[::1]`): plain HTTP is allowed there.
pub fn is_loopback_url(url: &reqwest::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// The host (and port) of `url` when a login or token must not be sent
/// there: plain HTTP to another machine. Credentials travel only over
/// HTTPS, or to this machine.
pub(super) fn plain_http_host(url: &reqwest::Url) -> Option<String> {
    (url.scheme() != "https" && !is_loopback_url(url)).then(|| {
        let host = url.host_str().unwrap_or_default();
        match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.to_owned(),
        }
    })
}

/// A redirect refused: to plain HTTP on another machine.
#[derive(Debug)]
struct PlainHttpRedirect(String);

impl std::fmt::Display for PlainHttpRedirect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "a redirect to plain HTTP on {}", self.0)
    }
}

impl std::error::Error for PlainHttpRedirect {}

/// The client's redirect policy: at most [`MAX_REDIRECTS`], never to plain
/// HTTP on another machine (the request may carry a token).
fn follow_redirect(attempt: reqwest::redirect::Attempt<'_>) -> reqwest::redirect::Action {
    if let Some(host) = plain_http_host(attempt.url()) {
        attempt.error(PlainHttpRedirect(host))
    } else if attempt.previous().len() > MAX_REDIRECTS {
        attempt.error("too many redirects")
    } else {
        attempt.follow()
    }
}

/// The refusal of a request that `registry` redirected to plain HTTP on
/// another machine, if that is why `error` happened.
pub(super) fn refused_redirect(registry: &str, error: &reqwest::Error) -> Option<RegistryError> {
    std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    })
    .find_map(|e| e.downcast_ref::<PlainHttpRedirect>())
    .map(|refused| RegistryError::PlainHttp {
        registry: registry.to_owned(),
        what: "a redirect",
        host: refused.0.clone(),
    })
}

/// A request that got no answer, with what to check, told by the error's
/// types (a TLS error inside the connection's I/O error, a timeout), not
/// by its text.
pub(super) fn unreachable(registry: &str, error: &reqwest::Error) -> RegistryError {
    let causes = std::iter::successors(Some(error as &(dyn std::error::Error + 'static)), |e| {
        e.source()
    });
    let tls = causes
        .filter_map(|e| e.downcast_ref::<std::io::Error>())
        .any(|io| {
            io.get_ref()
                .is_some_and(|inner| inner.is::<rustls::Error>())
        });
    let fix = if tls {
        "check this machine's clock and CA certificates (package ca-certificates), and that the registry speaks HTTPS"
    } else if error.is_timeout() {
        "the registry did not answer in time; check this machine's network connection and proxy settings"
    } else {
        "check the registry's name, this machine's DNS, network connection and proxy settings, and that the registry runs at that address"
    };
    RegistryError::Unreachable {
        registry: registry.to_owned(),
        detail: budgetguard_base::error_text(error),
        fix,
    }
}

fn not_found(reference: &Reference, target: Target<'_>) -> RegistryError {
    match target {
        Target::Manifest(_) => RegistryError::ManifestNotFound {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
        },
        Target::Blob(digest) | Target::Mount { digest, .. } => RegistryError::BlobNotFound {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            digest: digest.to_owned(),
        },
        Target::Upload(_) => RegistryError::Status {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            what: target.describe(),
            status: 404,
        },
    }
}

/// A status the client cannot act on, with the registry's own error code
/// (`{"errors":[{"code":…,"message":…}]}`) when it sent one.
pub(super) async fn rejected(
    reference: &Reference,
    target: Target<'_>,
    response: Response,
) -> RegistryError {
    let status = response.status().as_u16();
    let detail = read_limited(response, 64 << 10)
        .await
        .ok()
        .and_then(|body| serde_json::from_slice::<ErrorBody>(&body).ok())
        .and_then(|body| body.errors.into_iter().next())
        .map(|e| match e.message {
            Some(message) if !message.is_empty() => format!("{}: {message}", e.code),
            _ => e.code,
        });
    match detail {
        Some(detail) => RegistryError::Rejected {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            what: target.describe(),
            status,
            detail: budgetguard_base::quote::quote_detail(&detail).to_string(),
        },
        None => RegistryError::Status {
            reference: reference.to_string(),
            registry: reference.registry().to_owned(),
            what: target.describe(),
            status,
        },
    }
}

/// A registry's error answer.
#[derive(serde::Deserialize)]
struct ErrorBody {
    errors: Vec<ErrorItem>,
}

#[derive(serde::Deserialize)]
struct ErrorItem {
    code: String,
    message: Option<String>,
}

/// Reads a whole small body (a manifest, a config, a token answer), up to
/// `limit` bytes.
pub(super) async fn read_limited(mut response: Response, limit: u64) -> Result<Vec<u8>, BodyError> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Dropped)? {
        if body.len() as u64 + chunk.len() as u64 > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Why a small body could not be read.
#[derive(Debug)]
pub(super) enum BodyError {
    /// The connection failed.
    Dropped(reqwest::Error),
    /// It is longer than allowed.
    TooLarge,
}

impl std::fmt::Display for BodyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BodyError::Dropped(e) => f.write_str(&budgetguard_base::error_text(e)),
            BodyError::TooLarge => f.write_str("longer than a body of its kind may be"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_registries_use_plain_http() {
        assert_eq!(base_url("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(base_url("127.8.9.1"), "http://127.8.9.1");
        assert_eq!(base_url("localhost:5000"), "http://localhost:5000");
        assert_eq!(base_url("[::1]:5000"), "http://[::1]:5000");
        assert_eq!(base_url("nvcr.io"), "https://nvcr.io");
        assert_eq!(base_url("10.0.0.1:5000"), "https://10.0.0.1:5000");
        assert_eq!(base_url("docker.io"), "https://registry-1.docker.io");
        assert_eq!(
            base_url("localhost.example.com"),
            "https://localhost.example.com"
        );
    }

    #[test]
    fn credentials_go_over_plain_http_only_to_this_machine() {
        let plain = |url: &str| plain_http_host(&reqwest::Url::parse(url).unwrap());
        assert_eq!(plain("http://127.0.0.1:5000/token"), None);
        assert_eq!(plain("http://localhost/token"), None);
        assert_eq!(plain("http://[::1]:8080/token"), None);
        assert_eq!(plain("https://auth.example/token"), None);
        assert_eq!(plain("https://10.0.0.1:5000/v2/"), None);
        assert_eq!(
            plain("http://auth.example/token?secret=x"),
            Some("auth.example".into())
        );
        assert_eq!(
            plain("http://192.0.2.2:8080/v2/"),
            Some("192.0.2.2:8080".into())
        );
        assert_eq!(
            plain("http://localhost.example.com/"),
            Some("localhost.example.com".into())
        );
    }

    #[test]
    fn backoff_doubles_up_to_its_cap() {
        let options = ClientOptions::default();
        assert_eq!(options.backoff_after(0), Duration::from_secs(1));
        assert_eq!(options.backoff_after(3), Duration::from_secs(8));
        assert_eq!(options.backoff_after(10), Duration::from_secs(30));
    }
}
