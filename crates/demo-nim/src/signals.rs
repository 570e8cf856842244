//! SIGTERM and SIGINT. As PID 1 in a container they have no default action,
//! so without handlers `docker stop` would wait for its timeout and kill.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Handlers for SIGTERM and SIGINT, installed when created.
pub struct Termination {
    term: Signal,
    int: Signal,
}

impl Termination {
    /// Installs the handlers.
    pub fn listen() -> std::io::Result<Self> {
        Ok(Termination {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
        })
    }

    /// Waits for either signal; returns its name.
    pub async fn received(&mut self) -> &'static str {
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
    }
}
