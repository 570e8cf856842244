//! `create-install-package`.

use std::sync::Arc;

use budgetguard::engine::RegistryAuth;
use budgetguard::package::{create_package, CreateOptions, CreateReport};
use budgetguard::size::human;

use crate::cli::{Cli, CreateArgs};
use crate::printer;
use crate::reporter::TerminalReporter;

/// Makes the package and prints what it holds.
pub async fn run(cli: &Cli, args: &CreateArgs) -> anyhow::Result<()> {
    let nodes = super::load_catalog(cli)?.select(&args.nodes)?;
    let engine = super::connect(cli).await?;
    let options = CreateOptions {
        nodes,
        output: args.output.clone(),
        compression: args.compression,
        force: args.force,
        pull: !args.no_pull,
        auth: RegistryAuth::new(super::ngc_api_key(cli)),
        start_after_install: args.start_after_install,
    };
    let reporter = Arc::new(TerminalReporter::new(cli.json));
    let cancel = super::cancel_on_ctrl_c();
    let report = create_package(&engine, &options, reporter, &cancel).await?;
    if cli.json {
        printer::json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &CreateReport) {
    let manifest = &report.manifest;
    println!("Created {}", report.path.display());
    println!(
        "  size:        {} ({} bytes)",
        human(report.size),
        report.size
    );
    println!("  package id:  {}", report.package_id);
    println!("  compression: {}", manifest.compression);
    for node in &manifest.nodes {
        println!(
            "  node:        {} -> port {} ({})",
            node.node.name, node.node.host_port, node.node.image
        );
    }
    for image in &manifest.images {
        println!(
            "  image:       {} {} ({} layers, {})",
            image.references.join(", "),
            &image.id,
            image.layers.len(),
            human(image.size())
        );
    }
    println!(
        "Install it on a workstation with:\n  budgetguard-techops install-package --package {}",
        report.path.file_name().map_or_else(
            || report.path.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        )
    );
}
