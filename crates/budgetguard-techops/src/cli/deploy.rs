//! `deploy-local`.

use std::time::Duration;

use budgetguard::install::{deploy_local, DeployOptions};

use crate::cli::NodeNames;
use crate::context::Context;

/// Arguments of `deploy-local`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// The nodes to run.
    #[command(flatten)]
    pub nodes: NodeNames,

    /// Start the nodes and wait until they are ready.
    #[arg(long)]
    pub start: bool,

    /// How long to wait for readiness with --start.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub wait: u64,

    /// Use only images already in the engine; never pull.
    #[arg(long)]
    pub no_pull: bool,

    /// Publish the nodes' ports on this address [default: each node's own,
    /// 127.0.0.1 unless the catalog says otherwise].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::IpAddr>,
}

/// Deploys catalog nodes here and prints what it did.
pub async fn run(ctx: &Context, args: &DeployArgs) -> anyhow::Result<()> {
    let options = DeployOptions {
        nodes: ctx.nodes(&args.nodes)?,
        dir: ctx.install_dir()?,
        start: args.start,
        wait: Duration::from_secs(args.wait),
        pull: !args.no_pull,
        auth: ctx.auth(),
        listen: args.listen,
    };
    let engine = ctx.engine().await?;
    let cancel = ctx.cancel_on_ctrl_c();
    let report = deploy_local(&engine, &options, ctx.reporter(), &cancel).await?;
    ctx.printer.report(&report, |out| {
        out.table(&super::install::nodes_table(&report.nodes));
        super::install::gpu_line(out, report.gpu.as_ref());
    });
    Ok(())
}
