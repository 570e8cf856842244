//! One module per command; each wires library calls to the printer.

mod catalog;
mod create;
mod credentials;
mod deploy;
mod gui;
mod inspect;
mod install;
mod nodes;
mod verify;

use budgetguard::catalog::Catalog;
use budgetguard::credentials::Credentials;
use budgetguard::engine::Engine;
use budgetguard::install::InstallDir;

use crate::cli::{Cli, Command};

/// Runs the command `cli` names.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match &cli.command {
        Command::Catalog => catalog::run(&load_catalog(&cli)?, cli.json),
        Command::CreateInstallPackage(args) => create::run(&cli, args).await,
        Command::InspectPackage(args) => inspect::run(&args.package, cli.json),
        Command::VerifyPackage(args) => verify::run(&args.package, cli.json).await,
        Command::InstallCredentials(args) => credentials::run(&cli, args),
        Command::InstallPackage(args) => install::run(&cli, args).await,
        Command::DeployLocal(args) => deploy::run(&cli, args).await,
        Command::Status => nodes::status(&cli).await,
        Command::Start(args) => nodes::start(&cli, args).await,
        Command::Stop(args) => nodes::stop(&cli, args).await,
        Command::Uninstall(args) => nodes::uninstall(&cli, args).await,
        Command::Gui(args) => gui::run(&cli, args).await,
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

/// The install folder: `--install-dir` or the user's data folder.
fn install_dir(cli: &Cli) -> anyhow::Result<InstallDir> {
    match &cli.install_dir {
        Some(dir) => Ok(InstallDir::new(std::path::absolute(dir)?)),
        None => InstallDir::default_location()
            .ok_or_else(|| anyhow::anyhow!("no home folder to install into; pass `--install-dir`")),
    }
}

/// The credentials: `NGC_API_KEY` and `HF_TOKEN` from the environment,
/// else the stored ones.
fn secrets(cli: &Cli) -> Credentials {
    install_dir(cli)
        .ok()
        .and_then(|dir| Credentials::load(&dir.credentials_file()).ok())
        .unwrap_or_default()
        .with_environment()
}

/// The NGC API key: `NGC_API_KEY`, else the stored credentials.
fn ngc_api_key(cli: &Cli) -> Option<String> {
    secrets(cli).ngc_api_key
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
