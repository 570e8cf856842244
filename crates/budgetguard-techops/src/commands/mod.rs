//! One module per command; each wires library calls to the printer.

mod catalog;
mod create;
mod inspect;
mod verify;

use budgetguard::catalog::Catalog;
use budgetguard::engine::Engine;

use crate::cli::{Cli, Command};

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Catalog => catalog::run(&load_catalog(&cli)?, cli.json),
        Command::CreateInstallPackage(args) => create::run(&cli, args).await,
        Command::InspectPackage(args) => inspect::run(&args.package, cli.json),
        Command::VerifyPackage(args) => verify::run(&args.package, cli.json).await,
    }
}

/// The catalog: built-in nodes plus the `--catalog` file or the default one.
fn load_catalog(cli: &Cli) -> anyhow::Result<Catalog> {
    let catalog = match &cli.catalog {
        Some(path) => Catalog::load(Some(path), true)?,
        None => Catalog::load(Catalog::default_path().as_deref(), false)?,
    };
    Ok(catalog)
}

/// Connects to the engine `--docker-host` or `DOCKER_HOST` names.
async fn connect(cli: &Cli) -> anyhow::Result<Engine> {
    Ok(Engine::connect(cli.docker_host.as_deref()).await?)
}

/// A cancellation token cancelled by Ctrl-C.
fn cancel_on_ctrl_c() -> budgetguard::Cancel {
    let cancel = budgetguard::Cancel::new();
    let token = cancel.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            token.cancel();
        }
    });
    cancel
}
