//! `catalog`: the nodes that can be packaged.

use crate::context::Context;
use crate::table::Table;

/// Prints the catalog as a table or as JSON.
pub async fn run(ctx: &Context) -> anyhow::Result<()> {
    let catalog = ctx.catalog()?;
    ctx.printer.report(&catalog, |out| {
        let mut table = Table::new(&["NODE", "IMAGE", "VARIANT", "PORT", "GPU"]).right_align(3);
        for node in &catalog.nodes {
            table.row([
                node.name.as_str(),
                node.image.as_str(),
                node.variant.as_deref().unwrap_or("-"),
                &node.host_port.to_string(),
                if node.gpu { "yes" } else { "no" },
            ]);
        }
        out.table(&table);
    });
    Ok(())
}
