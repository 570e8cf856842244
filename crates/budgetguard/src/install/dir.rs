//! The install folder on a workstation and the state kept in it:
//!
//! ```text
//! <install dir>/credentials.env                  NGC_API_KEY, HF_TOKEN (0600)
//! <install dir>/endpoints.json                   installed nodes and their URLs
//! <install dir>/compose/<node>/docker-compose.yml
//! <install dir>/compose/<node>/cache/            the node's model cache
//! ```

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::InstallError;
use crate::catalog::Node;
use crate::compose;

/// An install folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallDir {
    root: PathBuf,
}

/// What `endpoints.json` holds: the installed nodes, for artists' tools.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoints {
    /// The installed nodes, by name.
    pub nodes: Vec<InstalledNode>,
}

/// One installed node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstalledNode {
    /// The node's name.
    pub name: String,
    /// The inference URL, e.g. `http://localhost:8001/v1/infer`.
    pub infer_url: String,
    /// The readiness URL.
    pub health_url: String,
    /// The image it runs.
    pub image: String,
    /// Its Compose file.
    pub compose_file: PathBuf,
    /// Its Compose project.
    pub compose_project: String,
    /// Its container.
    pub container: String,
    /// The node's settings, as installed.
    pub node: Node,
}

impl InstalledNode {
    /// The entry for `node` installed in `dir`.
    pub fn new(dir: &InstallDir, node: &Node) -> Self {
        let base = format!("http://localhost:{}", node.host_port);
        Self {
            name: node.name.clone(),
            infer_url: format!("{base}{}", node.infer_path),
            health_url: format!("{base}{}", node.health_path),
            image: node.image.clone(),
            compose_file: dir.compose_file(node),
            compose_project: compose::project_name(node),
            container: compose::container_name(node),
            node: node.clone(),
        }
    }
}

impl InstallDir {
    /// The folder at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The per-user default: the tool's data folder.
    pub fn default_location() -> Option<Self> {
        crate::paths::data_dir().map(Self::new)
    }

    /// The folder itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where a node's Compose file lives.
    pub fn compose_file(&self, node: &Node) -> PathBuf {
        self.node_dir(node).join("docker-compose.yml")
    }

    /// A node's folder (Compose file and cache).
    pub fn node_dir(&self, node: &Node) -> PathBuf {
        self.root.join("compose").join(node.service_name())
    }

    /// A node's model cache.
    pub fn cache_dir(&self, node: &Node) -> PathBuf {
        self.node_dir(node).join("cache")
    }

    /// The credentials file the Compose files refer to.
    pub fn credentials_file(&self) -> PathBuf {
        self.root.join(crate::credentials::FILE_NAME)
    }

    /// `endpoints.json`.
    pub fn endpoints_file(&self) -> PathBuf {
        self.root.join("endpoints.json")
    }

    /// The installed nodes (none when the file does not exist yet).
    pub fn endpoints(&self) -> Result<Endpoints, InstallError> {
        let path = self.endpoints_file();
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| InstallError::Io {
                action: "read",
                path,
                source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Endpoints::default()),
            Err(e) => Err(InstallError::io("read", &path)(e)),
        }
    }

    /// Writes `endpoints.json` atomically.
    pub fn write_endpoints(&self, endpoints: &Endpoints) -> Result<(), InstallError> {
        let mut bytes = serde_json::to_vec_pretty(endpoints).expect("endpoints serialize");
        bytes.push(b'\n');
        write_atomic(&self.endpoints_file(), &bytes)
    }

    /// The installed node called `name` (case-insensitive).
    pub fn installed(&self, name: &str) -> Result<InstalledNode, InstallError> {
        let endpoints = self.endpoints()?;
        let wanted = crate::catalog::slug(name);
        endpoints
            .nodes
            .iter()
            .find(|n| n.node.service_name() == wanted)
            .cloned()
            .ok_or_else(|| InstallError::NotInstalled {
                name: name.to_owned(),
                installed: endpoints.nodes.iter().map(|n| n.name.clone()).collect(),
            })
    }
}

/// Writes `path` through a temporary file beside it and a rename.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), InstallError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(InstallError::io("create", dir))?;
    let mut temp =
        tempfile::NamedTempFile::new_in(dir).map_err(InstallError::io("write into", dir))?;
    temp.write_all(bytes)
        .map_err(InstallError::io("write", path))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        temp.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))
            .map_err(InstallError::io("write", path))?;
    }
    temp.persist(path)
        .map_err(|e| InstallError::io("write", path)(e.error))?;
    Ok(())
}
