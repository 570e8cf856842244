//! `catalog`: the nodes that can be packaged, with the model profiles this
//! machine's cache of each node holds.

use budgetguard::catalog::Node;
use budgetguard::models::ModelStore;

use crate::context::Context;
use crate::table::Table;

/// Prints the catalog as a table or as JSON.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let catalog = ctx.catalog()?;
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
    let nodes: Vec<_> = catalog
        .nodes
        .iter()
        .map(|node| {
            let mut value = serde_json::to_value(node).expect("nodes serialize");
            value["held_profiles"] = serde_json::json!(held(node));
            value
        })
        .collect();
    ctx.printer
        .report(&serde_json::json!({ "nodes": nodes }), |out| {
            let mut table = Table::new(&[
                "NODE",
                "IMAGE",
                "VARIANT",
                "PORT",
                "GPU",
                "MODELS HELD HERE",
            ])
            .right_align(3);
            for node in &catalog.nodes {
                let models = match (&node.model, held(node)) {
                    (None, _) => "-".to_owned(),
                    (Some(model), Some(ids)) if !ids.is_empty() => {
                        format!("{}: {}", model.cache, ids.join(", "))
                    }
                    (Some(model), _) => format!("{}: none yet", model.cache),
                };
                table.row([
                    node.name.as_str(),
                    node.image.as_str(),
                    node.variant.as_deref().unwrap_or("-"),
                    &node.host_port.to_string(),
                    if node.gpu { "yes" } else { "no" },
                    &models,
                ]);
            }
            out.table(&table);
        });
    Ok(())
}
