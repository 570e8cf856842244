//! `catalog`: the nodes that can be packaged.

use budgetguard::catalog::{Catalog, Node};
use budgetguard::models::ModelStore;

use crate::printer;

/// Prints the catalog as a table or as JSON, with the profiles this
/// machine's model cache of each node holds.
pub fn run(catalog: &Catalog, json: bool) -> anyhow::Result<()> {
    let store = ModelStore::default_location();
    let held = |node: &Node| -> Option<Vec<String>> {
        let (store, model) = (store.as_ref()?, node.model.as_ref()?);
        Some(
            store
                .held_profiles(&model.cache)
                .into_iter()
                .map(|p| p.id)
                .collect(),
        )
    };
    if json {
        let nodes: Vec<_> = catalog
            .nodes
            .iter()
            .map(|node| {
                let mut value = serde_json::to_value(node).expect("nodes serialize");
                value["held_profiles"] = serde_json::json!(held(node));
                value
            })
            .collect();
        printer::json(&serde_json::json!({ "nodes": nodes }));
        return Ok(());
    }
    println!(
        "{:<14} {:<56} {:<8} {:>5}  {:<4} MODELS HELD HERE",
        "NODE", "IMAGE", "VARIANT", "PORT", "GPU"
    );
    for node in &catalog.nodes {
        let models = match (&node.model, held(node)) {
            (None, _) => "-".to_owned(),
            (Some(model), Some(ids)) if !ids.is_empty() => {
                format!("{}: {}", model.cache, ids.join(", "))
            }
            (Some(model), _) => format!("{}: none yet", model.cache),
        };
        println!(
            "{:<14} {:<56} {:<8} {:>5}  {:<4} {}",
            node.name,
            node.image,
            node.variant.as_deref().unwrap_or("-"),
            node.host_port,
            if node.gpu { "yes" } else { "no" },
            models
        );
    }
    Ok(())
}
