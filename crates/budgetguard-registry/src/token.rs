//! Answers to a registry's `401` challenge (`WWW-Authenticate`): basic
//! credentials, or a bearer token from the registry's token service, got
//! with the login (password by `GET` with basic auth, identity token by
//! OAuth2 `POST`), or anonymously.

use std::collections::HashMap;

use base64::Engine as _;
use reqwest::header::HeaderValue;
use serde::Deserialize;

use super::client::{plain_http_host, read_limited, refused_redirect};
use super::{Credential, RegistryError};

/// The longest token answer read.
const MAX_ANSWER: u64 = 1 << 20;

/// The client id sent with OAuth2 token requests.
const CLIENT_ID: &str = "budgetguard-techops";

/// A parsed `WWW-Authenticate` header.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Challenge {
    /// `Basic realm=…`.
    Basic,
    /// `Bearer realm=…,service=…,scope=…`.
    Bearer {
        /// The token service's URL.
        realm: String,
        /// The service name to ask for.
        service: Option<String>,
        /// The scope the registry asked for.
        scope: Option<String>,
    },
}

/// Reads a `WWW-Authenticate` value; `None` for schemes this client lacks.
pub(super) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
            scope: params.get("scope").cloned(),
        }),
        _ => None,
    }
}

/// `key="value", key=value` pairs; quoted values may hold commas and `\"`.
fn parse_params(text: &str) -> HashMap<String, String> {
    let mut params = HashMap::new();
    let mut chars = text.chars().peekable();
    loop {
        while chars.next_if(|c| *c == ',' || c.is_whitespace()).is_some() {}
        let key: String =
            std::iter::from_fn(|| chars.next_if(|c| *c != '=' && *c != ',')).collect();
        if key.is_empty() || chars.next() != Some('=') {
            return params;
        }
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut value = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            value.extend(std::iter::from_fn(|| chars.next_if(|c| *c != ',')));
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// The `Authorization` value of basic credentials.
pub(super) fn basic(username: &str, password: &str) -> HeaderValue {
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
    let mut value =
        HeaderValue::from_str(&format!("Basic {encoded}")).expect("base64 is a valid header value");
    value.set_sensitive(true);
    value
}

#[derive(Deserialize)]
struct TokenAnswer {
    token: Option<String>,
    access_token: Option<String>,
}

/// What a token request needs besides the HTTP client.
pub(super) struct TokenRequest<'a> {
    /// The registry host, for messages.
    pub registry: &'a str,
    /// The image reference, for messages.
    pub reference: &'a str,
    /// The token service's URL.
    pub realm: &'a str,
    /// The service name.
    pub service: Option<&'a str>,
    /// The scopes asked for (`repository:<name>:pull`, …).
    pub scopes: &'a [String],
    /// The login, if any.
    pub credential: Option<&'a Credential>,
}

/// Gets a bearer token and returns it as an `Authorization` value.
pub(super) async fn fetch_token(
    http: &reqwest::Client,
    request: TokenRequest<'_>,
) -> Result<HeaderValue, RegistryError> {
    let failed = |detail: String| RegistryError::TokenService {
        registry: request.registry.to_owned(),
        realm: request.realm.to_owned(),
        detail,
    };
    let mut url = reqwest::Url::parse(request.realm)
        .map_err(|e| failed(format!("its address is not a URL: {e}")))?;
    if let Some(host) = plain_http_host(&url) {
        return Err(RegistryError::PlainHttp {
            registry: request.registry.to_owned(),
            what: "the token service",
            host,
        });
    }
    let builder = match request.credential {
        Some(Credential::IdentityToken(token)) => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "refresh_token")
                .append_pair("refresh_token", token)
                .append_pair("client_id", CLIENT_ID)
                .append_pair("scope", &request.scopes.join(" "));
            if let Some(service) = request.service {
                form.append_pair("service", service);
            }
            http.post(url)
                .header(
                    reqwest::header::CONTENT_TYPE,
                    "application/x-www-form-urlencoded",
                )
                .body(form.finish())
        }
        credential => {
            {
                let mut query = url.query_pairs_mut();
                if let Some(service) = request.service {
                    query.append_pair("service", service);
                }
                for scope in request.scopes {
                    query.append_pair("scope", scope);
                }
            }
            let builder = http.get(url);
            match credential {
                Some(Credential::Password { username, password }) => {
                    builder.header(reqwest::header::AUTHORIZATION, basic(username, password))
                }
                _ => builder,
            }
        }
    };
    let response = builder.send().await.map_err(|e| {
        refused_redirect(request.registry, &e)
            .unwrap_or_else(|| failed(budgetguard_base::error_text(&e)))
    })?;
    let status = response.status().as_u16();
    if status == 401 || status == 403 {
        return Err(RegistryError::Unauthorized {
            reference: request.reference.to_owned(),
            registry: request.registry.to_owned(),
            had_credentials: request.credential.is_some(),
        });
    }
    if !response.status().is_success() {
        return Err(failed(format!("HTTP {status}")));
    }
    let body = read_limited(response, MAX_ANSWER)
        .await
        .map_err(|e| failed(format!("unreadable answer: {e}")))?;
    let answer: TokenAnswer =
        serde_json::from_slice(&body).map_err(|e| failed(format!("unreadable answer: {e}")))?;
    let token = answer
        .token
        .or(answer.access_token)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| failed("the answer holds no token".into()))?;
    let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
        .map_err(|_| failed("the token is not a valid header value".into()))?;
    value.set_sensitive(true);
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read() {
        assert_eq!(
            parse_challenge(
                r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#
            ),
            Some(Challenge::Bearer {
                realm: "https://auth.example/token".into(),
                service: Some("registry.example".into()),
                scope: Some("repository:a/b:pull,push".into()),
            })
        );
        assert_eq!(
            parse_challenge(r#"Basic realm="test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(
            parse_challenge(r#"bearer realm=https://x/t, service = "s\"q""#),
            Some(Challenge::Bearer {
                realm: "https://x/t".into(),
                service: Some("s\"q".into()),
                scope: None,
            })
        );
        assert_eq!(parse_challenge("Negotiate abc"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
    }

    #[test]
    fn basic_values_are_sensitive() {
        let value = basic("user", "pass");
        assert!(value.is_sensitive());
        assert_eq!(value.to_str().unwrap(), "Basic dXNlcjpwYXNz");
    }
}
