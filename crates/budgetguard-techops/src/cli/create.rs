//! `create-install-package`.

use std::sync::Arc;

use budgetguard::models::ModelStore;
use budgetguard::package::{
    create_package, source_date_epoch, CreateOptions, CreateReport, ModelOptions, RegistrySource,
};
use budgetguard::signing::SigningKey;
use budgetguard::size::human;

use crate::cli::CreateArgs;
use crate::context::Context;
use crate::table::Text;

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
            profiles: args.profile.iter().map(|p| split_cache(p)).collect(),
            given: args
                .model_cache
                .iter()
                .map(|d| match split_cache(d) {
                    // A folder whose name has `=` in it is a folder.
                    (Some(_), _) if std::path::Path::new(d).exists() => (None, d.into()),
                    (cache, dir) => (cache, dir.into()),
                })
                .collect(),
            store: ModelStore::default_location(),
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
    out.line(format_args!("Created {}", report.path.display()));
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
    let file = report.path.file_name().map_or_else(
        || report.path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
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
fn open_key(path: &std::path::Path) -> anyhow::Result<SigningKey> {
    match SigningKey::open(path, None) {
        Err(budgetguard::signing::SigningError::NeedsPassword { .. }) => {
            Ok(SigningKey::open(path, Some(super::keys::password(false)?))?)
        }
        other => Ok(other?),
    }
}

/// `cache=value` as `(Some(cache), value)` when the part before `=` is a
/// cache name; anything else as `(None, text)`.
fn split_cache(text: &str) -> (Option<String>, String) {
    match text.split_once('=') {
        Some((cache, value))
            if !cache.is_empty()
                && cache
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            (Some(cache.to_owned()), value.to_owned())
        }
        _ => (None, text.to_owned()),
    }
}
