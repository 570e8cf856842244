//! `status`, `start`, `stop` and `uninstall` of installed nodes.

use std::time::Duration;

use budgetguard::install::{self, InstalledNode};

use crate::cli::{Cli, NodesArgs, StartArgs, UninstallArgs};
use crate::printer;
use crate::reporter::TerminalReporter;

/// Prints each installed node's state, health and endpoint.
pub async fn status(cli: &Cli) -> anyhow::Result<()> {
    let engine = super::connect(cli).await?;
    let dir = super::install_dir(cli)?;
    let nodes = install::status(&engine, &dir).await?;
    if cli.json {
        printer::json(&nodes);
        return Ok(());
    }
    if nodes.is_empty() {
        println!("No node is installed in {}.", dir.root().display());
        return Ok(());
    }
    println!(
        "{:<14} {:<10} {:<10} {:<44} {:<10} IMAGE",
        "NODE", "STATE", "HEALTH", "ENDPOINT", "LISTEN"
    );
    for n in nodes {
        println!(
            "{:<14} {:<10} {:<10} {:<44} {:<10} {}",
            n.name, n.state, n.health, n.endpoint, n.listen, n.image
        );
    }
    Ok(())
}

fn selected(cli: &Cli, args: &NodesArgs) -> anyhow::Result<Vec<InstalledNode>> {
    Ok(install::select(
        &super::install_dir(cli)?,
        &args.nodes,
        args.all,
    )?)
}

/// Starts nodes and waits for readiness.
pub async fn start(cli: &Cli, args: &StartArgs) -> anyhow::Result<()> {
    let nodes = selected(cli, &args.nodes)?;
    let engine = super::connect(cli).await?;
    let reporter = TerminalReporter::new(cli.json);
    let cancel = super::cancel_on_ctrl_c();
    install::start(
        &engine,
        &nodes,
        Duration::from_secs(args.wait),
        &reporter,
        &cancel,
    )
    .await?;
    done(cli, "started", &nodes);
    Ok(())
}

/// Stops nodes.
pub async fn stop(cli: &Cli, args: &NodesArgs) -> anyhow::Result<()> {
    let nodes = selected(cli, args)?;
    let engine = super::connect(cli).await?;
    install::stop(&engine, &nodes, &TerminalReporter::new(cli.json)).await?;
    done(cli, "stopped", &nodes);
    Ok(())
}

/// Removes nodes.
pub async fn uninstall(cli: &Cli, args: &UninstallArgs) -> anyhow::Result<()> {
    let nodes = selected(cli, &args.nodes)?;
    let engine = super::connect(cli).await?;
    let dir = super::install_dir(cli)?;
    install::uninstall(
        &engine,
        &dir,
        &nodes,
        args.purge_cache,
        &TerminalReporter::new(cli.json),
        &super::cancel_on_ctrl_c(),
    )
    .await?;
    done(cli, "uninstalled", &nodes);
    Ok(())
}

fn done(cli: &Cli, what: &str, nodes: &[InstalledNode]) {
    let names: Vec<&str> = nodes.iter().map(|n| n.name.as_str()).collect();
    if cli.json {
        printer::json(&serde_json::json!({ what: names }));
    } else if names.is_empty() {
        println!("No node is installed.");
    } else {
        println!("{}: {what}", names.join(", "));
    }
}
