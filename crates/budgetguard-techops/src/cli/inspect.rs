//! `inspect-package`: what a package holds, from its manifest alone.

use budgetguard::package::Package;
use budgetguard::size::human;

use crate::cli::PackageArg;
use crate::context::Context;
use crate::table::{Table, Text};

/// Prints the package's nodes, images, sizes and ports.
pub async fn run(ctx: &Context, args: &PackageArg) -> anyhow::Result<()> {
    let package = Package::open(&args.package)?;
    ctx.printer
        .report(package.manifest(), |out| text(out, &package, args));
    Ok(())
}

fn text(out: &mut Text, package: &Package, args: &PackageArg) {
    let manifest = package.manifest();
    out.line(format_args!("Package {}", args.package.display()));
    out.fields([
        ("package id", package.id().to_string()),
        ("size", human(package.file_size())),
        (
            "made",
            format!(
                "{} by budgetguard-techops {} from {}",
                manifest.created, manifest.tool_version, manifest.source_engine
            ),
        ),
        ("format", manifest.format_version.to_string()),
        ("compression", manifest.compression.to_string()),
        (
            "on install",
            if manifest.start_after_install {
                "nodes start (unless `install-package --no-start`)".to_owned()
            } else {
                "nodes stay stopped (unless `install-package --start`)".to_owned()
            },
        ),
    ]);
    out.line("Nodes:");
    let mut nodes = Table::new(&["NODE", "PORT", "VARIANT", "GPU", "IMAGE"]).right_align(1);
    nodes.indent = 2;
    for n in &manifest.nodes {
        nodes.row([
            n.node.name.as_str(),
            &n.node.host_port.to_string(),
            n.node.variant.as_deref().unwrap_or("-"),
            if n.node.gpu { "yes" } else { "no" },
            n.node.image.as_str(),
        ]);
    }
    out.table(&nodes);
    out.line("Images:");
    let mut images = Table::new(&[]);
    images.indent = 2;
    for image in &manifest.images {
        images.row([
            image.references.join(", "),
            image.id.clone(),
            format!("({} layers, {})", image.layers.len(), human(image.size())),
        ]);
    }
    out.table(&images);
}
