//! One owner per node per engine: before an install or deploy changes a
//! node, its folder claims the node's Compose project on the engine
//! ([`Engine::claim`]). Of two folders claiming one node at the same time
//! exactly one gets it; the other is refused before any change, told which
//! folder owns the node, and never touches what the owner made. Runs in
//! one folder wait for each other on the folder's lock instead.

use super::dir::InstallDir;
use super::journal::{Step, Transaction};
use super::InstallError;
use crate::catalog::Node;
use crate::compose;
use crate::engine::Engine;

/// The claim of `node`'s Compose project.
pub(crate) fn claim_name(node: &Node) -> String {
    format!("{}.owner", compose::project_name(node))
}

/// The name this folder claims nodes under: its real path.
pub(crate) fn owner_of(dir: &InstallDir) -> String {
    super::dir::real_path(dir.root()).display().to_string()
}

/// Claims each of `nodes` for `dir`, recording each new claim in
/// `transaction` first; refuses a node another folder owns.
pub(crate) async fn claim_nodes(
    engine: &Engine,
    dir: &InstallDir,
    nodes: &[Node],
    transaction: &mut Transaction<'_>,
) -> Result<(), InstallError> {
    let owner = owner_of(dir);
    for node in nodes {
        let name = claim_name(node);
        let refused = |folder: String| InstallError::NodeOfOtherFolder {
            node: node.name.clone(),
            folder,
        };
        match engine.claim_owner(&name).await? {
            Some(folder) if folder == owner => continue,
            // A folder deleted since cannot uninstall anything: its claim is
            // stale, and taken over (its container, if any, is refused by
            // the preflight as made from another folder).
            Some(folder) if !folder.is_empty() && !std::path::Path::new(&folder).exists() => {
                engine.release(&name).await?;
            }
            Some(folder) => return Err(refused(folder)),
            None => {}
        }
        transaction.record(Step::Claim {
            name: name.clone(),
            owner: owner.clone(),
        })?;
        let folder = engine.claim(&name, &owner).await?;
        if folder != owner {
            return Err(refused(folder));
        }
    }
    Ok(())
}

/// Gives up the claim `name` if `owner` holds it (best effort for a run
/// taken back; an error for an uninstall).
pub(crate) async fn release(engine: &Engine, name: &str, owner: &str) -> Result<(), InstallError> {
    if engine.claim_owner(name).await?.as_deref() == Some(owner) {
        engine.release(name).await?;
    }
    Ok(())
}
