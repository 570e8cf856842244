//! Errors of registry access: one variant per thing the user must do
//! differently, each message one line that names it.

use crate::reference::DOCKER_HUB;

/// Why reading an image from its registry failed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The registry wants credentials that were not given, or refused them (401).
    #[error("{registry} refused {} for `{reference}` (401); {}",
        if *had_credentials { "the credentials" } else { "anonymous access" },
        login_hint(registry))]
    Unauthorized {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
        /// Whether credentials were sent (else none were found).
        had_credentials: bool,
    },
    /// The account may log in but not pull this image (402, NGC).
    #[error("the account has no entitlement for `{reference}` (402); request access to the image on NGC, then retry")]
    NoEntitlement {
        /// The image reference.
        reference: String,
    },
    /// The registry knows the account but denies it this repository (403).
    #[error("{registry} denied access to `{reference}` (403); check that this account may pull it, or {}", login_hint(registry))]
    Denied {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
    },
    /// The repository or tag does not exist (404 of a manifest).
    #[error("`{reference}` is not on {registry} (404: no such repository, tag or digest); check the image name and tag")]
    ManifestNotFound {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
    },
    /// A manifest names a blob the registry does not serve (404 of a blob).
    #[error("{registry} lists blob {digest} in `{reference}` but does not serve it (404): the registry is inconsistent; push the image again or ask its owner to repair it")]
    BlobNotFound {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
        /// The missing blob.
        digest: String,
    },
    /// No connection could be made (DNS, refused, TLS, timeout).
    #[error("cannot reach the registry {registry} ({detail}); {fix}")]
    Unreachable {
        /// The registry host.
        registry: String,
        /// What failed.
        detail: String,
        /// What to check.
        fix: &'static str,
    },
    /// A blob's content does not have the digest it is named by.
    #[error("blob {digest} of `{reference}` arrived with digest {actual}: the registry (or something between) served wrong data and it was refused; retry, and tell the registry's owner if it happens again")]
    DigestMismatch {
        /// The image reference.
        reference: String,
        /// The digest asked for.
        digest: String,
        /// The digest of what arrived.
        actual: String,
    },
    /// A blob is longer than its manifest says.
    #[error("blob {digest} of `{reference}` is longer than the {expected} bytes its manifest gives: the registry served wrong data and it was refused; retry, and tell the registry's owner if it happens again")]
    SizeMismatch {
        /// The image reference.
        reference: String,
        /// The blob.
        digest: String,
        /// The size the manifest gives.
        expected: u64,
    },
    /// A download kept failing.
    #[error("downloading {what} of `{reference}` failed {attempts} times in a row (last: {last}); check the network connection and run again")]
    TooManyRetries {
        /// The image reference.
        reference: String,
        /// What was downloaded (a blob digest or `the manifest`).
        what: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The registry answered with a status this client cannot act on.
    #[error("{registry} answered {status} when asked for {what} of `{reference}`; try again later, or check the registry")]
    Status {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// The registry refused a request and said why (its error code).
    #[error("{registry} refused {what} of `{reference}` ({status}: {detail}); check the registry's storage and settings, or ask its owner")]
    Rejected {
        /// The image reference.
        reference: String,
        /// The registry host.
        registry: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
        /// The registry's error code and message.
        detail: String,
    },
    /// The registry refused a push (401, 403).
    #[error("{registry} refused a push to `{repository}` ({status}); {}",
        if *had_credentials { format!("the account logged in may not push there: log in with `docker login {registry}` as one that may") } else { login_hint(registry) })]
    PushRefused {
        /// The repository pushed to.
        repository: String,
        /// The registry host.
        registry: String,
        /// The HTTP status.
        status: u16,
        /// Whether credentials were sent (else none were found).
        had_credentials: bool,
    },
    /// The manifest is of a kind this tool does not read.
    #[error(
        "`{reference}` has a manifest of type `{media_type}`, which this tool does not read{}",
        unsupported_hint(media_type)
    )]
    UnsupportedManifest {
        /// The image reference.
        reference: String,
        /// Its media type.
        media_type: String,
    },
    /// The manifest or config is not what its type promises.
    #[error("the manifest of `{reference}` is malformed ({detail}); push the image again, or use another tag")]
    BadManifest {
        /// The image reference.
        reference: String,
        /// What is wrong.
        detail: String,
    },
    /// A multi-platform image has no image for the platform asked for.
    #[error("`{reference}` has no image for {platform} (it has {available}); choose one of those platforms")]
    NoMatchingPlatform {
        /// The image reference.
        reference: String,
        /// The platform asked for.
        platform: String,
        /// The platforms it has, comma-separated.
        available: String,
    },
    /// The registry's token service failed.
    #[error("the token service {realm} of {registry} failed ({detail}); try again later")]
    TokenService {
        /// The registry host.
        registry: String,
        /// The token service's address.
        realm: String,
        /// What failed.
        detail: String,
    },
    /// The registry sent a request to plain HTTP on another machine (its
    /// token service, a redirect): refused, as logins and tokens travel
    /// only over HTTPS there.
    #[error("{what} of {registry} is plain HTTP on {host}: refused, as logins and tokens go over HTTPS except to this machine; have the registry's owner serve it over HTTPS")]
    PlainHttp {
        /// The registry host.
        registry: String,
        /// What pointed there: `the token service`, `a redirect`.
        what: &'static str,
        /// The host (and port) refused.
        host: String,
    },
    /// The registry's login cannot be resolved.
    #[error(transparent)]
    Credentials(#[from] super::CredentialError),
    /// The work was cancelled.
    #[error("cancelled")]
    Cancelled,
    /// Reading a blob to upload failed on this machine.
    #[error("cannot read the blob to upload: {}", budgetguard_base::error_text(.0))]
    Source(#[source] std::io::Error),
    /// Writing a downloaded blob into the caller's sink failed.
    #[error("cannot write the downloaded blob: {0}")]
    Sink(#[source] std::io::Error),
    /// The HTTP client could not be set up.
    #[error("cannot set up the registry client ({0}); check the machine's TLS certificates (ca-certificates)")]
    Setup(String),
}

impl RegistryError {
    /// The registry error an I/O error of a [`super::BlobReader`] carries,
    /// or the I/O error itself (the caller's own writes) as [`Self::Sink`].
    pub fn from_io(error: std::io::Error) -> Self {
        if error.get_ref().is_none() {
            return Self::Sink(error);
        }
        let kind = error.kind();
        match error
            .into_inner()
            .map(|inner| inner.downcast::<RegistryError>())
        {
            Some(Ok(registry_error)) => *registry_error,
            Some(Err(other)) => Self::Sink(std::io::Error::new(kind, other)),
            None => Self::Sink(kind.into()),
        }
    }
}

/// How to log in to `registry`, as the last part of a message (an engine's
/// pull says the same).
pub fn login_hint(registry: &str) -> String {
    match registry {
        "nvcr.io" => {
            "set a valid NGC API key in `NGC_API_KEY`, or store one on this machine".to_owned()
        }
        DOCKER_HUB => "log in with `docker login` and retry".to_owned(),
        _ => format!("log in with `docker login {registry}` and retry"),
    }
}

fn unsupported_hint(media_type: &str) -> &'static str {
    if media_type.contains("manifest.v1") {
        " (Docker's old schema 1, signed manifests); push the image again with a current Docker, which writes schema 2"
    } else {
        "; use an image with a Docker schema 2 or OCI manifest"
    }
}
