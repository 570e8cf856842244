//! `verify-package`: every entry against the manifest.

use budgetguard::package::Package;
use budgetguard::size::human;

use crate::cli::PackageArg;
use crate::context::Context;

/// Reads the whole package; the first mismatch is the error.
pub async fn run(ctx: &Context, args: &PackageArg) -> anyhow::Result<()> {
    let package = Package::open(&args.package)?;
    let cancel = ctx.cancel_on_ctrl_c();
    let reporter = ctx.reporter();
    let report = tokio::task::block_in_place(|| package.verify(reporter.as_ref(), &cancel))?;
    ctx.printer.report(&report, |out| {
        out.line(format_args!(
            "{}: OK ({} entries, {} checked)",
            args.package.display(),
            report.entries,
            human(report.bytes)
        ))
    });
    Ok(())
}
