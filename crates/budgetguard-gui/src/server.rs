//! Binding the server to 127.0.0.1, the URL it prints, and running it until
//! the shutdown signal, then letting a running job clean up.

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;

use budgetguard::catalog::Catalog;
use budgetguard::engine::RegistryAuth;
use budgetguard::install::InstallDir;
use budgetguard::models::ModelStore;
use budgetguard::session::{Session, Settings};
use budgetguard::Cancel;
use tokio::net::TcpListener;

use crate::chooser::{MediaRoots, Recent};
use crate::error::GuiError;
use crate::jobs::Jobs;
use crate::routes;
use crate::saved::{self, Saved};
use crate::security::{Guard, Token};
use crate::settings::PackageSettings;
use crate::state::AppState;
use crate::workstation::Workstation;

/// What the GUI serves and where.
#[derive(Debug, Clone)]
pub struct GuiOptions {
    /// The nodes offered (the built-in catalog with the user's file).
    pub catalog: Catalog,
    /// The Docker engine, as `--docker-host` gives it; `None` for
    /// `DOCKER_HOST` or the default socket.
    pub docker_host: Option<String>,
    /// Credentials for pulling images the engine lacks.
    pub auth: RegistryAuth,
    /// Where deployed nodes are installed; `None` when the machine has no
    /// data folder (deploying is then disabled, with the reason). It gives
    /// way to the folder saved in `settings_file`, unless
    /// `install_dir_given`.
    pub install_dir: Option<InstallDir>,
    /// `install_dir` was given by the user (`--install-dir`,
    /// `BUDGETGUARD_INSTALL_DIR`): it wins over the saved one.
    pub install_dir_given: bool,
    /// The port on 127.0.0.1; 0 for a free one.
    pub port: u16,
    /// The output file the package form proposes.
    pub default_output: PathBuf,
    /// Where Create keeps the model caches it fills (`None`: models can
    /// only be left out).
    pub model_store: Option<ModelStore>,
    /// The folders removable drives are mounted under, for the file
    /// chooser's shortcuts and the Install page's list of packages on them.
    pub media_roots: Vec<PathBuf>,
    /// The file of the settings kept between runs (the install folder
    /// chosen on the Install page, which then replaces the default
    /// `install_dir`); `None`: nothing is kept.
    pub settings_file: Option<PathBuf>,
}

impl GuiOptions {
    /// Serves `catalog` from the default engine on a free port, installs into
    /// the default folder, fills model caches in the default store, and
    /// proposes `install-package.zip` in the current folder, finds
    /// removable drives under `/media/<user>` and `/run/media/<user>`, keeps
    /// its settings in the user's configuration folder; no registry
    /// credentials.
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            docker_host: None,
            auth: RegistryAuth::new(None),
            install_dir: InstallDir::default_location(),
            install_dir_given: false,
            port: 0,
            default_output: std::path::absolute("install-package.zip")
                .unwrap_or_else(|_| PathBuf::from("install-package.zip")),
            model_store: ModelStore::default_location(),
            media_roots: MediaRoots::for_user(),
            settings_file: saved::default_file(),
        }
    }
}

/// The install folder to use: `given` when the user gave it, else the one
/// `saved` on the Install page, else `given` (the default one).
fn install_dir(
    given: Option<&InstallDir>,
    by_user: bool,
    saved: Option<PathBuf>,
) -> Option<PathBuf> {
    let given = given.map(|dir| dir.root().to_owned());
    match by_user {
        true => given.or(saved),
        false => saved.or(given),
    }
}

/// A GUI server bound to its port, ready to run.
#[derive(Debug)]
pub struct Gui {
    listener: TcpListener,
    state: Arc<AppState>,
    url: String,
}

impl Gui {
    /// Binds 127.0.0.1 on the options' port and makes this run's token.
    pub async fn bind(options: GuiOptions) -> Result<Self, GuiError> {
        let bind_error = |source| GuiError::Bind {
            port: options.port,
            source,
        };
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .await
            .map_err(bind_error)?;
        let port = listener.local_addr().map_err(bind_error)?.port();
        let token = Token::generate().map_err(GuiError::Token)?;
        let url = format!("http://127.0.0.1:{port}/?token={}", token.as_str());
        let stop = Cancel::new();
        let saved = Saved::load(options.settings_file.as_deref());
        let recent = Recent::new(saved.recent_folders);
        let install_dir = install_dir(
            options.install_dir.as_ref(),
            options.install_dir_given,
            saved.install_dir,
        );
        let state = Arc::new(AppState {
            workstation: Arc::new(Workstation::new(Session::new(Settings {
                catalog: None,
                docker_host: options.docker_host,
                install_dir,
                model_store: options.model_store,
                auth: Some(options.auth),
            }))),
            catalog: options.catalog,
            settings: std::sync::Mutex::new(PackageSettings::new(
                options.default_output.display().to_string(),
            )),
            install_path: std::sync::Mutex::default(),
            publish_to: std::sync::Mutex::new(saved.publish_to.unwrap_or_default()),
            media: MediaRoots::new(options.media_roots),
            settings_file: options.settings_file,
            recent,
            guard: Guard::new(token, port),
            jobs: Jobs::new(stop.clone()),
            stop,
        });
        Ok(Self {
            listener,
            state,
            url,
        })
    }

    /// The address to open, with this run's token:
    /// `http://127.0.0.1:<port>/?token=<hex>`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves until `shutdown` completes, then cancels a running job and
    /// waits for it to remove its partial output.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), GuiError> {
        let stop = self.state.stop.clone();
        let router = routes::router(Arc::clone(&self.state));
        let served = axum::serve(self.listener, router)
            .with_graceful_shutdown(async move {
                shutdown.await;
                stop.cancel();
            })
            .await;
        self.state.stop.cancel();
        self.state.jobs.settled().await;
        served.map_err(GuiError::Serve)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_folder_given_wins_over_the_saved_one_and_the_default_gives_way() {
        let saved = Some(PathBuf::from("/srv/saved"));
        let given = InstallDir::new("/srv/given".into());
        let given_path = Some(PathBuf::from("/srv/given"));
        assert_eq!(install_dir(Some(&given), true, saved.clone()), given_path);
        assert_eq!(install_dir(Some(&given), false, saved.clone()), saved);
        assert_eq!(install_dir(Some(&given), false, None), given_path);
        assert_eq!(install_dir(None, true, saved.clone()), saved);
        assert_eq!(install_dir(None, false, None), None);
    }
}
