//! Command-line arguments.

use std::path::PathBuf;

use budgetguard::package::zip::Compression;
use clap::{Parser, Subcommand};

/// Create and install offline packages of NVIDIA NIM containers.
#[derive(Debug, Parser)]
#[command(name = "budgetguard-techops", version, about, long_about = None)]
pub struct Cli {
    /// Print a machine-readable JSON report on stdout instead of text.
    #[arg(long, global = true)]
    pub json: bool,

    /// A catalog file adding or overriding nodes
    /// [default: catalog.json in the user's configuration folder].
    #[arg(long, global = true, env = "BUDGETGUARD_CATALOG", value_name = "FILE")]
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
        value_name = "DIR"
    )]
    pub install_dir: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
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
    Status,

    /// Start installed nodes and wait until they are ready.
    Start(StartArgs),

    /// Stop installed nodes (their containers are kept).
    Stop(NodesArgs),

    /// Remove installed nodes: containers, Compose files, endpoints and unused images.
    Uninstall(UninstallArgs),

    /// Open the TechOps GUI in the browser (served on 127.0.0.1).
    Gui(GuiArgs),
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
    /// studio network (a NIM has no authentication) [default: each node's
    /// own, 127.0.0.1 unless the package says otherwise].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<std::net::IpAddr>,
}

/// Arguments of `deploy-local`.
#[derive(Debug, clap::Args)]
pub struct DeployArgs {
    /// Comma-separated node names (see `catalog`).
    #[arg(long, value_name = "NAMES")]
    pub nodes: String,

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

/// Arguments of `create-install-package`.
#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Comma-separated node names, e.g. "FLUX Dev,FLUX Canny" (see `catalog`).
    #[arg(long, value_name = "NAMES")]
    pub nodes: String,

    /// The ZIP file to write.
    #[arg(
        long,
        short,
        value_name = "FILE",
        default_value = "install-package.zip"
    )]
    pub output: PathBuf,

    /// How to compress the package: none is fastest; deflate is smaller on
    /// compressible layers; zstd is smallest but `unzip` cannot read it.
    #[arg(long, value_name = "METHOD", default_value = "none")]
    pub compression: Compression,

    /// Replace the output file if it exists.
    #[arg(long)]
    pub force: bool,

    /// Use only images already in the engine; never pull.
    #[arg(long)]
    pub no_pull: bool,

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
}

/// A package argument.
#[derive(Debug, clap::Args)]
pub struct PackageArg {
    /// The package file.
    #[arg(long, value_name = "FILE")]
    pub package: PathBuf,
}
