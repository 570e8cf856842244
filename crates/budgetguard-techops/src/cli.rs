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
}

/// A package argument.
#[derive(Debug, clap::Args)]
pub struct PackageArg {
    /// The package file.
    #[arg(long, value_name = "FILE")]
    pub package: PathBuf,
}
