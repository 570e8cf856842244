//! `create-install-package`.

use budgetguard::package::{create_package, CreateOptions, CreateReport};
use budgetguard::size::human;

use crate::cli::CreateArgs;
use crate::context::Context;
use crate::table::Text;

/// Makes the package and prints what it holds.
pub async fn run(ctx: &Context, args: &CreateArgs) -> anyhow::Result<()> {
    let options = CreateOptions {
        nodes: ctx.nodes(&args.nodes)?,
        output: args.output.clone(),
        compression: args.compression.into(),
        force: args.force,
        pull: !args.no_pull,
        auth: ctx.auth(),
        start_after_install: args.start_after_install,
    };
    let engine = ctx.engine().await?;
    let cancel = ctx.cancel_on_ctrl_c();
    let report = create_package(&engine, &options, ctx.reporter(), &cancel).await?;
    ctx.printer.report(&report, |out| text(out, &report));
    Ok(())
}

fn text(out: &mut Text, report: &CreateReport) {
    let manifest = &report.manifest;
    out.line(format_args!("Created {}", report.path.display()));
    let mut fields = vec![
        (
            "size",
            format!("{} ({} bytes)", human(report.size), report.size),
        ),
        ("package id", report.package_id.to_string()),
        ("compression", manifest.compression.to_string()),
    ];
    for node in &manifest.nodes {
        fields.push((
            "node",
            format!(
                "{} -> port {} ({})",
                node.node.name, node.node.host_port, node.node.image
            ),
        ));
    }
    for image in &manifest.images {
        fields.push((
            "image",
            format!(
                "{} {} ({} layers, {})",
                image.references.join(", "),
                image.id,
                image.layers.len(),
                human(image.size())
            ),
        ));
    }
    out.fields(fields);
    let file = report.path.file_name().map_or_else(
        || report.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    out.line("Install it on a workstation with:");
    out.line(format_args!(
        "  budgetguard-techops install-package --package {file}"
    ));
}
