//! Errors of engine access, each saying what to do about it.

use crate::registry::login_hint;

/// Why talking to the Docker engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine does not answer.
    #[error(
        "cannot reach the Docker engine at `{host}`{}: {reason}; {}",
        if *from_env { " (from DOCKER_HOST)" } else { "" },
        reason.fix()
    )]
    Unreachable {
        /// The address tried.
        host: String,
        /// Whether it came from `DOCKER_HOST`.
        from_env: bool,
        /// Why.
        reason: Unreachable,
    },
    /// The work was interrupted (Ctrl-C, or a cancel button).
    #[error("interrupted")]
    Cancelled,
    /// A call or a stream got no answer for too long.
    #[error("the Docker engine stopped answering while {action} (nothing for {seconds} s); check it with `docker info`, restart it if it hangs, and retry")]
    Stalled {
        /// What was being done.
        action: String,
        /// How long it was silent.
        seconds: u64,
    },
    /// An image is not in the engine and pulling was not allowed.
    #[error("image `{image}` is not in the Docker engine and pulling was turned off; pull it first, or allow pulling")]
    ImageMissing {
        /// The image reference.
        image: String,
    },
    /// The registry refused the credentials.
    #[error(
        "pulling `{image}`: {registry} refused the credentials (401); {}",
        login_hint(registry)
    )]
    Unauthorized {
        /// The image reference.
        image: String,
        /// The registry host.
        registry: String,
    },
    /// The account may not pull this image.
    #[error("pulling `{image}`: the account has no entitlement for it (402); request access to the image on NGC, then retry")]
    NoEntitlement {
        /// The image reference.
        image: String,
    },
    /// The registry has no such repository or tag (the engine answered 404).
    #[error("pulling `{image}`: {registry} has no such repository or tag (404); check the node's image name and tag in the catalog")]
    NotInRegistry {
        /// The image reference.
        image: String,
        /// The registry host.
        registry: String,
    },
    /// The registry cannot be reached.
    #[error("pulling `{image}`: cannot reach {registry} ({detail}); connect this machine to the network, or pull the image beforehand and use only the images already in the engine")]
    NoNetwork {
        /// The image reference.
        image: String,
        /// The registry host.
        registry: String,
        /// What the engine said.
        detail: String,
    },
    /// A pull failed for another reason.
    #[error("pulling `{image}` failed: {detail}")]
    PullFailed {
        /// The image reference.
        image: String,
        /// What the engine said.
        detail: String,
    },
    /// The engine refused or failed a load.
    #[error("the Docker engine could not load the images: {detail}")]
    Load {
        /// What the engine said.
        detail: String,
    },
    /// The engine answered with an ID or a digest that is none.
    #[error("the Docker engine answered {action} with a wrong digest: {source}")]
    Answer {
        /// What was asked.
        action: String,
        /// What was wrong.
        source: crate::digest::NotADigest,
    },
    /// A name to give an image is no image reference.
    #[error(transparent)]
    Reference(#[from] crate::reference::ReferenceError),
    /// Any other API failure.
    #[error("the Docker engine could not {action}: {}", crate::error_text(source))]
    Api {
        /// What was being done.
        action: String,
        /// The client's error.
        source: bollard::errors::Error,
    },
}

/// Why the engine could not be reached.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unreachable {
    /// The socket refuses this user.
    PermissionDenied,
    /// Nothing listens at the address.
    NotRunning,
    /// It did not answer within this many seconds.
    NoAnswer(u64),
    /// Another failure, as the client put it.
    Other(String),
}

impl Unreachable {
    /// Sorts a client error by the I/O error beneath it.
    pub(crate) fn from_client(error: &bollard::errors::Error) -> Self {
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(cause) = source {
            if let Some(io) = cause.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    std::io::ErrorKind::PermissionDenied => return Self::PermissionDenied,
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused => {
                        return Self::NotRunning
                    }
                    _ => {}
                }
            }
            source = cause.source();
        }
        Self::Other(crate::error_text(error))
    }

    /// What to do about it.
    fn fix(&self) -> &'static str {
        match self {
            Self::PermissionDenied => "add yourself to the `docker` group (`sudo usermod -aG docker $USER`) and log in again",
            _ => "start Docker, or point `DOCKER_HOST` at a running engine",
        }
    }
}

impl std::fmt::Display for Unreachable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::PermissionDenied => f.write_str("permission denied"),
            Self::NotRunning => f.write_str("nothing listens there"),
            Self::NoAnswer(seconds) => write!(f, "no answer within {seconds} s"),
            Self::Other(detail) => f.write_str(detail),
        }
    }
}
