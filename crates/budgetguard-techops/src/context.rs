//! What every command gets: the global options turned into the catalog, the
//! engine, the install folder, the registry logins, the printer, a progress
//! reporter and Ctrl-C.

use std::sync::Arc;

use budgetguard::catalog::{Catalog, Node};
use budgetguard::credentials::Credentials;
use budgetguard::engine::{Engine, RegistryAuth};
use budgetguard::install::InstallDir;

use crate::cli::{GlobalArgs, NodeNames};
use crate::printer::{Hinted, Printer};
use crate::reporter::TerminalReporter;

/// The global options and the printer of one run.
pub struct Context {
    /// The global options.
    pub global: GlobalArgs,
    /// Where all output goes.
    pub printer: Printer,
}

impl Context {
    /// The catalog: built-in nodes plus the `--catalog` file or the default one.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        let catalog = match &self.global.catalog {
            Some(path) => Catalog::load(Some(path), true)?,
            None => Catalog::load(Catalog::default_path().as_deref(), false)?,
        };
        Ok(catalog)
    }

    /// The catalog nodes `names` stands for.
    pub fn nodes(&self, names: &NodeNames) -> anyhow::Result<Vec<Node>> {
        let names = names.names.iter().map(|n| n.as_str());
        Ok(self
            .catalog()?
            .select_names(names.filter(|n| !n.trim().is_empty()))?)
    }

    /// The install folder: `--install-dir` or the user's data folder.
    pub fn install_dir(&self) -> anyhow::Result<InstallDir> {
        match &self.global.install_dir {
            Some(dir) => Ok(InstallDir::new(std::path::absolute(dir)?)),
            None => InstallDir::default_location().ok_or_else(|| {
                Hinted::new(
                    "no home folder to install into",
                    "pass `--install-dir DIR`, or set `BUDGETGUARD_INSTALL_DIR`",
                )
                .into()
            }),
        }
    }

    /// The credentials: `NGC_API_KEY` and `HF_TOKEN` from the environment,
    /// else the stored ones.
    pub fn secrets(&self) -> Credentials {
        self.install_dir()
            .ok()
            .and_then(|dir| Credentials::load(&dir.credentials_file()).ok())
            .unwrap_or_default()
            .with_environment()
    }

    /// Registry logins: the NGC API key from `NGC_API_KEY`, else the stored
    /// credentials; `docker login` for other registries.
    pub fn auth(&self) -> RegistryAuth {
        RegistryAuth::new(self.secrets().ngc_api_key)
    }

    /// The keys this workstation trusts (none when it trusts none yet).
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<budgetguard::signing::TrustedKey>> {
        let store = budgetguard::signing::TrustStore::new(self.install_dir()?.root());
        Ok(store.keys()?)
    }

    /// Connects to the engine `--docker-host` or `DOCKER_HOST` names.
    pub async fn engine(&self) -> anyhow::Result<Engine> {
        Ok(Engine::connect(self.global.docker_host.as_deref()).await?)
    }

    /// Progress on stderr, as the printer allows.
    pub fn reporter(&self) -> Arc<TerminalReporter> {
        Arc::new(TerminalReporter::new(&self.printer))
    }

    /// A cancellation token cancelled by Ctrl-C, SIGTERM or SIGHUP (see
    /// [`end_signal`]), so that each takes back its work.
    pub fn cancel_on_ctrl_c(&self) -> budgetguard::Cancel {
        let cancel = budgetguard::Cancel::new();
        let token = cancel.clone();
        tokio::spawn(async move {
            let signal = end_signal().await;
            tracing::info!(signal, "cancelling");
            token.cancel();
        });
        cancel
    }
}

/// Waits for a signal that ends a run: Ctrl-C, SIGTERM (`kill`, a service
/// manager) or SIGHUP (a closed terminal); returns its name.
pub async fn end_signal() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut hup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        let _ = tokio::signal::ctrl_c().await;
        return "Ctrl-C";
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => "Ctrl-C",
        _ = term.recv() => "SIGTERM",
        _ = hup.recv() => "SIGHUP",
    }
}
