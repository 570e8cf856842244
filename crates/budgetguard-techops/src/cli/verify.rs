//! `verify-package`: every entry against the manifest.

use budgetguard::package::Package;
use budgetguard::signing::Signer;
use budgetguard::size::human;

use crate::cli::PackageArg;
use crate::context::Context;
use crate::printer::Hinted;

/// Checks the signature, then reads the whole package; the first mismatch
/// is the error.
pub async fn run(ctx: &Context, args: &PackageArg) -> anyhow::Result<()> {
    let http = args.http.options();
    let package = tokio::task::block_in_place(|| Package::open_given_with(&args.package, &http))?;
    // A signature that no longer matches says the most: checked first.
    let trusted = ctx.trusted_keys()?;
    let signer = package.signer(&trusted);
    if let Signer::Invalid { key_id } = &signer {
        return Err(Hinted::new(
            format!("the package's signature by key {key_id} does not match its manifest: it was altered after it was signed"),
            "do not install it; make a new package",
        )
        .into());
    }
    let parts_signer = package.parts_signer(&trusted)?;
    let cancel = ctx.cancel_on_ctrl_c();
    let reporter = ctx.reporter();
    let report = tokio::task::block_in_place(|| package.verify(reporter.as_ref(), &cancel))?;
    let json = serde_json::json!({
        "package_id": package.id(),
        "verified": report,
        "signer": signer,
        "parts_signer": parts_signer,
    });
    ctx.printer.report(&json, |out| {
        out.line(format_args!(
            "{}: OK ({} entries, {} checked; {signer})",
            package.path().display(),
            report.entries,
            human(report.bytes)
        ));
        out.line(format_args!("package id {}", package.id()));
        if let Some(signer) = &parts_signer {
            out.line(format_args!("part list: {signer}"));
        }
    });
    Ok(())
}
