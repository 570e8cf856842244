//! What every command gets: the global options turned into the catalog, the
//! engine, the install folder, the registry logins, the printer, a progress
//! reporter and Ctrl-C.

use std::sync::Arc;

use budgetguard::catalog::{Catalog, Node};
use budgetguard::credentials::Credentials;
use budgetguard::engine::{Engine, RegistryAuth};
use budgetguard::install::InstallDir;
use budgetguard::session::{Session, SessionError, Settings};
use budgetguard::signing::{TrustStore, TrustedKey};

use crate::cli::{GlobalArgs, NodeNames};
use crate::printer::{Hinted, Printer};
use crate::reporter::TerminalReporter;

/// The global options, the session they open and the printer of one run.
pub struct Context {
    /// The global options.
    pub global: GlobalArgs,
    /// The catalog, install folder, credentials, logins and engine the
    /// global options name.
    pub session: Session,
    /// Where all output goes.
    pub printer: Printer,
}

impl Context {
    /// The context of a run with the options `global`, printing with
    /// `printer`.
    pub fn new(global: GlobalArgs, printer: Printer) -> Self {
        let defaults = Settings::user_defaults();
        let session = Session::new(Settings {
            catalog: global.catalog.clone(),
            docker_host: global.docker_host.clone(),
            install_dir: global.install_dir.clone().or(defaults.install_dir),
            ..defaults
        });
        Self {
            global,
            session,
            printer,
        }
    }

    /// The catalog: built-in nodes plus the `--catalog` file or the default one.
    pub fn catalog(&self) -> anyhow::Result<Catalog> {
        Ok(self.session.catalog()?)
    }

    /// The catalog nodes `names` stands for.
    pub fn nodes(&self, names: &NodeNames) -> anyhow::Result<Vec<Node>> {
        Ok(self.session.nodes(names.names.iter().map(|n| n.as_str()))?)
    }

    /// The install folder: `--install-dir` or the user's data folder.
    pub fn install_dir(&self) -> anyhow::Result<InstallDir> {
        self.session.install_dir().map_err(no_install_dir)
    }

    /// The keys this workstation trusts, in the install folder.
    pub fn trust_store(&self) -> anyhow::Result<TrustStore> {
        self.session.trust_store().map_err(no_install_dir)
    }

    /// The credentials: `NGC_API_KEY` and `HF_TOKEN` from the environment,
    /// else the stored ones.
    pub fn secrets(&self) -> Credentials {
        self.session.credentials()
    }

    /// Registry logins: the NGC API key from `NGC_API_KEY`, else the stored
    /// credentials; `docker login` for other registries.
    pub fn auth(&self) -> RegistryAuth {
        self.session.auth()
    }

    /// The keys this workstation trusts (none when it trusts none yet).
    pub fn trusted_keys(&self) -> anyhow::Result<Vec<TrustedKey>> {
        Ok(self.trust_store()?.keys()?)
    }

    /// Connects to the engine `--docker-host` or `DOCKER_HOST` names.
    pub async fn engine(&self) -> anyhow::Result<Engine> {
        Ok(self.session.engine().await?)
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

/// `error` with what to do when there is no install folder.
fn no_install_dir(error: SessionError) -> anyhow::Error {
    match error {
        SessionError::NoInstallDir => Hinted::new(
            error.to_string(),
            "pass `--install-dir DIR`, or set `BUDGETGUARD_INSTALL_DIR`",
        )
        .into(),
        error => error.into(),
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
