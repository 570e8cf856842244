//! Registry credentials for pulls: an NGC API key for nvcr.io, otherwise the
//! user's Docker configuration (`docker login`).

use std::path::PathBuf;

use base64::Engine as _;
use bollard::auth::DockerCredentials;

/// The registry an image reference points at (`docker.io` when it names none).
pub fn registry_host(reference: &str) -> &str {
    match reference.split_once('/') {
        Some((first, _)) if first.contains(['.', ':']) || first == "localhost" => first,
        _ => "docker.io",
    }
}

/// Where pull credentials come from.
#[derive(Debug, Clone, Default)]
pub struct RegistryAuth {
    /// The NGC API key, used as the password of user `$oauthtoken` on nvcr.io.
    pub ngc_api_key: Option<String>,
    /// The Docker configuration file to read `auths` from.
    pub docker_config: Option<PathBuf>,
}

impl RegistryAuth {
    /// The NGC key given (from the environment or the credentials store) and
    /// the Docker configuration at `$DOCKER_CONFIG/config.json` or
    /// `~/.docker/config.json`.
    pub fn new(ngc_api_key: Option<String>) -> Self {
        let docker_config = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| directories::BaseDirs::new().map(|d| d.home_dir().join(".docker")))
            .map(|dir| dir.join("config.json"));
        Self {
            ngc_api_key,
            docker_config,
        }
    }

    /// The credentials to pull `reference` with, if any are known.
    pub fn credentials_for(&self, reference: &str) -> Option<DockerCredentials> {
        let host = registry_host(reference);
        if host == "nvcr.io" {
            if let Some(key) = &self.ngc_api_key {
                return Some(DockerCredentials {
                    username: Some("$oauthtoken".into()),
                    password: Some(key.clone()),
                    serveraddress: Some(host.into()),
                    ..Default::default()
                });
            }
        }
        self.docker_login_for(host)
    }

    fn docker_login_for(&self, host: &str) -> Option<DockerCredentials> {
        let text = std::fs::read_to_string(self.docker_config.as_ref()?).ok()?;
        let config: serde_json::Value = serde_json::from_str(&text).ok()?;
        let auths = config.get("auths")?.as_object()?;
        let candidates = [
            host.to_owned(),
            format!("https://{host}"),
            format!("http://{host}"),
            if host == "docker.io" {
                "https://index.docker.io/v1/".to_owned()
            } else {
                format!("https://{host}/v1/")
            },
        ];
        let auth = candidates
            .iter()
            .find_map(|key| auths.get(key))?
            .get("auth")?
            .as_str()?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth)
            .ok()?;
        let (user, password) = String::from_utf8(decoded)
            .ok()?
            .split_once(':')
            .map(|(u, p)| (u.to_owned(), p.to_owned()))?;
        Some(DockerCredentials {
            username: Some(user),
            password: Some(password),
            serveraddress: Some(host.to_owned()),
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_host_follows_docker_rules() {
        assert_eq!(registry_host("nvcr.io/nim/x:1"), "nvcr.io");
        assert_eq!(registry_host("127.0.0.1:5000/a/b:1"), "127.0.0.1:5000");
        assert_eq!(registry_host("localhost/a"), "localhost");
        assert_eq!(registry_host("budgetguard/demo-nim:0.1.0"), "docker.io");
        assert_eq!(registry_host("ubuntu"), "docker.io");
    }

    #[test]
    fn ngc_key_is_used_for_nvcr_only() {
        let auth = RegistryAuth {
            ngc_api_key: Some("nvapi-test".into()),
            docker_config: None,
        };
        let creds = auth.credentials_for("nvcr.io/nim/x:1").unwrap();
        assert_eq!(creds.username.as_deref(), Some("$oauthtoken"));
        assert_eq!(creds.password.as_deref(), Some("nvapi-test"));
        assert!(auth.credentials_for("example.com/x:1").is_none());
    }

    #[test]
    fn docker_config_auths_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"}}}"#,
        )
        .unwrap();
        let auth = RegistryAuth {
            ngc_api_key: None,
            docker_config: Some(path),
        };
        let creds = auth.credentials_for("127.0.0.1:5000/x:1").unwrap();
        assert_eq!(creds.username.as_deref(), Some("user"));
        assert_eq!(creds.password.as_deref(), Some("pass"));
    }
}
