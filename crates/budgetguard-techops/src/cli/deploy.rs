//! `deploy-local`.

use std::time::Duration;

use budgetguard::install::{deploy_local, DeployOptions};

use crate::cli::DeployArgs;
use crate::context::Context;

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
