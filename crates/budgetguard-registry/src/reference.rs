//! Image references (`nvcr.io/nim/x:1.2.3`, `demo:1`,
//! `localhost:5000/a/b@sha256:…`), parsed once by Docker's rules: the one
//! place that knows where the registry ends and the tag begins.
//!
//! The grammar is Docker's (`distribution/reference`): a name of
//! slash-separated lowercase components, optionally led by a registry (a
//! first component holding `.` or `:`, `localhost`, or one with an uppercase
//! letter), then `:tag`, then `@digest`. A name without a registry is on
//! Docker Hub (`docker.io`), and a one-component Hub name is under
//! `library/`.

use std::fmt;
use std::str::FromStr;

/// The registry of names that do not name one.
pub const DOCKER_HUB: &str = "docker.io";

/// Docker Hub's legacy name, normalised to [`DOCKER_HUB`].
const LEGACY_HUB: &str = "index.docker.io";

/// The namespace of one-component Docker Hub names.
const OFFICIAL_NAMESPACE: &str = "library/";

/// The tag a reference without tag or digest stands for.
pub const DEFAULT_TAG: &str = "latest";

/// The longest repository name Docker accepts.
const MAX_NAME: usize = 255;

/// The longest tag Docker accepts.
const MAX_TAG: usize = 128;

/// A parsed image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

/// Why a string is not an image reference. Each message names the
/// reference and what a valid one looks like.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReferenceError {
    /// Nothing was given.
    #[error("the image reference is empty; give one such as `nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3`")]
    Empty,
    /// The repository part breaks the naming rules.
    #[error("`{reference}` is not a valid image reference: {why}; names are lowercase letters, digits and `.`, `_`, `-` between slashes, e.g. `registry.example.com:5000/team/image:1.0`")]
    InvalidName {
        /// The reference as given.
        reference: String,
        /// What is wrong with it.
        why: String,
    },
    /// The tag breaks the tag rules.
    #[error("`{reference}` has an invalid tag `{tag}`; a tag is up to 128 letters, digits, `_`, `.` and `-`, not starting with `.` or `-`")]
    InvalidTag {
        /// The reference as given.
        reference: String,
        /// The tag.
        tag: String,
    },
    /// The digest is malformed or of an unsupported algorithm.
    #[error("`{reference}` has an invalid digest `{digest}`; a digest is `sha256:` and 64 lowercase hex digits")]
    InvalidDigest {
        /// The reference as given.
        reference: String,
        /// The digest.
        digest: String,
    },
}

impl Reference {
    /// Parses `text` by Docker's rules.
    pub fn parse(text: &str) -> Result<Self, ReferenceError> {
        if text.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let invalid = |why: &str| ReferenceError::InvalidName {
            reference: text.to_owned(),
            why: why.to_owned(),
        };
        let (rest, digest) = match text.split_once('@') {
            Some((rest, digest)) => {
                if !is_sha256_digest(digest) {
                    return Err(ReferenceError::InvalidDigest {
                        reference: text.to_owned(),
                        digest: digest.to_owned(),
                    });
                }
                (rest, Some(digest.to_owned()))
            }
            None => (text, None),
        };
        // A `:` after the last `/` starts the tag; one before it is a port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(tag) = tag {
            if !is_tag(tag) {
                return Err(ReferenceError::InvalidTag {
                    reference: text.to_owned(),
                    tag: tag.to_owned(),
                });
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, path)) if is_registry_like(first) => {
                if !is_domain(first) {
                    return Err(invalid(&format!("`{first}` is not a valid registry host")));
                }
                (first, path)
            }
            _ => (DOCKER_HUB, name),
        };
        if path.is_empty() {
            return Err(invalid("the repository name is missing"));
        }
        if path.bytes().any(|b| b.is_ascii_uppercase()) {
            return Err(invalid("repository names must be lowercase"));
        }
        if let Some(bad) = path.split('/').find(|c| !is_path_component(c)) {
            return Err(invalid(&format!("`{bad}` is not a valid name component")));
        }
        if registry == DOCKER_HUB
            && tag.is_none()
            && digest.is_none()
            && path.len() == 64
            && path.bytes().all(|b| b.is_ascii_hexdigit())
        {
            return Err(invalid(
                "a 64-digit hexadecimal string is an image ID, not a name",
            ));
        }
        let registry = if registry == LEGACY_HUB {
            DOCKER_HUB
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("{OFFICIAL_NAMESPACE}{path}")
        } else {
            path.to_owned()
        };
        if registry.len() + 1 + repository.len() > MAX_NAME {
            return Err(invalid("the name is longer than 255 characters"));
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository,
            tag: tag.map(str::to_owned),
            digest,
        })
    }

    /// The registry host, with its port if any (`docker.io`, `nvcr.io`,
    /// `127.0.0.1:5000`).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository in the registry (`library/demo`, `nim/x`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag as written, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest as written (`sha256:…`), if any.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// What to ask a registry's manifest endpoint, or the engine's pull, for:
    /// the digest when there is one (it pins the content), else the tag,
    /// else `latest`.
    pub fn manifest_reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or(DEFAULT_TAG)
    }

    /// The full name without tag or digest (`docker.io/library/demo`).
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// The name as Docker shows it (`demo`, `budgetguard/demo-nim`,
    /// `nvcr.io/nim/x`).
    pub fn familiar_name(&self) -> String {
        if self.registry != DOCKER_HUB {
            return self.full_name();
        }
        self.repository
            .strip_prefix(OFFICIAL_NAMESPACE)
            .unwrap_or(&self.repository)
            .to_owned()
    }

    /// The whole reference spelled out, as containerd names images
    /// (`docker.io/library/demo:1`).
    pub fn full(&self) -> String {
        self.with_suffixes(self.full_name())
    }

    /// The whole reference as Docker shows it (`demo:1`).
    pub fn familiar(&self) -> String {
        self.with_suffixes(self.familiar_name())
    }

    /// The repository and tag to tag an image with (`("demo", "1")`); the
    /// tag is `latest` when none was written.
    pub fn name_and_tag(&self) -> (String, &str) {
        (
            self.familiar_name(),
            self.tag.as_deref().unwrap_or(DEFAULT_TAG),
        )
    }

    /// This reference with `latest` added when it has neither tag nor
    /// digest, as `docker pull` reads it.
    pub fn with_default_tag(mut self) -> Self {
        if self.tag.is_none() && self.digest.is_none() {
            self.tag = Some(DEFAULT_TAG.to_owned());
        }
        self
    }

    fn with_suffixes(&self, mut name: String) -> String {
        if let Some(tag) = &self.tag {
            name.push(':');
            name.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            name.push('@');
            name.push_str(digest);
        }
        name
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text)
    }
}

/// Shows the familiar form, as Docker prints references.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.familiar())
    }
}

/// `text` as Docker shows the reference (`docker.io/library/demo:1` is
/// `demo:1`), to compare references written in different spellings; text
/// that is no reference is returned as it is, so it matches no valid one.
pub fn familiar(text: &str) -> String {
    Reference::parse(text).map_or_else(|_| text.to_owned(), |r| r.familiar())
}

/// Whether `digest` is `sha256:` and 64 lowercase hex digits.
pub fn is_sha256_digest(digest: &str) -> bool {
    digest.strip_prefix("sha256:").is_some_and(|hex| {
        hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
}

/// Whether the first component of a name is a registry rather than a
/// namespace (Docker's rule).
fn is_registry_like(first: &str) -> bool {
    first == "localhost"
        || first.contains(['.', ':'])
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

/// A host name, IPv4 address or bracketed IPv6 address, with an optional
/// port.
fn is_domain(domain: &str) -> bool {
    let (host, port) = if let Some(rest) = domain.strip_prefix('[') {
        let Some((inside, after)) = rest.split_once(']') else {
            return false;
        };
        if inside.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            _ => match after.strip_prefix(':') {
                Some(port) => ("", Some(port)),
                None => return false,
            },
        }
    } else {
        match domain.rsplit_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (domain, None),
        }
    };
    let port_ok = port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()));
    let host_ok = host.is_empty() && domain.starts_with('[')
        || !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                    && !label.starts_with('-')
                    && !label.ends_with('-')
            });
    port_ok && host_ok
}

/// One path component: lowercase alphanumerics joined by `.`, `_`, `__` or
/// runs of `-`.
fn is_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    if bytes.is_empty() || !alnum(bytes[0]) || !alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !alnum(bytes[i]) {
            i += 1;
        }
        let separator = &component[start..i];
        let valid = matches!(separator, "." | "_" | "__") || separator.bytes().all(|b| b == b'-');
        if !valid {
            return false;
        }
    }
    true
}

/// A tag: a word character, then up to 127 word characters, `.` or `-`.
fn is_tag(tag: &str) -> bool {
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let bytes = tag.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= MAX_TAG
        && word(bytes[0])
        && bytes.iter().all(|&b| word(b) || b == b'.' || b == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn parts(text: &str) -> (String, String, Option<String>, Option<String>) {
        let r = Reference::parse(text).unwrap();
        (
            r.registry().to_owned(),
            r.repository().to_owned(),
            r.tag().map(str::to_owned),
            r.digest().map(str::to_owned),
        )
    }

    fn p(
        registry: &str,
        repository: &str,
        tag: Option<&str>,
        digest: Option<&str>,
    ) -> (String, String, Option<String>, Option<String>) {
        (
            registry.into(),
            repository.into(),
            tag.map(Into::into),
            digest.map(Into::into),
        )
    }

    #[test]
    fn docker_hub_short_names_get_their_registry_and_namespace() {
        assert_eq!(parts("demo"), p("docker.io", "library/demo", None, None));
        assert_eq!(
            parts("demo:1"),
            p("docker.io", "library/demo", Some("1"), None)
        );
        assert_eq!(
            parts("budgetguard/demo-nim:0.1.0"),
            p("docker.io", "budgetguard/demo-nim", Some("0.1.0"), None)
        );
        assert_eq!(
            parts("docker.io/library/demo:1"),
            p("docker.io", "library/demo", Some("1"), None)
        );
        assert_eq!(
            parts("index.docker.io/demo"),
            p("docker.io", "library/demo", None, None)
        );
    }

    #[test]
    fn registries_are_recognised_by_dot_colon_or_localhost() {
        assert_eq!(
            parts("nvcr.io/nim/black-forest-labs/flux.1-dev:1.2.3"),
            p(
                "nvcr.io",
                "nim/black-forest-labs/flux.1-dev",
                Some("1.2.3"),
                None
            )
        );
        assert_eq!(
            parts("127.0.0.1:5000/a/b:1"),
            p("127.0.0.1:5000", "a/b", Some("1"), None)
        );
        assert_eq!(
            parts("localhost:5000/a"),
            p("localhost:5000", "a", None, None)
        );
        assert_eq!(parts("localhost/x"), p("localhost", "x", None, None));
        assert_eq!(
            parts("[::1]:5000/x:2"),
            p("[::1]:5000", "x", Some("2"), None)
        );
        assert_eq!(parts("Example/x"), p("Example", "x", None, None));
        // Without `.`, `:` or `localhost` the first component is a namespace.
        assert_eq!(parts("team/x"), p("docker.io", "team/x", None, None));
    }

    #[test]
    fn digests_and_tags_with_digests() {
        assert_eq!(
            parts(&format!("repo@{DIGEST}")),
            p("docker.io", "library/repo", None, Some(DIGEST))
        );
        assert_eq!(
            parts(&format!("localhost:5000/repo:1@{DIGEST}")),
            p("localhost:5000", "repo", Some("1"), Some(DIGEST))
        );
        let r = Reference::parse(&format!("nvcr.io/a/b:1@{DIGEST}")).unwrap();
        assert_eq!(r.manifest_reference(), DIGEST);
        assert_eq!(r.familiar(), format!("nvcr.io/a/b:1@{DIGEST}"));
    }

    #[test]
    fn familiar_and_full_forms() {
        let r = Reference::parse("demo:1").unwrap();
        assert_eq!(r.familiar(), "demo:1");
        assert_eq!(r.full(), "docker.io/library/demo:1");
        assert_eq!(r.to_string(), "demo:1");
        assert_eq!(r.name_and_tag(), ("demo".to_owned(), "1"));
        let r = Reference::parse("docker.io/budgetguard/demo-nim").unwrap();
        assert_eq!(r.familiar(), "budgetguard/demo-nim");
        assert_eq!(r.full_name(), "docker.io/budgetguard/demo-nim");
        assert_eq!(
            r.name_and_tag(),
            ("budgetguard/demo-nim".to_owned(), "latest")
        );
        assert_eq!(r.manifest_reference(), "latest");
        assert_eq!(
            r.clone().with_default_tag().familiar(),
            "budgetguard/demo-nim:latest"
        );
        let r = Reference::parse("localhost:5000/x").unwrap();
        assert_eq!(r.familiar(), "localhost:5000/x");
        assert_eq!(r.full(), "localhost:5000/x");
        assert_eq!(
            "nvcr.io/nim/x:1".parse::<Reference>().unwrap().full(),
            "nvcr.io/nim/x:1"
        );
    }

    #[test]
    fn spellings_compare_in_their_familiar_form() {
        assert_eq!(familiar("docker.io/library/demo:1"), "demo:1");
        assert_eq!(familiar("index.docker.io/library/demo:1"), "demo:1");
        assert_eq!(
            familiar("docker.io/budgetguard/demo-nim:0.1.0"),
            "budgetguard/demo-nim:0.1.0"
        );
        assert_eq!(
            familiar(&format!("localhost:5000/a@{DIGEST}")),
            format!("localhost:5000/a@{DIGEST}")
        );
        assert_eq!(familiar("<none>:<none>"), "<none>:<none>");
    }

    #[test]
    fn invalid_references_are_refused_with_their_reason() {
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        for bad in [
            "Demo:1",
            "demo:",
            "demo:-x",
            "demo@sha256:abc",
            "demo@md5:0123",
            "a//b",
            "-a/b",
            "a/b-",
            "a/b..c",
            "a/b___c",
            "host:port/x",
            "nvcr.io/",
            "nvcr.io/x:1:2",
            "a b",
            "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad} was accepted");
        }
        let long_tag = format!("demo:{}", "a".repeat(129));
        assert!(matches!(
            Reference::parse(&long_tag),
            Err(ReferenceError::InvalidTag { .. })
        ));
        let message = Reference::parse("Demo:1").unwrap_err().to_string();
        assert!(message.contains("lowercase"), "{message}");
        assert!(Reference::parse("a__b/c-d/e.f/g---h").is_ok());
    }
}
