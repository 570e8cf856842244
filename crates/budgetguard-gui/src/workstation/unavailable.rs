//! Why this workstation cannot answer what a page asks: the engine does not
//! answer, there is no install folder, or the installed nodes cannot be
//! listed. Typed, kept (pages show the reason beside a disabled button) and
//! worded here, the library's words for the library's errors.

use std::sync::Arc;

use budgetguard::engine::EngineError;
use budgetguard::error_text;
use budgetguard::install::InstallError;
use budgetguard::session::SessionError;

use crate::messages::Message;

/// Why this workstation cannot do what a page asks.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum Unavailable {
    /// The engine does not answer, or not with its facts.
    #[error("{}", error_text(&**.0))]
    Engine(Arc<EngineError>),
    /// The install folder cannot be opened.
    #[error("{}", folder_text(.0))]
    InstallDir(Arc<SessionError>),
    /// The installed nodes cannot be listed.
    #[error("{}", error_text(&**.0))]
    Installed(Arc<InstallError>),
}

/// Why the install folder cannot be opened, as the GUI says it.
fn folder_text(error: &SessionError) -> String {
    match error {
        SessionError::NoInstallDir => "this machine has no data folder for installed nodes: set `HOME` (or `XDG_DATA_HOME`) and restart the GUI".to_owned(),
        error => error_text(error),
    }
}

impl From<EngineError> for Unavailable {
    fn from(error: EngineError) -> Self {
        Self::Engine(Arc::new(error))
    }
}

impl From<SessionError> for Unavailable {
    fn from(error: SessionError) -> Self {
        Self::InstallDir(Arc::new(error))
    }
}

impl From<InstallError> for Unavailable {
    fn from(error: InstallError) -> Self {
        Self::Installed(Arc::new(error))
    }
}

impl From<Unavailable> for Message {
    fn from(unavailable: Unavailable) -> Self {
        Message::new(unavailable.to_string())
    }
}
