//! `create-install-package`.

use std::path::PathBuf;
use std::sync::Arc;

use budgetguard::models::{CacheFolder, ProfileChoice};
use budgetguard::package::split::{list_name, PartSize};
use budgetguard::package::zip::Compression;
use budgetguard::package::{
    create_package, source_date_epoch, CreateOptions, CreateReport, ModelOptions, RegistrySource,
};
use budgetguard::registry::Platform;
use budgetguard::signing::SigningKey;
use budgetguard::size::human;

use clap::ValueEnum;

use crate::cli::NodeNames;
use crate::context::Context;
use crate::table::Text;

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

    /// Write the package as parts of at most SIZE (FILE.001, FILE.002, …,
    /// with their list FILE.parts), e.g. 4095MiB for a FAT32 drive;
    /// joined with `cat` they are the package.
    #[arg(long, value_name = "SIZE")]
    pub split_size: Option<PartSize>,

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
    pub profile: Vec<ProfileChoice>,

    /// A model cache filled beforehand, packaged as it is and never changed:
    /// `DIR`, or `CACHE=DIR` when the nodes use several caches [default:
    /// the tool fills its own caches, in its data folder].
    #[arg(long, value_name = "DIR")]
    pub model_cache: Vec<CacheFolder>,

    /// Sign the package with this secret key (see `keygen`); its password
    /// comes from `BUDGETGUARD_KEY_PASSWORD` or a hidden prompt.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
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

/// Makes the package and prints what it holds.
pub async fn run(ctx: &Context, args: &CreateArgs) -> anyhow::Result<()> {
    let options = CreateOptions {
        nodes: ctx.nodes(&args.nodes)?,
        output: args.output.clone(),
        compression: args.compression.into(),
        force: args.force,
        pull: !args.no_pull,
        auth: ctx.auth(),
        start_after_install: args.start_after_install,
        models: ModelOptions {
            skip: args.no_models,
            profiles: args.profile.clone(),
            given: args.model_cache.clone(),
            store: ctx.session.model_store().cloned(),
            secrets: ctx.secrets(),
        },
        sign: match &args.sign {
            Some(path) => Some(Arc::new(open_key(path)?)),
            None => None,
        },
        from_registry: args.from_registry.then(|| RegistrySource {
            platform: args.platform.clone(),
            jobs: args.jobs.into(),
        }),
        since: args.since.clone(),
        created: source_date_epoch()?,
        split: args.split_size,
    };
    // Images from their registries need no engine, unless a model cache
    // must be filled or listed with an image's tools.
    let engine = match options.needs_engine() {
        true => Some(ctx.engine().await?),
        false => None,
    };
    let cancel = ctx.cancel_on_ctrl_c();
    let report = create_package(engine.as_ref(), &options, ctx.reporter(), &cancel).await?;
    ctx.printer.report(&report, |out| text(out, &report));
    Ok(())
}

fn text(out: &mut Text, report: &CreateReport) {
    let manifest = &report.manifest;
    match &report.parts {
        Some(parts) => out.line(format_args!(
            "Created {} in {} parts",
            report.path.display(),
            parts.count()
        )),
        None => out.line(format_args!("Created {}", report.path.display())),
    }
    let mut fields = vec![
        (
            "size",
            format!("{} ({} bytes)", human(report.size), report.size),
        ),
        ("package id", report.package_id.to_string()),
        (
            "signed by",
            report
                .signed_by
                .as_ref()
                .map_or_else(|| "nobody (unsigned)".to_owned(), |id| format!("key {id}")),
        ),
        ("compression", manifest.compression.to_string()),
        ("images from", manifest.source_engine.clone()),
    ];
    if let Some(base) = &manifest.base {
        fields.push(("update of", base.describe()));
        fields.push(("left out", left_out(base)));
    }
    for node in &manifest.nodes {
        fields.push((
            "node",
            format!(
                "{} -> port {} ({})",
                node.node.name, node.node.host_port, node.node.image
            ),
        ));
    }
    for image in &manifest.images {
        fields.push((
            "image",
            format!(
                "{} {} ({} layers, {})",
                image.references.join(", "),
                image.id,
                image.layers.len(),
                human(image.size())
            ),
        ));
    }
    out.fields(fields);
    let mut file = report.path.file_name().map_or_else(
        || report.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if let Some(parts) = &report.parts {
        let list = report.path.with_file_name(list_name(&parts.package));
        super::split::parts_fields(out, list.display().to_string(), parts);
        file = parts.parts[0].name.clone();
    }
    out.line("Install it on a workstation with:");
    out.line(format_args!(
        "  budgetguard-techops install-package --package {file}"
    ));
}

/// What an update package leaves out, for people.
pub(super) fn left_out(base: &budgetguard::package::manifest::PackageBase) -> String {
    format!(
        "{} blobs and {} model files, {} (the base holds them)",
        base.blobs.len(),
        base.model_files.len(),
        human(base.savings())
    )
}

/// Opens the signing key at `path`, asking for its password (from
/// `BUDGETGUARD_KEY_PASSWORD`, else a hidden prompt) when it has one.
pub(super) fn open_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    match SigningKey::open(path, None) {
        Err(budgetguard::signing::SigningError::NeedsPassword { .. }) => {
            Ok(SigningKey::open(path, Some(super::keys::password(false)?))?)
        }
        other => Ok(other?),
    }
}
