//! Whether this machine can run nodes: the engine must answer, and GPU
//! nodes need the NVIDIA container runtime. The page disables "Deploy" with
//! these reasons; `deploy-local` then runs the full preflight.

use budgetguard::catalog::Node;

/// What the engine says about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EngineSummary {
    /// Its version, e.g. `20.10.24`.
    pub version: String,
    /// Whether `docker info` lists an `nvidia` runtime.
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

    /// Why `node` cannot run here, when the machine otherwise can.
    pub(crate) fn node_blocker(&self, node: &Node) -> Option<String> {
        let engine = self.engine()?;
        (node.gpu && !engine.nvidia_runtime).then(|| {
            format!(
                "`{}` needs an NVIDIA GPU, but `docker info` shows no `nvidia` runtime on this machine",
                node.name
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetguard::catalog::Catalog;

    fn node(name: &str) -> Node {
        Catalog::builtin().get(name).unwrap().clone()
    }

    #[test]
    fn gpu_nodes_need_the_nvidia_runtime() {
        let without = Capabilities::new(
            Ok(EngineSummary {
                version: "20.10".into(),
                nvidia_runtime: false,
            }),
            Ok(()),
        );
        assert_eq!(without.blocker(), None);
        assert_eq!(without.node_blocker(&node("Demo")), None);
        let reason = without.node_blocker(&node("FLUX Dev")).unwrap();
        assert!(reason.contains("needs an NVIDIA GPU"), "{reason}");

        let with = Capabilities::new(
            Ok(EngineSummary {
                version: "20.10".into(),
                nvidia_runtime: true,
            }),
            Ok(()),
        );
        assert_eq!(with.node_blocker(&node("FLUX Dev")), None);
    }

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
