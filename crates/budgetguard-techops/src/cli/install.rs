//! `install-package`.

use std::path::PathBuf;
use std::time::Duration;

use budgetguard::install::{
    install_package_with, GpuReadiness, ImageOutcome, InstallOptions, InstallReport, Listen,
    NodeReport,
};
use budgetguard::size::human;

use crate::context::Context;
use crate::table::{Table, Text};

/// Arguments of `install-package`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The package file, or a part of a split package (the others beside
    /// it; repeat --package for parts in several folders), or its https://
    /// URL on a server that answers range requests, or
    /// oci://registry/repository:tag where it was published (only what
    /// this workstation lacks is downloaded).
    #[arg(long, value_name = "FILE|URL", required = true)]
    pub package: Vec<PathBuf>,

    /// Start the nodes and wait until they are ready [default: as the
    /// package says, stopped unless made with --start-after-install].
    #[arg(long, conflicts_with = "no_start")]
    pub start: bool,

    /// Leave the nodes stopped, whatever the package says.
    #[arg(long)]
    pub no_start: bool,

    /// How long to wait for readiness when starting.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub wait: u64,

    /// Publish the nodes' ports on this address, e.g. 0.0.0.0 to serve the
    /// studio network (a NIM has no authentication) [default: 127.0.0.1,
    /// whatever the package asks].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::IpAddr>,

    #[command(flatten)]
    pub http: crate::cli::HttpArgs,
}

/// Installs the package and prints what it did.
pub async fn run(ctx: &Context, args: &InstallArgs) -> anyhow::Result<()> {
    let options = InstallOptions {
        package: args.package[0].clone(),
        parts: args.package[1..].to_vec(),
        dir: ctx.install_dir()?,
        start: match (args.start, args.no_start) {
            (true, _) => Some(true),
            (_, true) => Some(false),
            _ => None,
        },
        wait: Duration::from_secs(args.wait),
        listen: args.listen.map_or(Listen::Loopback, Listen::Address),
    };
    let engine = ctx.engine().await?;
    let cancel = ctx.cancel_on_ctrl_c();
    let http = args.http.options();
    let report = install_package_with(&engine, &options, &http, ctx.reporter(), &cancel).await?;
    ctx.printer.report(&report, |out| text(out, &report));
    Ok(())
}

fn text(out: &mut Text, report: &InstallReport) {
    for image in &report.images {
        let outcome = match image.outcome {
            ImageOutcome::Loaded => "loaded",
            ImageOutcome::AlreadyPresent => "already present",
        };
        out.line(format_args!(
            "Image {}: {outcome}",
            image.references.join(", ")
        ));
    }
    if report.loaded_bytes > 0 {
        out.line(format_args!(
            "Streamed {} into the engine",
            human(report.loaded_bytes)
        ));
    }
    out.table(&nodes_table(&report.nodes));
    gpu_line(out, report.gpu.as_ref());
    if !report.changed {
        out.line("Nothing changed: this package is already installed.");
    }
}

/// What the GPU probe found, when a node needs a GPU (install and deploy).
pub fn gpu_line(out: &mut Text, gpu: Option<&GpuReadiness>) {
    if let Some(gpu) = gpu {
        out.line(format_args!("GPU {gpu}"));
    }
}

/// The per-node table shared by install and deploy.
pub fn nodes_table(nodes: &[NodeReport]) -> Table {
    let mut table = Table::new(&["NODE", "STATE", "ENDPOINT", "COMPOSE FILE"]);
    for node in nodes {
        table.row([
            node.name.clone(),
            node.state.to_string(),
            node.endpoint.clone(),
            node.compose_file.display().to_string(),
        ]);
    }
    table
}
