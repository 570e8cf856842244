//! `publish-package`: a package into an OCI registry, where workstations
//! install it from with `install-package --package oci://…`.

use std::path::PathBuf;
use std::sync::Arc;

use budgetguard::package::oci::{publish_package, OciAddress, PublishOptions, PublishReport};
use budgetguard::package::Package;
use budgetguard::registry::{ClientOptions, RegistryAuth};
use budgetguard::size::human;

use crate::context::Context;
use crate::table::Text;

/// Arguments of `publish-package`.
#[derive(Debug, clap::Args)]
pub struct PublishArgs {
    /// The package file, or a part of a split package (the others beside
    /// it; repeat --package for parts in several folders).
    #[arg(long, value_name = "FILE", required = true)]
    pub package: Vec<PathBuf>,

    /// Where to publish it: registry/repository:tag, e.g.
    /// registry.studio.lan/budgetguard/flux:2026-12 (`oci://` may lead).
    /// Its images go to repositories under it. Logins are Docker's
    /// (`docker login`).
    #[arg(long, value_name = "REFERENCE")]
    pub to: String,

    /// Blobs sent to the registry at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=32))]
    pub jobs: u16,
}

/// Publishes the package and prints where it went.
pub async fn run(ctx: &Context, args: &PublishArgs) -> anyhow::Result<()> {
    let to = OciAddress::parse(&args.to)?;
    let package = Arc::new(tokio::task::block_in_place(|| {
        Package::open_given(&args.package)
    })?);
    let options = PublishOptions {
        to,
        jobs: usize::from(args.jobs),
        client: ClientOptions::default(),
    };
    let cancel = ctx.cancel_on_ctrl_c();
    let report = publish_package(
        package.clone(),
        &options,
        RegistryAuth::new(None),
        ctx.reporter(),
        &cancel,
    )
    .await?;
    ctx.printer
        .report(&report, |out| text(out, &report, &package));
    Ok(())
}

fn text(out: &mut Text, report: &PublishReport, package: &Package) {
    out.line(format_args!(
        "Published {} to {}",
        package.path().display(),
        report.address
    ));
    let mut fields = vec![("package id", report.package_id.clone())];
    for image in &report.images {
        fields.push((
            "image",
            format!("{} as {}", image.reference, image.published),
        ));
    }
    fields.push((
        "blobs",
        format!(
            "{} uploaded ({}), {} already there, {} mounted",
            report.uploaded,
            human(report.uploaded_bytes),
            report.present,
            report.mounted
        ),
    ));
    fields.push((
        "install with",
        format!(
            "budgetguard-techops install-package --package {}",
            report.address
        ),
    ));
    out.fields(fields);
}
