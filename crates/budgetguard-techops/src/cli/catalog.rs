//! `catalog`: the nodes that can be packaged.

use budgetguard::catalog::Catalog;

use crate::printer;

/// Prints the catalog as a table or as JSON.
pub fn run(catalog: &Catalog, json: bool) -> anyhow::Result<()> {
    if json {
        printer::json(catalog);
        return Ok(());
    }
    println!(
        "{:<14} {:<56} {:<8} {:>5}  GPU",
        "NODE", "IMAGE", "VARIANT", "PORT"
    );
    for node in &catalog.nodes {
        println!(
            "{:<14} {:<56} {:<8} {:>5}  {}",
            node.name,
            node.image,
            node.variant.as_deref().unwrap_or("-"),
            node.host_port,
            if node.gpu { "yes" } else { "no" }
        );
    }
    Ok(())
}
