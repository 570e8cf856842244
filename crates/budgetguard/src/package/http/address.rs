//! A package's address: parsed once, checked against the plain-HTTP rule,
//! and shown everywhere without what may be secret (a login, a query that
//! may hold a signature).

use reqwest::Url;

use super::HttpError;

/// A checked `http://` or `https://` address of a package.
#[derive(Debug, Clone)]
pub(super) struct Address {
    /// The URL requested.
    pub url: Url,
    /// How messages show it.
    pub shown: String,
}

/// Whether `given` names a package by URL (`scheme://…`) rather than a
/// file.
pub fn is_url(given: &str) -> bool {
    scheme_of(given).is_some()
}

/// The scheme of a `scheme://…` address, lowercased.
pub(super) fn scheme_of(given: &str) -> Option<String> {
    let (scheme, _) = given.split_once("://")?;
    let valid = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    valid.then(|| scheme.to_ascii_lowercase())
}

/// An address as text, without what may be a login or a query (for logs
/// and for text that failed to parse as a URL).
pub fn redacted(given: &str) -> String {
    let given = given.split(['?', '#']).next().unwrap_or_default();
    match (given.split_once("://"), given.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…@{}", &given[at + 1..]),
        _ => given.to_owned(),
    }
}

/// `url` without its login and query, for messages.
pub(super) fn shown(url: &Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    let query = shown.query().is_some();
    shown.set_query(None);
    shown.set_fragment(None);
    let mut text = shown.to_string();
    if query {
        text.push_str("?…");
    }
    text
}

impl Address {
    /// Parses `given`: `https://` anywhere, `http://` only to this machine
    /// unless `allow_http`; a login in the address is refused.
    pub(super) fn parse(given: &str, allow_http: bool) -> Result<Self, HttpError> {
        let url = Url::parse(given).map_err(|e| HttpError::BadAddress {
            given: redacted(given),
            detail: e.to_string(),
        })?;
        let shown = shown(&url);
        if !matches!(url.scheme(), "http" | "https") {
            return Err(HttpError::UnsupportedScheme {
                given: shown,
                scheme: url.scheme().to_owned(),
            });
        }
        if url.host().is_none() {
            return Err(HttpError::BadAddress {
                given: shown,
                detail: "it names no host".into(),
            });
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(HttpError::LoginInAddress {
                host: url.host_str().unwrap_or_default().to_owned(),
                url: shown,
            });
        }
        if url.scheme() == "http" && !allow_http && !budgetguard_registry::is_loopback_url(&url) {
            return Err(HttpError::PlainHttp { url: shown });
        }
        Ok(Self { url, shown })
    }

    /// Whether credentials may be sent to it: over HTTPS, or to this
    /// machine.
    pub(super) fn may_carry_login(&self) -> bool {
        self.url.scheme() == "https" || budgetguard_registry::is_loopback_url(&self.url)
    }

    /// Its host, as `~/.netrc` names machines.
    pub(super) fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_for_this_machine_unless_allowed() {
        for url in [
            "http://127.0.0.1:8080/p.zip",
            "http://localhost/p.zip",
            "http://[::1]:81/p.zip",
            "https://techops.studio.lan/p.zip",
        ] {
            assert!(Address::parse(url, false).is_ok(), "{url}");
        }
        let refused = Address::parse("http://techops.studio.lan/p.zip", false).unwrap_err();
        assert!(matches!(refused, HttpError::PlainHttp { .. }), "{refused}");
        assert!(Address::parse("http://techops.studio.lan/p.zip", true).is_ok());
        assert!(!Address::parse("http://10.0.0.2/p.zip", true)
            .unwrap()
            .may_carry_login());
    }

    #[test]
    fn logins_and_queries_never_show() {
        let refused = Address::parse("https://bob:hunter2@example.com/p.zip", false).unwrap_err();
        let text = refused.to_string();
        assert!(!text.contains("hunter2") && !text.contains("bob"), "{text}");
        let signed =
            Address::parse("https://s3.example.com/p.zip?X-Amz-Signature=abc123", false).unwrap();
        assert_eq!(signed.shown, "https://s3.example.com/p.zip?…");
        let bad = Address::parse("https://bob:hunter2@[bad/p.zip", false).unwrap_err();
        assert!(!bad.to_string().contains("hunter2"), "{bad}");
        let oci = Address::parse("oci://registry.lan/x:1", false).unwrap_err();
        assert!(matches!(oci, HttpError::UnsupportedScheme { .. }), "{oci}");
    }

    #[test]
    fn urls_are_told_from_files() {
        assert!(is_url("https://example.com/p.zip"));
        assert!(is_url("HTTP://example.com/p.zip"));
        assert!(is_url("oci://registry.lan/p:1"));
        assert!(!is_url("./p.zip"));
        assert!(!is_url("/data/p://x.zip"));
        assert!(!is_url("p.zip"));
    }
}
