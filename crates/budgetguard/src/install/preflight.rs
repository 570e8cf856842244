//! Checks made before anything changes: each problem is one line naming its
//! fix, and all of them are reported at once.

use std::net::TcpListener;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::dir::{real_path, InstallDir};
use super::gpu::{self, GpuFix, GpuReadiness};
use super::InstallError;
use crate::catalog::Node;
use crate::compose::{Compose, Detecting};
use crate::credentials::Credentials;
use crate::digest::ImageId;
use crate::engine::{Engine, EngineFacts};
use crate::size::human;
use crate::Cancel;

/// One reason not to go ahead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// Neither Compose command runs.
    #[error("Docker Compose is not installed: install the Compose plugin (`docker compose`, package docker-compose-plugin) or `docker-compose`")]
    ComposeMissing,
    /// The credentials file cannot be read.
    #[error("cannot read `{}` ({detail}): fix its permissions, or store the credentials again", path.display())]
    CredentialsUnreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        detail: String,
    },
    /// A node needs credentials that are not stored.
    #[error("node `{node}` needs {} in `{}`: store them on this workstation", missing.join(" and "), path.display())]
    CredentialsMissing {
        /// The node.
        node: String,
        /// The missing variables.
        missing: Vec<String>,
        /// The credentials file.
        path: PathBuf,
    },
    /// Too little room for the images.
    #[error("the Docker engine's folder `{}` has {} free, loading needs about {}: free some space (`docker system prune`) and retry", path.display(), human(*available), human(*needed))]
    EngineDisk {
        /// The engine's data folder.
        path: PathBuf,
        /// Bytes free.
        available: u64,
        /// Bytes needed.
        needed: u64,
    },
    /// Too little room for the model files.
    #[error("the install folder's disk `{}` has {} free, the models need about {}: free some space or choose another install folder", path.display(), human(*available), human(*needed))]
    ModelDisk {
        /// The folder checked.
        path: PathBuf,
        /// Bytes free.
        available: u64,
        /// Bytes needed.
        needed: u64,
    },
    /// Two nodes of the run want the same port.
    #[error("nodes `{first}` and `{second}` both want port {port}: give one another `host_port` in the catalog")]
    PortClash {
        /// One node.
        first: String,
        /// The other.
        second: String,
        /// The port.
        port: u16,
    },
    /// A GPU node, where the engine does not run a GPU container.
    #[error("node `{node}` needs an NVIDIA GPU, but the Docker engine does not run a GPU container here ({reason}); {fix}")]
    GpuNotReady {
        /// The node.
        node: String,
        /// What the engine or `nvidia-smi` said, quoted.
        reason: String,
        /// What to do.
        fix: GpuFix,
    },
    /// A GPU node, where the engine gave no answer to the GPU probe.
    #[error("node `{node}` needs an NVIDIA GPU, and checking it failed: {detail}")]
    GpuUnanswered {
        /// The node.
        node: String,
        /// The engine's error, with its fix.
        detail: String,
    },
    /// Something else holds a node's port.
    #[error("port {address} for node `{node}` is already in use: stop what uses it, or give the node another `host_port` in the catalog")]
    PortInUse {
        /// The node.
        node: String,
        /// The address and port.
        address: String,
    },
    /// A node is to listen on an address this workstation does not have.
    #[error("node `{node}` is to listen on {address}, which is not an address of this workstation: listen on one of its addresses, on 0.0.0.0 for all of them, or on 127.0.0.1")]
    ForeignAddress {
        /// The node.
        node: String,
        /// The address.
        address: std::net::IpAddr,
    },
    /// A tag the package gives its image names the image a node of another
    /// install folder runs: that node would switch to the package's image
    /// when Compose next makes it, and neither folder could take it back.
    #[error("the package gives `{reference}` another image, but `{reference}` names the image that container `{container}` of another install folder (`{folder}`) runs: uninstall that node there first, or install this package into that folder")]
    TagOfOtherFolder {
        /// The reference.
        reference: String,
        /// The other folder's node container.
        container: String,
        /// The folder its Compose file is in.
        folder: String,
    },
    /// A container of a node's name exists, made from another folder (an
    /// install folder of another user, say) or by hand.
    #[error("node `{node}`'s container `{container}` exists already, {}: uninstall it there, or remove the container, then retry", match folder { Some(f) => format!("made from `{f}`, another install folder"), None => "not made by Compose".to_owned() })]
    ContainerOfOtherFolder {
        /// The node.
        node: String,
        /// The container.
        container: String,
        /// The folder its Compose file was in, when Compose made it.
        folder: Option<String>,
    },
    /// The install folder cannot be used as it is.
    #[error("{detail}")]
    InstallFolder {
        /// What is wrong, and the fix.
        detail: String,
    },
}

/// What the nodes about to be installed need.
pub(crate) struct Needs<'a> {
    /// The nodes.
    pub nodes: &'a [Node],
    /// Bytes the engine will receive (it writes them twice while loading).
    pub load_bytes: u64,
    /// Bytes of model files to write into the install folder.
    pub model_bytes: u64,
    /// Whether the nodes will be started.
    pub start: bool,
    /// Whether Compose will run (some node's configuration changes).
    pub compose: bool,
    /// What the GPU probe found, when it ran before the run's changes.
    pub gpu: Option<&'a GpuReadiness>,
    /// The references the run points at another image, with the image
    /// each names now.
    pub moved_tags: &'a [(String, ImageId)],
}

/// Runs every check, and finds Compose when it will run (taking what
/// `detecting` found, when the run started looking early): the Compose to
/// use (`None` when it will not run), or an error listing every problem
/// found.
pub(crate) async fn check(
    engine: &Engine,
    facts: &EngineFacts,
    dir: &InstallDir,
    needs: &Needs<'_>,
    detecting: Option<Detecting>,
) -> Result<Option<Compose>, InstallError> {
    let mut problems = problems(engine, facts, dir, needs).await;
    let compose = match (needs.compose, detecting) {
        (true, Some(detecting)) => Some(detecting.wait().await),
        (true, None) => Some(Compose::detect(engine.host()).await),
        (false, _) => None,
    };
    match compose {
        Some(Err(_)) => {
            problems.insert(0, Problem::ComposeMissing);
            Err(InstallError::Preflight { problems })
        }
        _ if !problems.is_empty() => Err(InstallError::Preflight { problems }),
        compose => Ok(compose.and_then(Result::ok)),
    }
}

/// The checks a start of installed nodes needs, before it runs: the
/// credentials they need are stored, a GPU container runs (the same probe
/// as an install's), and no other program holds their ports (a node's own
/// running container may). Every problem found, in the order of the nodes;
/// none when they can start.
pub async fn start_problems(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[Node],
    reporter: &dyn crate::progress::Reporter,
    cancel: &Cancel,
) -> Result<Vec<Problem>, InstallError> {
    let facts = engine.facts().await?;
    let mut problems = Vec::new();
    credentials(dir, nodes, &mut problems);
    let readiness = gpu::judge(engine, &facts, nodes, reporter, cancel).await?;
    gpu_problems(readiness.as_ref(), nodes, &mut problems);
    ports(engine, nodes, &mut problems).await;
    Ok(problems)
}

/// Runs every check but Compose's and returns the problems found.
async fn problems(
    engine: &Engine,
    facts: &EngineFacts,
    dir: &InstallDir,
    needs: &Needs<'_>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    install_folder(dir, needs.nodes, &mut problems);
    credentials(dir, needs.nodes, &mut problems);
    disk(facts, needs.load_bytes, &mut problems);
    model_disk(dir, needs.model_bytes, &mut problems);
    duplicate_ports(needs.nodes, &mut problems);
    addresses(needs.nodes, &mut problems);
    containers(engine, dir, needs.nodes, &mut problems).await;
    moved_tags(engine, dir, needs.moved_tags, &mut problems).await;
    if needs.start {
        gpu_problems(needs.gpu, needs.nodes, &mut problems);
        ports(engine, needs.nodes, &mut problems).await;
    }
    problems
}

/// The Compose label that names the folder a container's Compose file was in.
const WORKING_DIR_LABEL: &str = "com.docker.compose.project.working_dir";

/// No node's container name is taken by a container this install folder
/// did not make: Compose would take it over, and a rollback or uninstall
/// here would remove it. Nodes of two install folders on one engine share
/// container names.
async fn containers(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[Node],
    problems: &mut Vec<Problem>,
) {
    for node in nodes {
        let container = crate::compose::container_name(node);
        let Ok(Some(folder)) = engine.container_label(&container, WORKING_DIR_LABEL).await else {
            continue;
        };
        let own = real_path(&dir.node_dir(node));
        if folder.as_deref().map(|f| real_path(Path::new(f))) != Some(own) {
            problems.push(Problem::ContainerOfOtherFolder {
                node: node.name.clone(),
                container,
                folder,
            });
        }
    }
}

/// The Compose label that names a container's project.
const PROJECT_LABEL: &str = "com.docker.compose.project";

/// No tag the run moves names an image that a node of another install
/// folder runs (a container of this tool's Compose projects, made from a
/// folder outside this one that still exists: a deleted folder makes its
/// containers anew no more). An engine that cannot list the containers
/// fails the run later, at its first change.
async fn moved_tags(
    engine: &Engine,
    dir: &InstallDir,
    moved: &[(String, ImageId)],
    problems: &mut Vec<Problem>,
) {
    let own = real_path(dir.root());
    for (reference, now) in moved {
        let Ok(containers) = engine.containers_using(now).await else {
            continue;
        };
        let other = containers.into_iter().find_map(|container| {
            let project = container.labels.get(PROJECT_LABEL)?;
            if !project.starts_with(crate::compose::PROJECT_PREFIX) {
                return None;
            }
            let folder = container.labels.get(WORKING_DIR_LABEL)?;
            let real = real_path(Path::new(folder));
            (!real.starts_with(&own) && real.exists()).then(|| (container.name, folder.clone()))
        });
        if let Some((container, folder)) = other {
            problems.push(Problem::TagOfOtherFolder {
                reference: reference.clone(),
                container,
                folder,
            });
        }
    }
}

/// Every node listens on an address of this workstation (a package may
/// name any): one that cannot be bound here is not one of its own. Checked
/// whether or not the nodes start, since `endpoints.json` points there.
fn addresses(nodes: &[Node], problems: &mut Vec<Problem>) {
    for node in nodes {
        let address = node.listen_address();
        let bound = TcpListener::bind(std::net::SocketAddr::new(address, 0));
        if bound.is_err_and(|e| e.kind() == std::io::ErrorKind::AddrNotAvailable) {
            problems.push(Problem::ForeignAddress {
                node: node.name.clone(),
                address,
            });
        }
    }
}

/// The folder can be written, its state files read, and none of the
/// nodes' paths in it (Compose folder, cache, model cache) is a link.
fn install_folder(dir: &InstallDir, nodes: &[Node], problems: &mut Vec<Problem>) {
    let mut checks = vec![
        dir.check_writable(),
        dir.endpoints().map(drop),
        dir.loaded_images().map(drop),
    ];
    for node in nodes {
        let node_dir = InstallDir::node_dir_relative(node);
        checks.push(dir.check_no_links(&node_dir.join("cache")));
        checks.push(dir.check_no_links(&node_dir.join("docker-compose.yml")));
        if let Some(model) = &node.model {
            checks.push(dir.check_no_links(&Path::new("models").join(&model.cache)));
            checks.push(dir.check_no_links(&InstallDir::staging_relative().join(&model.cache)));
        }
    }
    for error in checks.into_iter().filter_map(Result::err) {
        problems.push(Problem::InstallFolder {
            detail: crate::error_text(&error),
        });
    }
}

pub(crate) fn credentials(dir: &InstallDir, nodes: &[Node], problems: &mut Vec<Problem>) {
    let path = dir.credentials_file();
    let stored = match Credentials::load(&path) {
        Ok(stored) => stored,
        Err(e) => {
            problems.push(Problem::CredentialsUnreadable {
                path,
                detail: e.to_string(),
            });
            return;
        }
    };
    for node in nodes {
        let missing: Vec<String> = node
            .credentials
            .iter()
            .filter(|c| stored.get(**c).is_none())
            .map(|c| c.env_name().to_owned())
            .collect();
        if !missing.is_empty() {
            problems.push(Problem::CredentialsMissing {
                node: node.name.clone(),
                missing,
                path: path.clone(),
            });
        }
    }
}

/// The classic loader unpacks the whole stream to a temporary folder before
/// it extracts the layers: twice the bytes, at the peak.
fn disk(facts: &EngineFacts, load_bytes: u64, problems: &mut Vec<Problem>) {
    let Some(root) = facts
        .root_dir
        .as_deref()
        .map(Path::new)
        .filter(|p| p.exists())
    else {
        return;
    };
    let needed = load_bytes.saturating_mul(2);
    if let Ok(available) = fs4::available_space(root) {
        if available < needed {
            problems.push(Problem::EngineDisk {
                path: root.to_owned(),
                available,
                needed,
            });
        }
    }
}

/// The model files go into the install folder, often another disk than
/// the engine's.
fn model_disk(dir: &InstallDir, needed: u64, problems: &mut Vec<Problem>) {
    if needed == 0 {
        return;
    }
    let path = dir.root();
    if let Ok(available) = fs4::available_space(path) {
        if available < needed {
            problems.push(Problem::ModelDisk {
                path: path.to_owned(),
                available,
                needed,
            });
        }
    }
}

fn duplicate_ports(nodes: &[Node], problems: &mut Vec<Problem>) {
    for (i, node) in nodes.iter().enumerate() {
        if let Some(other) = nodes[..i].iter().find(|o| o.host_port == node.host_port) {
            problems.push(Problem::PortClash {
                first: other.name.clone(),
                second: node.name.clone(),
                port: node.host_port,
            });
        }
    }
}

/// Each GPU node's problem, unless the probe ran a GPU container (or did
/// not run yet: no image of theirs was in the engine).
pub(crate) fn gpu_problems(
    readiness: Option<&GpuReadiness>,
    nodes: &[Node],
    problems: &mut Vec<Problem>,
) {
    let Some(readiness) = readiness else {
        return;
    };
    problems.extend(
        nodes
            .iter()
            .filter(|n| n.gpu)
            .filter_map(|node| readiness.problem(node)),
    );
}

/// A port held by the node's own running container is fine: it is replaced.
pub(crate) async fn ports(engine: &Engine, nodes: &[Node], problems: &mut Vec<Problem>) {
    for node in nodes {
        let address = std::net::SocketAddr::new(node.listen_address(), node.host_port);
        if TcpListener::bind(address).is_ok() {
            continue;
        }
        let own = engine
            .container_state(&crate::compose::container_name(node))
            .await
            .ok()
            .flatten()
            .is_some_and(|state| state == "running");
        if !own {
            problems.push(Problem::PortInUse {
                node: node.name.clone(),
                address: address.to_string(),
            });
        }
    }
}
