//! `status`, `start`, `stop` and `uninstall` of installed nodes.

use std::time::Duration;

use budgetguard::install::{self, InstalledNode};

use crate::context::Context;
use crate::table::Table;

/// Installed nodes to act on.
#[derive(Debug, clap::Args)]
pub struct NodesArgs {
    /// Node names.
    #[arg(value_name = "NODE", required_unless_present = "all")]
    pub nodes: Vec<String>,

    /// Every installed node.
    #[arg(long, conflicts_with = "nodes")]
    pub all: bool,
}

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// Also check each node's image and re-hash its model files against
    /// what was installed.
    #[arg(long)]
    pub verify: bool,
}

/// Arguments of `start`.
#[derive(Debug, clap::Args)]
pub struct StartArgs {
    /// The nodes.
    #[command(flatten)]
    pub nodes: NodesArgs,

    /// How long to wait for readiness.
    #[arg(long, value_name = "SECONDS", default_value_t = 1800)]
    pub wait: u64,
}

/// Arguments of `uninstall`.
#[derive(Debug, clap::Args)]
pub struct UninstallArgs {
    /// The nodes.
    #[command(flatten)]
    pub nodes: NodesArgs,

    /// Also delete the nodes' model caches.
    #[arg(long)]
    pub purge_cache: bool,
}

/// Prints each installed node's state, health and endpoint, and a run in
/// the folder that did not finish; with `--verify`, fails when a node's
/// image or model files are not as installed.
pub async fn status(ctx: &Context, args: &StatusArgs) -> anyhow::Result<()> {
    let engine = ctx.engine().await?;
    let dir = ctx.install_dir()?;
    if let Some(run) = dir.unfinished_run()? {
        ctx.printer.warning(run);
    }
    let nodes = install::status(&engine, &dir, args.verify).await?;
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
        for n in &nodes {
            for mismatch in &n.mismatches {
                out.line(format_args!("{}: {mismatch}", n.name));
            }
        }
    });
    let mismatched: Vec<&str> = nodes
        .iter()
        .filter(|n| !n.mismatches.is_empty())
        .map(|n| n.name.as_str())
        .collect();
    if !mismatched.is_empty() {
        anyhow::bail!(
            "{} not as installed: reinstall {} package",
            mismatched.join(", "),
            if mismatched.len() == 1 {
                "its"
            } else {
                "their"
            }
        );
    }
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
    let dir = ctx.install_dir()?;
    install::start(
        &engine,
        &dir,
        &nodes,
        wait,
        ctx.reporter().as_ref(),
        &cancel,
    )
    .await?;
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
