//! `install-package`.

use std::sync::Arc;
use std::time::Duration;

use budgetguard::install::{
    install_package, ImageOutcome, InstallOptions, InstallReport, NodeReport,
};

use budgetguard::size::human;

use crate::cli::{Cli, InstallArgs};
use crate::printer;
use crate::reporter::TerminalReporter;

/// Installs the package and prints what it did.
pub async fn run(cli: &Cli, args: &InstallArgs) -> anyhow::Result<()> {
    let engine = super::connect(cli).await?;
    let options = InstallOptions {
        package: args.package.clone(),
        dir: super::install_dir(cli)?,
        start: match (args.start, args.no_start) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        wait: Duration::from_secs(args.wait),
        listen: args.listen,
    };
    let reporter = Arc::new(TerminalReporter::new(cli.json));
    let cancel = super::cancel_on_ctrl_c();
    let report = install_package(&engine, &options, reporter, &cancel).await?;
    if cli.json {
        printer::json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &InstallReport) {
    for image in &report.images {
        let outcome = match image.outcome {
            ImageOutcome::Loaded => "loaded",
            ImageOutcome::AlreadyPresent => "already present",
        };
        println!("Image {}: {outcome}", image.references.join(", "));
    }
    if report.loaded_bytes > 0 {
        println!("Streamed {} into the engine", human(report.loaded_bytes));
    }
    print_nodes(&report.nodes);
    if !report.changed {
        println!("Nothing changed: this package is already installed.");
    }
}

/// The per-node table shared by install and deploy.
pub fn print_nodes(nodes: &[NodeReport]) {
    println!(
        "{:<14} {:<10} {:<44} COMPOSE FILE",
        "NODE", "STATE", "ENDPOINT"
    );
    for node in nodes {
        println!(
            "{:<14} {:<10} {:<44} {}",
            node.name,
            node.state,
            node.endpoint,
            node.compose_file.display()
        );
    }
}
