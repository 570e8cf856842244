//! `status`, `start`, `stop` and `uninstall` of installed nodes.

use std::time::Duration;

use budgetguard::install::{self, InstalledNode};

use crate::cli::{NodesArgs, StartArgs, UninstallArgs};
use crate::context::Context;
use crate::table::Table;

/// Prints each installed node's state, health and endpoint.
pub async fn status(ctx: &Context) -> anyhow::Result<()> {
    let engine = ctx.engine().await?;
    let dir = ctx.install_dir()?;
    let nodes = install::status(&engine, &dir).await?;
    ctx.printer.report(&nodes, |out| {
        if nodes.is_empty() {
            out.line(format_args!(
                "No node is installed in {}.",
                dir.root().display()
            ));
            return;
        }
        let mut table = Table::new(&["NODE", "STATE", "HEALTH", "ENDPOINT", "LISTEN", "IMAGE"]);
        for n in &nodes {
            table.row([
                &n.name,
                &n.state,
                &n.health,
                &n.endpoint,
                &n.listen,
                &n.image,
            ]);
        }
        out.table(&table);
    });
    Ok(())
}

fn selected(ctx: &Context, args: &NodesArgs) -> anyhow::Result<Vec<InstalledNode>> {
    Ok(install::select(&ctx.install_dir()?, &args.nodes, args.all)?)
}

/// Starts nodes and waits for readiness.
pub async fn start(ctx: &Context, args: &StartArgs) -> anyhow::Result<()> {
    let nodes = selected(ctx, &args.nodes)?;
    let engine = ctx.engine().await?;
    let cancel = ctx.cancel_on_ctrl_c();
    let wait = Duration::from_secs(args.wait);
    install::start(&engine, &nodes, wait, ctx.reporter().as_ref(), &cancel).await?;
    done(ctx, "started", &nodes);
    Ok(())
}

/// Stops nodes.
pub async fn stop(ctx: &Context, args: &NodesArgs) -> anyhow::Result<()> {
    let nodes = selected(ctx, args)?;
    let engine = ctx.engine().await?;
    install::stop(&engine, &nodes, ctx.reporter().as_ref()).await?;
    done(ctx, "stopped", &nodes);
    Ok(())
}

/// Removes nodes.
pub async fn uninstall(ctx: &Context, args: &UninstallArgs) -> anyhow::Result<()> {
    let nodes = selected(ctx, &args.nodes)?;
    let engine = ctx.engine().await?;
    let dir = ctx.install_dir()?;
    let cancel = ctx.cancel_on_ctrl_c();
    let reporter = ctx.reporter();
    install::uninstall(
        &engine,
        &dir,
        &nodes,
        args.purge_cache,
        reporter.as_ref(),
        &cancel,
    )
    .await?;
    done(ctx, "uninstalled", &nodes);
    Ok(())
}

fn done(ctx: &Context, what: &str, nodes: &[InstalledNode]) {
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    ctx.printer
        .report(&serde_json::json!({ what: names }), |out| {
            if names.is_empty() {
                out.line("No node is installed.");
            } else {
                out.line(format_args!("{}: {what}", names.join(", ")));
            }
        });
}
