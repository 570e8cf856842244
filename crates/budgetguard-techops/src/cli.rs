//! The command line: global options, one variant per command with its
//! arguments, and which file does each command's work (`src/cli/<command>.rs`).
//! Completions and the man page are generated from these same definitions.
//!
//! A new command is a variant here, its arguments here, one arm in
//! [`Command::run`], and one file in `src/cli/` calling the library.

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
mod verify;

use std::path::PathBuf;

use budgetguard::package::zip::Compression;
use budgetguard::registry::Platform;
use clap::{ArgAction, Parser, Subcommand, ValueEnum};

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
    CreateInstallPackage(CreateArgs),

    /// Show what a package holds, without reading its images.
    InspectPackage(PackageArg),

    /// Check every entry of a package against its manifest.
    VerifyPackage(PackageArg),

    /// Store the NGC API key and Hugging Face token for the nodes on this workstation.
    InstallCredentials(CredentialsArgs),

    /// Verify a package, load its images and configure its nodes on this workstation.
    InstallPackage(InstallArgs),

    /// Run catalog nodes on this workstation directly, without a package.
    DeployLocal(DeployArgs),

    /// Show the installed nodes, their state and health.
    Status(StatusArgs),

    /// Start installed nodes and wait until they are ready.
    Start(StartArgs),

    /// Stop installed nodes (their containers are kept).
    Stop(NodesArgs),

    /// Remove installed nodes: containers, Compose files, endpoints and unused images.
    Uninstall(UninstallArgs),

    /// Open the TechOps GUI in the browser (served on 127.0.0.1).
    Gui(GuiArgs),

    /// Make a key pair that signs packages (`create-install-package --sign`).
    Keygen(KeygenArgs),

    /// Trust a public key on this workstation: then only packages signed by
    /// a trusted key install.
    TrustKey(TrustKeyArgs),

    /// Print the shell completion script for SHELL on stdout.
    ///
    /// For example: `budgetguard-techops completions bash >
    /// /etc/bash_completion.d/budgetguard-techops`, or `completions zsh` into
    /// a folder of `$fpath` as `_budgetguard-techops`.
    Completions(CompletionsArgs),

    /// Print the man page (roff) on stdout, or write one page per command
    /// into a folder.
    #[command(hide = true)]
    Man(ManArgs),
}

impl Command {
    /// Runs the command.
    pub async fn run(&self, ctx: &Context) -> anyhow::Result<()> {
        match self {
            Command::Catalog => catalog::run(ctx).await,
            Command::CreateInstallPackage(args) => create::run(ctx, args).await,
            Command::InspectPackage(args) => inspect::run(ctx, args).await,
            Command::VerifyPackage(args) => verify::run(ctx, args).await,
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

/// How to compress the package's entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// Stored as they are: the fastest, and every ZIP reader takes it.
    None,
    /// Smaller on compressible layers; every ZIP reader takes it.
    Deflate,
    /// The smallest, but `unzip` and Python before 3.14 cannot read it.
    Zstd,
}

impl From<CompressionArg> for Compression {
    fn from(arg: CompressionArg) -> Self {
        match arg {
            CompressionArg::None => Compression::None,
            CompressionArg::Deflate => Compression::Deflate,
            CompressionArg::Zstd => Compression::Zstd,
        }
    }
}

/// Catalog node names: `--nodes "FLUX Dev,FLUX Canny"` or `--nodes A --nodes B`.
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

/// Arguments of `create-install-package`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// The nodes to package.
    #[command(flatten)]
    pub nodes: NodeNames,

    /// The ZIP file to write.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "install-package.zip"
    )]
    pub output: PathBuf,

    /// How to compress the package.
    #[arg(long, value_name = "METHOD", value_enum, default_value_t = CompressionArg::None)]
    pub compression: CompressionArg,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// Use only images already in the engine; never pull.
    #[arg(long)]
    pub no_pull: bool,

    /// Read the images from their registries, with no Docker engine: layers
    /// stay compressed as served (logins: `NGC_API_KEY` for nvcr.io, else
    /// the user's `docker login`).
    #[arg(long, conflicts_with = "no_pull")]
    pub from_registry: bool,

    /// The platform a multi-platform image resolves to (with
    /// --from-registry), e.g. linux/arm64.
    #[arg(
        long,
        value_name = "OS/ARCH[/VARIANT]",
        default_value = "linux/amd64",
        requires = "from_registry"
    )]
    pub platform: Platform,

    /// How many blobs download at once (with --from-registry).
    #[arg(
        long,
        value_name = "N",
        default_value_t = 4,
        value_parser = clap::value_parser!(u16).range(1..=64),
        requires = "from_registry"
    )]
    pub jobs: u16,

    /// Make an update package of an older package: leave out every layer,
    /// config and model file OLD holds. It installs only where OLD is
    /// installed.
    #[arg(long, value_name = "OLD.zip")]
    pub since: Option<PathBuf>,

    /// Record in the package that its nodes start after install
    /// (`install-package --no-start` still leaves them stopped).
    #[arg(long)]
    pub start_after_install: bool,

    /// Leave the model caches out: the nodes download their models at
    /// first start (needs internet and credentials on the workstation).
    #[arg(long, conflicts_with_all = ["profile", "model_cache"])]
    pub no_models: bool,

    /// A model profile to package (repeatable): `ID` for every model cache
    /// of the nodes, `CACHE=ID` for one [default: the catalog's; see
    /// `list-model-profiles` in the image].
    #[arg(long, value_name = "ID")]
    pub profile: Vec<String>,

    /// A model cache filled beforehand, packaged as it is and never changed:
    /// `DIR`, or `CACHE=DIR` when the nodes use several caches [default:
    /// the tool fills its own caches, in its data folder].
    #[arg(long, value_name = "DIR")]
    pub model_cache: Vec<String>,

    /// Sign the package with this secret key (see `keygen`); its password
    /// comes from `BUDGETGUARD_KEY_PASSWORD` or a hidden prompt.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// Arguments of `keygen`.
#[derive(Debug, clap::Args)]
pub struct KeygenArgs {
    /// The secret key file to write; the public key goes beside it as
    /// `<file>.pub`. Neither may exist.
    #[arg(long, short, value_name = "FILE")]
    pub output: PathBuf,

    /// Leave the secret key without a password (anyone who can read the
    /// file can sign) [default: a password from `BUDGETGUARD_KEY_PASSWORD`
    /// or a hidden prompt].
    #[arg(long)]
    pub no_password: bool,
}

/// Arguments of `trust-key`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["key", "list", "remove"])))]
pub struct TrustKeyArgs {
    /// The public key file to trust (`<key>.pub` from `keygen`).
    #[arg(value_name = "KEY.pub")]
    pub key: Option<PathBuf>,

    /// List the trusted keys.
    #[arg(long)]
    pub list: bool,

    /// Stop trusting the key with this id.
    #[arg(long, value_name = "KEY_ID")]
    pub remove: Option<String>,
}

/// A package argument.
#[derive(Debug, clap::Args)]
pub struct PackageArg {
    /// The package file.
    #[arg(long, value_name = "FILE")]
    pub package: PathBuf,
}

/// Arguments of `install-credentials`.
#[derive(Debug, clap::Args)]
pub struct CredentialsArgs {
    /// Read `NGC_API_KEY=…` and `HF_TOKEN=…` lines from standard input.
    #[arg(long, conflicts_with = "from_env")]
    pub stdin: bool,

    /// Take them from the environment variables NGC_API_KEY and HF_TOKEN.
    #[arg(long)]
    pub from_env: bool,
}

/// Arguments of `install-package`.
#[derive(Debug, clap::Args)]
pub struct InstallArgs {
    /// The package file.
    #[arg(long, value_name = "FILE")]
    pub package: PathBuf,

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
}

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

/// Arguments of `gui`.
#[derive(Debug, clap::Args)]
pub struct GuiArgs {
    /// The port to serve on [default: a free one].
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Print the URL but do not open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `budgetguard-techops.1` and one page per command
    /// (`budgetguard-techops-<command>.1`) into this folder instead.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_definitions_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
