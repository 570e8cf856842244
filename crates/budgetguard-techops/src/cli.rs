//! The command line: global options, the command list and the arguments
//! several commands share. Each command's own arguments live beside its
//! body in `src/cli/<command>.rs`. Completions and the man page are
//! generated from these same definitions.
//!
//! A new command is a variant here, one arm in [`Command::run`], and one
//! file in `src/cli/` holding its arguments and calling the library.

mod catalog;
mod completions;
mod create;
mod credentials;
mod deploy;
mod gui;
mod inspect;
mod install;
mod keys;
mod man;
mod nodes;
mod publish;
mod split;
mod verify;

use std::path::PathBuf;

use clap::{ArgAction, Parser, Subcommand};

use crate::context::Context;

/// Create and install offline packages of NVIDIA NIM containers.
#[derive(Debug, Parser)]
#[command(name = "budgetguard-techops", version, about, long_about = None)]
pub struct Cli {
    /// Options every command takes.
    #[command(flatten)]
    pub global: GlobalArgs,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes, shown apart in each command's help.
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// Print nothing but errors (and the JSON report with --json).
    #[arg(long, short, global = true, conflicts_with = "verbose")]
    pub quiet: bool,

    /// Show what the tool does on stderr: engine calls and decisions (-vv:
    /// every detail). The log file always holds them.
    #[arg(long, short, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// A catalog file adding or overriding nodes
    /// [default: catalog.json in the user's configuration folder].
    #[arg(
        long,
        global = true,
        env = "BUDGETGUARD_CATALOG",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub catalog: Option<PathBuf>,

    /// The Docker engine to use [default: DOCKER_HOST, else unix:///var/run/docker.sock].
    #[arg(long, global = true, value_name = "URL")]
    pub docker_host: Option<String>,

    /// The folder installed nodes live in
    /// [default: the user's data folder, e.g. ~/.local/share/budgetguard-techops].
    #[arg(
        long,
        global = true,
        env = "BUDGETGUARD_INSTALL_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub install_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// List the nodes that can be packaged.
    Catalog,

    /// Package nodes' images, Compose files and install scripts into one ZIP.
    CreateInstallPackage(create::CreateArgs),

    /// Show what a package holds, without reading its images.
    InspectPackage(PackageArg),

    /// Check every entry of a package against its manifest.
    VerifyPackage(PackageArg),

    /// Write an existing package into parts of at most a size (e.g. for a
    /// FAT32 drive); joined with `cat` they are the package again.
    SplitPackage(split::SplitArgs),

    /// Publish a package to an OCI registry (its images as ordinary images),
    /// for workstations to install with `--package oci://…`.
    PublishPackage(publish::PublishArgs),

    /// Store the NGC API key and Hugging Face token for the nodes on this workstation.
    InstallCredentials(credentials::CredentialsArgs),

    /// Verify a package, load its images and configure its nodes on this workstation.
    InstallPackage(install::InstallArgs),

    /// Run catalog nodes on this workstation directly, without a package.
    DeployLocal(deploy::DeployArgs),

    /// Show the installed nodes, their state and health.
    Status(nodes::StatusArgs),

    /// Start installed nodes and wait until they are ready.
    Start(nodes::StartArgs),

    /// Stop installed nodes (their containers are kept).
    Stop(nodes::NodesArgs),

    /// Remove installed nodes: containers, Compose files, endpoints and unused images.
    Uninstall(nodes::UninstallArgs),

    /// Open the TechOps GUI in the browser (served on 127.0.0.1).
    Gui(gui::GuiArgs),

    /// Make a key pair that signs packages (`create-install-package --sign`).
    Keygen(keys::KeygenArgs),

    /// Trust a public key on this workstation: then only packages signed by
    /// a trusted key install.
    TrustKey(keys::TrustKeyArgs),

    /// Print the shell completion script for SHELL on stdout.
    ///
    /// For example: `budgetguard-techops completions bash >
    /// /etc/bash_completion.d/budgetguard-techops`, or `completions zsh` into
    /// a folder of `$fpath` as `_budgetguard-techops`.
    Completions(completions::CompletionsArgs),

    /// Print the man page (roff) on stdout, or write one page per command
    /// into a folder.
    #[command(hide = true)]
    Man(man::ManArgs),
}

impl Command {
    /// Runs the command.
    pub async fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            Command::Catalog => catalog::run(ctx).await,
            Command::CreateInstallPackage(args) => create::run(ctx, args).await,
            Command::InspectPackage(args) => inspect::run(ctx, args).await,
            Command::VerifyPackage(args) => verify::run(ctx, args).await,
            Command::SplitPackage(args) => split::run(ctx, args).await,
            Command::PublishPackage(args) => publish::run(ctx, args).await,
            Command::InstallCredentials(args) => credentials::run(ctx, args).await,
            Command::InstallPackage(args) => install::run(ctx, args).await,
            Command::DeployLocal(args) => deploy::run(ctx, args).await,
            Command::Status(args) => nodes::status(ctx, args).await,
            Command::Start(args) => nodes::start(ctx, args).await,
            Command::Stop(args) => nodes::stop(ctx, args).await,
            Command::Uninstall(args) => nodes::uninstall(ctx, args).await,
            Command::Gui(args) => gui::run(ctx, args).await,
            Command::Keygen(args) => keys::keygen(ctx, args).await,
            Command::TrustKey(args) => keys::trust(ctx, args).await,
            Command::Completions(args) => completions::run(ctx, args).await,
            Command::Man(args) => man::run(ctx, args).await,
        }
    }
}

/// Catalog node names (`create-install-package`, `deploy-local`): `--nodes "FLUX Dev,FLUX Canny"` or `--nodes A --nodes B`.
#[derive(Debug, clap::Args)]
pub struct NodeNames {
    /// Comma-separated node names, e.g. "FLUX Dev,FLUX Canny" (see `catalog`).
    #[arg(
        long = "nodes",
        value_name = "NAMES",
        value_delimiter = ',',
        required = true
    )]
    pub names: Vec<String>,
}

/// A package argument (`inspect-package`, `verify-package`).
#[derive(Debug, clap::Args)]
pub struct PackageArg {
    /// The package file, or a part of a split package (the others beside
    /// it; repeat --package for parts in several folders), or its https://
    /// URL on a server that answers range requests, or
    /// oci://registry/repository:tag where it was published.
    #[arg(long, value_name = "FILE|URL", required = true)]
    pub package: Vec<PathBuf>,

    #[command(flatten)]
    pub http: HttpArgs,
}

/// How a package given by URL is read.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpArgs {
    /// Read a package over plain http:// from another machine (only on a
    /// network you trust; this machine's http:// needs no option).
    #[arg(long)]
    pub allow_http: bool,

    /// Send the bearer token in this file to the package's server [default:
    /// the server's login in ~/.netrc, if any].
    #[arg(long, value_name = "FILE", conflicts_with = "token_env")]
    pub token_file: Option<PathBuf>,

    /// Send the bearer token in this environment variable to the package's
    /// server.
    #[arg(long, value_name = "VAR")]
    pub token_env: Option<String>,

    /// Range requests at once to a package's server: above 1, pieces of a
    /// long entry download side by side (4 MiB of memory each), for
    /// servers that cap each connection (object stores).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub jobs: u16,
}

impl HttpArgs {
    /// The library's options for these arguments.
    pub fn options(&self) -> budgetguard::package::http::HttpOptions {
        use budgetguard::package::http::{HttpOptions, TokenSource};
        HttpOptions {
            allow_http: self.allow_http,
            token: match (&self.token_file, &self.token_env) {
                (Some(file), _) => Some(TokenSource::File(file.clone())),
                (None, Some(name)) => Some(TokenSource::Env(name.clone())),
                (None, None) => None,
            },
            jobs: usize::from(self.jobs),
            ..HttpOptions::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
