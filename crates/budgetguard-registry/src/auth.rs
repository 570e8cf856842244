//! Registry logins found as `docker pull` finds them: the NGC API key for
//! nvcr.io first, then the user's Docker configuration (`config.json`):
//! the registry's credential helper (`credHelpers`), the default one
//! (`credsStore`), and the `auths` entries `docker login` writes.
//!
//! One resolver serves the engine's pulls and the registry client alike.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use base64::Engine as _;
use serde::Deserialize;

use super::helper::{self, HelperFault};
use crate::reference::DOCKER_HUB;
use budgetguard_base::Cancel;

/// The user name NGC's registry takes with an API key as password.
pub const NGC_USER: &str = "$oauthtoken";

/// The registry NGC API keys are for.
pub const NGC_REGISTRY: &str = "nvcr.io";

/// The key Docker files Docker Hub logins under.
pub const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// How long a credential helper may run before it is stopped.
pub const HELPER_TIME_LIMIT: Duration = Duration::from_secs(30);

/// Shortens [`HELPER_TIME_LIMIT`] in [`RegistryAuth::new`], in seconds: for
/// tests only.
pub const HELPER_TIME_LIMIT_VARIABLE: &str = "BUDGETGUARD_TEST_HELPER_TIME_LIMIT";

/// A login for one registry. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// A user name and password (or API key).
    Password {
        /// The user name.
        username: String,
        /// The password.
        password: String,
    },
    /// An identity token `docker login` got from an OAuth registry: traded
    /// for access tokens at the registry's token service.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Password { username, .. } => f
                .debug_struct("Password")
                .field("username", username)
                .field("password", &"<hidden>")
                .finish(),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(<hidden>)"),
        }
    }
}

/// Why a registry's login could not be looked up. Messages never hold a
/// secret.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The Docker configuration is unreadable or not valid JSON.
    #[error("cannot read the Docker configuration `{path}` ({detail}); repair it or move it away, then run `docker login` again")]
    BadConfig {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// An `auths` entry's `auth` is not base64 of `user:password`.
    #[error("the login for {registry} in `{path}` is not base64 of `user:password`; run `docker login {registry}` again")]
    BadAuthEntry {
        /// The file.
        path: PathBuf,
        /// The registry.
        registry: String,
    },
    /// The configured credential helper is not installed.
    #[error("the credential helper `{helper}` that `{path}` names for {registry} is not installed (not on PATH); install it, or remove it from `credsStore`/`credHelpers` there and run `docker login {registry}`")]
    HelperMissing {
        /// The helper's program name.
        helper: String,
        /// The registry.
        registry: String,
        /// The Docker configuration naming it.
        path: PathBuf,
    },
    /// The credential helper ran and failed; what it printed is never
    /// shown (it may be a secret).
    #[error("the credential helper `{helper}` failed for {registry} ({fault}); check it works (`echo {registry} | {helper} get`) or run `docker login {registry}` again")]
    HelperFailed {
        /// The helper's program name.
        helper: String,
        /// The registry.
        registry: String,
        /// How it failed.
        fault: HelperFault,
    },
}

/// Where registry logins come from. `Debug` never shows the NGC key.
#[derive(Clone)]
pub struct RegistryAuth {
    /// The NGC API key, used as the password of user `$oauthtoken` on nvcr.io.
    pub ngc_api_key: Option<String>,
    /// The Docker configuration file (`config.json`).
    pub docker_config: Option<PathBuf>,
    /// The folders searched for `docker-credential-*` helpers, as in `PATH`;
    /// `None` searches this process's `PATH`.
    pub helper_path: Option<OsString>,
    /// How long a credential helper may run before it is stopped.
    pub helper_time_limit: Duration,
}

impl Default for RegistryAuth {
    /// No NGC key, no Docker configuration, helpers on `PATH` with
    /// [`HELPER_TIME_LIMIT`].
    fn default() -> Self {
        Self {
            ngc_api_key: None,
            docker_config: None,
            helper_path: None,
            helper_time_limit: HELPER_TIME_LIMIT,
        }
    }
}

impl std::fmt::Debug for RegistryAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryAuth")
            .field(
                "ngc_api_key",
                &self.ngc_api_key.as_ref().map(|_| "<hidden>"),
            )
            .field("docker_config", &self.docker_config)
            .field("helper_path", &self.helper_path)
            .field("helper_time_limit", &self.helper_time_limit)
            .finish()
    }
}

/// The parts of `config.json` that hold logins.
#[derive(Deserialize, Default)]
struct DockerConfig {
    #[serde(default)]
    auths: HashMap<String, AuthEntry>,
    #[serde(rename = "credsStore")]
    creds_store: Option<String>,
    #[serde(rename = "credHelpers", default)]
    cred_helpers: HashMap<String, String>,
}

/// One `auths` entry.
#[derive(Deserialize, Default)]
struct AuthEntry {
    auth: Option<String>,
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// The Docker CLI's configuration folder: `$DOCKER_CONFIG`, else
/// `~/.docker`.
pub fn docker_config_dir() -> Option<PathBuf> {
    std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".docker")))
}

impl RegistryAuth {
    /// The NGC key given (from the environment or the credentials store) and
    /// the Docker configuration at `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`; helpers are searched on `PATH`, and stopped
    /// after [`HELPER_TIME_LIMIT`] (or [`HELPER_TIME_LIMIT_VARIABLE`]'s
    /// seconds).
    pub fn new(ngc_api_key: Option<String>) -> Self {
        let docker_config = docker_config_dir().map(|dir| dir.join("config.json"));
        let helper_time_limit = std::env::var(HELPER_TIME_LIMIT_VARIABLE)
            .ok()
            .and_then(|seconds| seconds.trim().parse().ok())
            .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
            .unwrap_or(HELPER_TIME_LIMIT);
        Self {
            ngc_api_key,
            docker_config,
            helper_path: None,
            helper_time_limit,
        }
    }

    /// [`Self::login_for`] on a blocking thread; dropping the future cancels
    /// the lookup, and stops a credential helper it runs.
    pub async fn login(&self, registry: &str) -> Result<Option<Credential>, CredentialError> {
        let cancel = Cancel::new();
        let _stop_on_drop = cancel.clone().drop_guard();
        let (auth, registry) = (self.clone(), registry.to_owned());
        match tokio::task::spawn_blocking(move || auth.login_for(&registry, &cancel)).await {
            Ok(login) => login,
            Err(e) => std::panic::resume_unwind(e.into_panic()),
        }
    }

    /// The login for `registry` (a host as in [`crate::reference::Reference::registry`]),
    /// or `None` to go anonymous. May run a credential helper, which
    /// `cancel` stops: call it where blocking is allowed.
    pub fn login_for(
        &self,
        registry: &str,
        cancel: &Cancel,
    ) -> Result<Option<Credential>, CredentialError> {
        if registry == NGC_REGISTRY {
            if let Some(key) = &self.ngc_api_key {
                return Ok(Some(Credential::Password {
                    username: NGC_USER.to_owned(),
                    password: key.clone(),
                }));
            }
        }
        let Some(path) = &self.docker_config else {
            return Ok(None);
        };
        let config = match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice::<DockerConfig>(&bytes).map_err(|e| {
                CredentialError::BadConfig {
                    path: path.clone(),
                    detail: e.to_string(),
                }
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(CredentialError::BadConfig {
                    path: path.clone(),
                    detail: e.to_string(),
                })
            }
        };
        let key = server_key(registry);
        let helper = config
            .cred_helpers
            .get(key)
            .or_else(|| config.cred_helpers.get(registry))
            .or(config.creds_store.as_ref())
            .filter(|name| !name.is_empty());
        if let Some(name) = helper {
            let found = helper::get(
                name,
                key,
                self.helper_path.as_deref(),
                self.helper_time_limit,
                cancel,
            )
            .map_err(|e| match e {
                helper::Failure::Missing(helper) => CredentialError::HelperMissing {
                    helper,
                    registry: registry.to_owned(),
                    path: path.clone(),
                },
                helper::Failure::Failed { helper, fault } => CredentialError::HelperFailed {
                    helper,
                    registry: registry.to_owned(),
                    fault,
                },
            })?;
            if found.is_some() {
                return Ok(found);
            }
        }
        let entry = config.auths.get(key).or_else(|| {
            config
                .auths
                .iter()
                .find(|(k, _)| hostname_of(k) == registry)
                .map(|(_, entry)| entry)
        });
        match entry {
            Some(entry) => entry.credential(path, registry),
            None => Ok(None),
        }
    }
}

impl AuthEntry {
    fn credential(
        &self,
        path: &std::path::Path,
        registry: &str,
    ) -> Result<Option<Credential>, CredentialError> {
        if let Some(token) = self.identitytoken.as_ref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credential::IdentityToken(token.clone())));
        }
        if let Some(auth) = self.auth.as_ref().filter(|a| !a.is_empty()) {
            let bad = || CredentialError::BadAuthEntry {
                path: path.to_owned(),
                registry: registry.to_owned(),
            };
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|_| bad())?;
            let text = String::from_utf8(decoded).map_err(|_| bad())?;
            let (username, password) = text.split_once(':').ok_or_else(bad)?;
            return Ok(Some(Credential::Password {
                username: username.to_owned(),
                password: password.to_owned(),
            }));
        }
        match (&self.username, &self.password) {
            (Some(username), Some(password)) if !username.is_empty() => {
                Ok(Some(Credential::Password {
                    username: username.clone(),
                    password: password.clone(),
                }))
            }
            _ => Ok(None),
        }
    }
}

/// The key Docker stores a registry's login under: Docker Hub's legacy URL,
/// or the host itself.
fn server_key(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        DOCKER_HUB_KEY
    } else {
        registry
    }
}

/// The host of an `auths` key (`https://host:5000/v1/` is `host:5000`),
/// with Docker Hub's names mapped to `docker.io`.
fn hostname_of(key: &str) -> &str {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_config(json: &str) -> (tempfile::TempDir, RegistryAuth) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(&path, json).unwrap();
        let auth = RegistryAuth {
            docker_config: Some(path),
            helper_path: Some(dir.path().as_os_str().to_owned()),
            ..RegistryAuth::default()
        };
        (dir, auth)
    }

    fn password(user: &str, pass: &str) -> Option<Credential> {
        Some(Credential::Password {
            username: user.into(),
            password: pass.into(),
        })
    }

    #[test]
    fn ngc_key_is_used_for_nvcr_only_and_first() {
        let (_dir, mut auth) = with_config(r#"{"auths":{"nvcr.io":{"auth":"dXNlcjpwYXNz"}}}"#);
        auth.ngc_api_key = Some("nvapi-test".into());
        assert_eq!(
            auth.login_for("nvcr.io", &Cancel::new()).unwrap(),
            password("$oauthtoken", "nvapi-test")
        );
        assert_eq!(auth.login_for("example.com", &Cancel::new()).unwrap(), None);
        let shown = format!("{auth:?}");
        assert!(!shown.contains("nvapi"), "{shown}");
    }

    #[test]
    fn auths_entries_in_every_form() {
        let (_dir, auth) = with_config(
            r#"{"auths":{
                "127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"},
                "https://other.example:444/v1/":{"username":"u","password":"p"},
                "https://index.docker.io/v1/":{"auth":"aHViOnNlY3JldA=="},
                "oauth.example":{"identitytoken":"refresh-me"},
                "empty.example":{}
            }}"#,
        );
        assert_eq!(
            auth.login_for("127.0.0.1:5000", &Cancel::new()).unwrap(),
            password("user", "pass")
        );
        assert_eq!(
            auth.login_for("other.example:444", &Cancel::new()).unwrap(),
            password("u", "p")
        );
        assert_eq!(
            auth.login_for("docker.io", &Cancel::new()).unwrap(),
            password("hub", "secret")
        );
        assert_eq!(
            auth.login_for("oauth.example", &Cancel::new()).unwrap(),
            Some(Credential::IdentityToken("refresh-me".into()))
        );
        assert_eq!(
            auth.login_for("empty.example", &Cancel::new()).unwrap(),
            None
        );
        assert_eq!(
            auth.login_for("unknown.example", &Cancel::new()).unwrap(),
            None
        );
        let shown = format!(
            "{:?}",
            auth.login_for("127.0.0.1:5000", &Cancel::new()).unwrap()
        );
        assert!(!shown.contains("\"pass\""), "{shown}");
    }

    #[test]
    fn a_missing_config_means_anonymous_and_a_broken_one_is_named() {
        let auth = RegistryAuth {
            docker_config: Some("/nonexistent/config.json".into()),
            ..RegistryAuth::default()
        };
        assert_eq!(auth.login_for("example.com", &Cancel::new()).unwrap(), None);
        let (_dir, auth) = with_config("{not json");
        let message = auth
            .login_for("example.com", &Cancel::new())
            .unwrap_err()
            .to_string();
        assert!(message.contains("config.json"), "{message}");
        let (_dir, auth) = with_config(r#"{"auths":{"example.com":{"auth":"!!"}}}"#);
        let message = auth
            .login_for("example.com", &Cancel::new())
            .unwrap_err()
            .to_string();
        assert!(message.contains("docker login example.com"), "{message}");
    }

    #[test]
    fn a_missing_helper_is_named_with_the_fix() {
        let (_dir, auth) = with_config(r#"{"credsStore":"nonexistent-helper"}"#);
        let error = auth.login_for("example.com", &Cancel::new()).unwrap_err();
        assert!(
            matches!(&error, CredentialError::HelperMissing { helper, .. } if helper == "docker-credential-nonexistent-helper"),
            "{error}"
        );
        assert!(error.to_string().contains("credsStore"), "{error}");
    }
}
