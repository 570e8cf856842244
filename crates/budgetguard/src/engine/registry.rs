//! Registry credentials for the engine's pulls: the one resolver of
//! [`crate::registry::RegistryAuth`] (NGC key, credential helpers,
//! `docker login`), handed to the engine as bollard's `DockerCredentials`.

use bollard::auth::DockerCredentials;

use crate::reference::{Reference, DOCKER_HUB};
pub use crate::registry::RegistryAuth;
use crate::registry::{Credential, CredentialError, DOCKER_HUB_KEY};

/// The credentials the engine needs to pull `reference`, if any are known.
/// May run a credential helper, stopped if the future is dropped.
pub(crate) async fn docker_credentials(
    auth: &RegistryAuth,
    reference: &Reference,
) -> Result<Option<DockerCredentials>, CredentialError> {
    let registry = reference.registry();
    let serveraddress = Some(if registry == DOCKER_HUB {
        DOCKER_HUB_KEY.to_owned()
    } else {
        registry.to_owned()
    });
    Ok(auth
        .login(registry)
        .await?
        .map(|credential| match credential {
            Credential::Password { username, password } => DockerCredentials {
                username: Some(username),
                password: Some(password),
                serveraddress,
                ..Default::default()
            },
            Credential::IdentityToken(token) => DockerCredentials {
                identitytoken: Some(token),
                serveraddress,
                ..Default::default()
            },
        }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn logins_become_engine_credentials() {
        let auth = RegistryAuth {
            ngc_api_key: Some("nvapi-test".into()),
            ..RegistryAuth::default()
        };
        let nvcr = Reference::parse("nvcr.io/nim/x:1").unwrap();
        let creds = docker_credentials(&auth, &nvcr).await.unwrap().unwrap();
        assert_eq!(creds.username.as_deref(), Some("$oauthtoken"));
        assert_eq!(creds.password.as_deref(), Some("nvapi-test"));
        assert_eq!(creds.serveraddress.as_deref(), Some("nvcr.io"));
        let other = Reference::parse("example.com/x:1").unwrap();
        assert!(docker_credentials(&auth, &other).await.unwrap().is_none());

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.json");
        std::fs::write(
            &path,
            r#"{"auths":{"https://index.docker.io/v1/":{"identitytoken":"refresh"}}}"#,
        )
        .unwrap();
        let auth = RegistryAuth {
            docker_config: Some(path),
            ..RegistryAuth::default()
        };
        let hub = Reference::parse("demo:1").unwrap();
        let creds = docker_credentials(&auth, &hub).await.unwrap().unwrap();
        assert_eq!(creds.identitytoken.as_deref(), Some("refresh"));
        assert_eq!(creds.serveraddress.as_deref(), Some(DOCKER_HUB_KEY));
    }
}
