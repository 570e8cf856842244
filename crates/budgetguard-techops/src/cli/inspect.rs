//! `inspect-package`: what a package holds, from its manifest alone.

use budgetguard::package::Package;
use budgetguard::signing::Signer;
use budgetguard::size::human;

use crate::cli::PackageArg;
use crate::context::Context;
use crate::table::{Table, Text};

/// Prints the package's signer, nodes, images, models, sizes and ports.
pub async fn run(ctx: &Context, args: &PackageArg) -> anyhow::Result<()> {
    let http = args.http.options();
    let package = tokio::task::block_in_place(|| Package::open_given_with(&args.package, &http))?;
    let signer = package.signer(&ctx.trusted_keys()?);
    let base = package.manifest().base.as_ref();
    let report = serde_json::json!({
        "package_id": package.id(),
        "signer": signer,
        "base": base.map(|b| &b.package_id),
        "savings": base.map_or(0, |b| b.savings()),
        "manifest": package.manifest(),
    });
    ctx.printer
        .report(&report, |out| text(out, &package, &signer));
    Ok(())
}

fn text(out: &mut Text, package: &Package, signer: &Signer) {
    let manifest = package.manifest();
    out.line(format_args!("Package {}", package.path().display()));
    let mut fields = vec![
        ("package id", package.id().to_string()),
        ("signature", signer.to_string()),
        ("size", human(package.file_size())),
        (
            "made",
            format!(
                "{} by budgetguard-techops {} from {}",
                manifest.created, manifest.tool_version, manifest.source_engine
            ),
        ),
        ("format", manifest.format_version.to_string()),
        ("compression", manifest.compression.to_string()),
        (
            "on install",
            if manifest.start_after_install {
                "nodes start (unless `install-package --no-start`)".to_owned()
            } else {
                "nodes stay stopped (unless `install-package --start`)".to_owned()
            },
        ),
    ];
    if let Some(base) = &manifest.base {
        fields.push(("update of", base.describe()));
        fields.push(("left out", super::create::left_out(base)));
    }
    out.fields(fields);
    out.line("Nodes:");
    let mut nodes =
        Table::new(&["NODE", "PORT", "LISTEN", "VARIANT", "GPU", "IMAGE"]).right_align(1);
    nodes.indent = 2;
    for n in &manifest.nodes {
        let address = n.node.listen_address();
        let listen = match address.is_loopback() {
            true => address.to_string(),
            false => format!("{address} asked (127.0.0.1 unless `--listen`)"),
        };
        nodes.row([
            n.node.name.as_str(),
            &n.node.host_port.to_string(),
            &listen,
            n.node.variant.as_deref().unwrap_or("-"),
            if n.node.gpu { "yes" } else { "no" },
            n.node.image.as_str(),
        ]);
    }
    out.table(&nodes);
    out.line("Images:");
    let mut images = Table::new(&[]);
    images.indent = 2;
    for image in &manifest.images {
        images.row([
            image.references.join(", "),
            image.id.clone(),
            format!("({} layers, {})", image.layers.len(), human(image.size())),
        ]);
    }
    out.table(&images);
    if manifest.caches.is_empty() {
        return;
    }
    out.line("Models (their nodes start offline, without credentials):");
    let mut caches = Table::new(&[]);
    caches.indent = 2;
    for cache in &manifest.caches {
        let users: Vec<&str> = manifest
            .nodes
            .iter()
            .filter(|n| n.model_cache.as_deref() == Some(cache.name.as_str()))
            .map(|n| n.node.name.as_str())
            .collect();
        let profiles: Vec<String> = cache
            .profiles
            .iter()
            .map(|p| match p.gpus.is_empty() {
                true => p.id.clone(),
                false => format!("{} (for {})", p.id, p.gpus.join(", ")),
            })
            .collect();
        caches.row([
            cache.name.clone(),
            format!("{} files, {}", cache.files.len(), human(cache.size())),
            format!("for {}", users.join(", ")),
            if profiles.is_empty() {
                "profiles not known".to_owned()
            } else {
                format!("profiles: {}", profiles.join("; "))
            },
        ]);
    }
    out.table(&caches);
}
