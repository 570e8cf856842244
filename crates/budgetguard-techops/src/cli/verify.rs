//! `verify-package`: every entry against the manifest.

use std::path::Path;

use budgetguard::package::Package;
use budgetguard::size::human;

use crate::printer;
use crate::reporter::TerminalReporter;

/// Reads the whole package; the first mismatch is the error.
pub async fn run(path: &Path, json: bool) -> anyhow::Result<()> {
    let package = Package::open(path)?;
    let cancel = super::cancel_on_ctrl_c();
    let reporter = TerminalReporter::new(json);
    let report = tokio::task::block_in_place(|| package.verify(&reporter, &cancel));
    let report = report?;
    if json {
        printer::json(&report);
    } else {
        println!(
            "{}: OK ({} entries, {} checked)",
            path.display(),
            report.entries,
            human(report.bytes)
        );
    }
    Ok(())
}
