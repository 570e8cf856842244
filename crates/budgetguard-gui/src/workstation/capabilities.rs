//! Whether this machine can run nodes: the engine must answer. The page
//! disables "Deploy" with the reason; `deploy-local` then runs the full
//! preflight, whose GPU probe decides whether GPU nodes run here.

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Capabilities {
    engine: Result<EngineSummary, String>,
    install_dir: Result<(), String>,
}

impl Capabilities {
    /// From the engine's answer (or why it gave none) and whether there is
    /// an install folder.
    pub(crate) fn new(
        engine: Result<EngineSummary, String>,
        install_dir: Result<(), String>,
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
            .cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreachable_engine_blocks_every_node() {
        let down = Capabilities::new(Err("cannot reach the Docker engine".into()), Ok(()));
        assert_eq!(
            down.blocker().as_deref(),
            Some("cannot reach the Docker engine")
        );
        assert_eq!(down.engine(), None);
        let no_dir = Capabilities::new(Err("engine".into()), Err("no folder".into()));
        assert_eq!(no_dir.blocker().as_deref(), Some("engine"));
    }
}
