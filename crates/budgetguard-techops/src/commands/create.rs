//! `create-install-package`.

use std::sync::Arc;

use budgetguard::engine::RegistryAuth;
use budgetguard::models::ModelStore;
use budgetguard::package::{create_package, CreateOptions, CreateReport, ModelOptions};
use budgetguard::size::human;

use crate::cli::{Cli, CreateArgs};
use crate::printer;
use crate::reporter::TerminalReporter;

/// Makes the package and prints what it holds.
pub async fn run(cli: &Cli, args: &CreateArgs) -> anyhow::Result<()> {
    let nodes = super::load_catalog(cli)?.select(&args.nodes)?;
    let engine = super::connect(cli).await?;
    let options = CreateOptions {
        nodes,
        output: args.output.clone(),
        compression: args.compression,
        force: args.force,
        pull: !args.no_pull,
        auth: RegistryAuth::new(super::ngc_api_key(cli)),
        start_after_install: args.start_after_install,
        models: ModelOptions {
            skip: args.no_models,
            profiles: args.profile.iter().map(|p| split_cache(p)).collect(),
            given: args
                .model_cache
                .iter()
                .map(|d| {
                    let (cache, dir) = split_cache(d);
                    match cache {
                        // A folder whose name has `=` is a folder.
                        Some(_) if std::path::Path::new(d).exists() => (None, d.into()),
                        _ => (cache, dir.into()),
                    }
                })
                .collect(),
            store: ModelStore::default_location(),
            secrets: super::secrets(cli),
        },
    };
    let reporter = Arc::new(TerminalReporter::new(cli.json));
    let cancel = super::cancel_on_ctrl_c();
    let report = create_package(&engine, &options, reporter, &cancel).await?;
    if cli.json {
        printer::json(&report);
    } else {
        print_report(&report);
    }
    Ok(())
}

fn print_report(report: &CreateReport) {
    let manifest = &report.manifest;
    println!("Created {}", report.path.display());
    println!(
        "  size:        {} ({} bytes)",
        human(report.size),
        report.size
    );
    println!("  package id:  {}", report.package_id);
    println!("  compression: {}", manifest.compression);
    for node in &manifest.nodes {
        println!(
            "  node:        {} -> port {} ({})",
            node.node.name, node.node.host_port, node.node.image
        );
    }
    for image in &manifest.images {
        println!(
            "  image:       {} {} ({} layers, {})",
            image.references.join(", "),
            &image.id,
            image.layers.len(),
            human(image.size())
        );
    }
    println!(
        "Install it on a workstation with:\n  budgetguard-techops install-package --package {}",
        report.path.file_name().map_or_else(
            || report.path.display().to_string(),
            |n| n.to_string_lossy().into_owned()
        )
    );
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
