//! Whether this machine can run nodes: the engine must answer. The page
//! disables "Deploy" with the reason; `deploy-local` then runs the full
//! preflight, whose GPU probe decides whether GPU nodes run here.

use super::Unavailable;

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineSummary {
    /// Its version, e.g. `20.10.24`.
    pub version: String,
    /// Whether `docker info` lists an `nvidia` runtime (a hint: GPU nodes
    /// may run without one).
    pub nvidia_runtime: bool,
}

/// What this machine can run, probed when a page is rendered.
#[derive(Debug, Clone)]
pub(crate) struct Capabilities {
    engine: Result<EngineSummary, Unavailable>,
    install_dir: Result<(), Unavailable>,
}

impl Capabilities {
    /// From the engine's answer (or why it gave none) and whether there is
    /// an install folder.
    pub(crate) fn new(
        engine: Result<EngineSummary, Unavailable>,
        install_dir: Result<(), Unavailable>,
    ) -> Self {
        Self {
            engine,
            install_dir,
        }
    }

    /// The engine, when it answers.
    pub(crate) fn engine(&self) -> Option<&EngineSummary> {
        self.engine.as_ref().ok()
    }

    /// Why nothing can be deployed here, if so.
    pub(crate) fn blocker(&self) -> Option<String> {
        self.engine
            .as_ref()
            .err()
            .or(self.install_dir.as_ref().err())
            .map(Unavailable::to_string)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use budgetguard::session::SessionError;

    fn no_folder() -> Unavailable {
        SessionError::NoInstallDir.into()
    }

    fn engine_down() -> Unavailable {
        budgetguard::engine::EngineError::Stalled {
            action: "answering".into(),
            seconds: 5,
        }
        .into()
    }

    #[test]
    fn an_unreachable_engine_blocks_every_node() {
        let down = Capabilities::new(Err(engine_down()), Ok(()));
        assert_eq!(down.blocker(), Some(engine_down().to_string()));
        assert_eq!(down.engine(), None);
        let no_dir = Capabilities::new(Err(engine_down()), Err(no_folder()));
        assert_eq!(no_dir.blocker(), Some(engine_down().to_string()));
        let only_dir = Capabilities::new(
            Ok(EngineSummary {
                version: "20.10.24".into(),
                nvidia_runtime: false,
            }),
            Err(no_folder()),
        );
        assert!(only_dir.blocker().unwrap().contains("no data folder"));
    }
}
