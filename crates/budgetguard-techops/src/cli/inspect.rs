//! `inspect-package`: what a package holds, from its manifest alone.

use std::path::Path;

use budgetguard::package::Package;
use budgetguard::size::human;

use crate::printer;

/// Prints the package's nodes, images, sizes and ports.
pub fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let package = Package::open(path)?;
    let manifest = package.manifest();
    if json {
        printer::json(manifest);
        return Ok(());
    }
    println!("Package {}", path.display());
    println!("  package id:  {}", package.id());
    println!("  size:        {}", human(package.file_size()));
    println!(
        "  made:        {} by budgetguard-techops {} from {}",
        manifest.created, manifest.tool_version, manifest.source_engine
    );
    println!("  format:      {}", manifest.format_version);
    println!("  compression: {}", manifest.compression);
    println!(
        "  on install:  {}",
        if manifest.start_after_install {
            "nodes start (unless `install-package --no-start`)"
        } else {
            "nodes stay stopped (unless `install-package --start`)"
        }
    );
    println!("Nodes:");
    println!(
        "  {:<14} {:>5}  {:<8} {:<4} IMAGE",
        "NODE", "PORT", "VARIANT", "GPU"
    );
    for n in &manifest.nodes {
        println!(
            "  {:<14} {:>5}  {:<8} {:<4} {}",
            n.node.name,
            n.node.host_port,
            n.node.variant.as_deref().unwrap_or("-"),
            if n.node.gpu { "yes" } else { "no" },
            n.node.image
        );
    }
    println!("Images:");
    for image in &manifest.images {
        println!(
            "  {} {} ({} layers, {})",
            image.references.join(", "),
            image.id,
            image.layers.len(),
            human(image.size())
        );
    }
    Ok(())
}
