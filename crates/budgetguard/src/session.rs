//! One run of a face on this machine: the catalog, the install folder, the
//! stored credentials, the registry logins and the engine, each opened when
//! a command asks for it, from one set of [`Settings`]. The CLI's context
//! and the GUI's workstation wrap a [`Session`]; neither opens these itself.

use std::path::PathBuf;

use crate::catalog::{Catalog, CatalogError, Node};
use crate::credentials::Credentials;
use crate::engine::{Engine, EngineError, RegistryAuth};
use crate::install::InstallDir;
use crate::models::ModelStore;
use crate::signing::TrustStore;

/// Where a session finds what it opens.
#[derive(Debug, Clone, Default)]
pub struct Settings {
    /// A catalog file that must exist, adding or overriding nodes; `None`:
    /// the default file when there is one.
    pub catalog: Option<PathBuf>,
    /// The Docker engine (`unix:///…`, `tcp://…`); `None`: `DOCKER_HOST`,
    /// else the default socket.
    pub docker_host: Option<String>,
    /// The install folder (made absolute when opened); `None`: this
    /// machine has none.
    pub install_dir: Option<PathBuf>,
    /// Where caches filled on this machine are kept; `None`: nowhere.
    pub model_store: Option<ModelStore>,
    /// The registry logins; `None`: the NGC API key of the credentials
    /// (and `docker login` for other registries).
    pub auth: Option<RegistryAuth>,
}

impl Settings {
    /// The user's defaults: the default catalog file, the default engine,
    /// the install folder and model store in the user's data folder, logins
    /// from the credentials.
    pub fn user_defaults() -> Self {
        Self {
            install_dir: InstallDir::default_location().map(|dir| dir.root().to_owned()),
            model_store: ModelStore::default_location(),
            ..Self::default()
        }
    }
}

/// Why a session cannot open the install folder.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// No folder was given and the user has no data folder.
    #[error("no home folder to install into")]
    NoInstallDir,
    /// The folder given cannot be made absolute.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// What one run works with, opened on demand.
#[derive(Debug, Clone)]
pub struct Session {
    settings: Settings,
}

impl Session {
    /// A session with `settings`.
    pub fn new(settings: Settings) -> Self {
        Self { settings }
    }

    /// The settings it opens things from.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The catalog: the built-in nodes with the catalog file's.
    pub fn catalog(&self) -> Result<Catalog, CatalogError> {
        match &self.settings.catalog {
            Some(path) => Catalog::load(Some(path), true),
            None => Catalog::load(Catalog::default_path().as_deref(), false),
        }
    }

    /// The catalog nodes `names` name, blank names passed over.
    pub fn nodes<'a>(
        &self,
        names: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Node>, CatalogError> {
        let names = names.into_iter().filter(|n| !n.trim().is_empty());
        self.catalog()?.select_names(names)
    }

    /// The install folder.
    pub fn install_dir(&self) -> Result<InstallDir, SessionError> {
        let dir = self
            .settings
            .install_dir
            .as_ref()
            .ok_or(SessionError::NoInstallDir)?;
        Ok(InstallDir::new(std::path::absolute(dir)?))
    }

    /// The credentials: `NGC_API_KEY` and `HF_TOKEN` from the environment,
    /// else the ones stored in the install folder.
    pub fn credentials(&self) -> Credentials {
        self.install_dir()
            .ok()
            .and_then(|dir| Credentials::load(&dir.credentials_file()).ok())
            .unwrap_or_default()
            .with_environment()
    }

    /// The registry logins: as the settings give them, else the NGC API
    /// key of [`credentials`](Self::credentials).
    pub fn auth(&self) -> RegistryAuth {
        match &self.settings.auth {
            Some(auth) => auth.clone(),
            None => RegistryAuth::new(self.credentials().ngc_api_key),
        }
    }

    /// The keys this workstation trusts, kept in the install folder.
    pub fn trust_store(&self) -> Result<TrustStore, SessionError> {
        Ok(TrustStore::new(self.install_dir()?.root()))
    }

    /// Where caches filled on this machine are kept, if anywhere.
    pub fn model_store(&self) -> Option<&ModelStore> {
        self.settings.model_store.as_ref()
    }

    /// Connects to the engine: a new connection each call, so that what it
    /// answers is the engine's present state.
    pub async fn engine(&self) -> Result<Engine, EngineError> {
        Engine::connect(self.settings.docker_host.as_deref()).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_folder_is_given_or_missing() {
        let none = Session::new(Settings::default());
        assert!(matches!(
            none.install_dir(),
            Err(SessionError::NoInstallDir)
        ));
        assert!(none.trust_store().is_err());
        let given = Session::new(Settings {
            install_dir: Some("relative/install".into()),
            ..Settings::default()
        });
        let dir = given.install_dir().unwrap();
        assert!(dir.root().is_absolute());
        assert!(dir.root().ends_with("relative/install"));
    }

    #[test]
    fn logins_given_win_over_the_credentials() {
        let auth = RegistryAuth::new(Some("nvapi-given".into()));
        let session = Session::new(Settings {
            auth: Some(auth.clone()),
            ..Settings::default()
        });
        assert_eq!(format!("{:?}", session.auth()), format!("{auth:?}"));
    }

    #[test]
    fn blank_node_names_are_passed_over() {
        let session = Session::new(Settings::default());
        let nodes = session.nodes(["Demo", " "]).unwrap();
        assert_eq!(nodes.len(), 1);
    }
}
