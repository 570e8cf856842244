//! Errors of engine access, each saying what to do about it.

/// Why talking to the Docker engine failed.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The engine does not answer.
    #[error(
        "cannot reach the Docker engine at `{host}`{}: {detail}; {}",
        if *from_env { " (from DOCKER_HOST)" } else { "" },
        if detail.to_lowercase().contains("permission denied") {
            "add yourself to the `docker` group (`sudo usermod -aG docker $USER`) and log in again"
        } else {
            "start Docker, or point `DOCKER_HOST` at a running engine"
        }
    )]
    Unreachable {
        /// The address tried.
        host: String,
        /// Whether it came from `DOCKER_HOST`.
        from_env: bool,
        /// What went wrong.
        detail: String,
    },
    /// An image is not in the engine and pulling was not allowed.
    #[error("image `{image}` is not in the Docker engine and `--no-pull` was given; pull it first or leave out `--no-pull`")]
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
    /// The registry cannot be reached.
    #[error("pulling `{image}`: cannot reach {registry} ({detail}); connect this machine to the network, or pull the image beforehand and use `--no-pull`")]
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
    /// Any other API failure.
    #[error("the Docker engine could not {action}: {}", crate::error_text(source))]
    Api {
        /// What was being done.
        action: String,
        /// The client's error.
        source: bollard::errors::Error,
    },
}

fn login_hint(registry: &str) -> String {
    if registry == "nvcr.io" {
        "set a valid NGC API key in `NGC_API_KEY` or with `budgetguard-techops install-credentials`"
            .to_owned()
    } else {
        format!("log in with `docker login {registry}` and retry")
    }
}
