//! `split-package`: an existing package written into parts beside it.

use std::path::PathBuf;

use budgetguard::package::split::{split_package, PartList, PartSize, SplitReport};
use budgetguard::size::human;

use crate::context::Context;
use crate::table::Text;

/// Arguments of `split-package`.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// The package to split; it stays as it is.
    #[arg(long, value_name = "FILE")]
    pub package: PathBuf,

    /// The largest part, e.g. 4095MiB for a FAT32 drive, 700MB, 7MiB.
    #[arg(long, value_name = "SIZE")]
    pub size: PartSize,

    /// Replace parts of the package that exist.
    #[arg(long)]
    pub force: bool,

    /// Sign the part list with this secret key (see `keygen`), as
    /// `create-install-package --sign` does; its password comes from
    /// `BUDGETGUARD_KEY_PASSWORD` or a hidden prompt.
    #[arg(long, value_name = "KEY")]
    pub sign: Option<PathBuf>,
}

/// Splits the package and prints its parts.
pub async fn run(ctx: &Context, args: &SplitArgs) -> anyhow::Result<()> {
    let key = args
        .sign
        .as_deref()
        .map(super::create::open_key)
        .transpose()?;
    let cancel = ctx.cancel_on_ctrl_c();
    let reporter = ctx.reporter();
    let report = tokio::task::block_in_place(|| {
        split_package(
            &args.package,
            args.size,
            args.force,
            key.as_ref(),
            reporter.as_ref(),
            &cancel,
        )
    })?;
    ctx.printer.report(&report, |out| text(out, &report));
    Ok(())
}

fn text(out: &mut Text, report: &SplitReport) {
    out.line(format_args!(
        "Split {} into {} parts",
        report.package.display(),
        report.parts.count()
    ));
    parts_fields(out, report.list.display().to_string(), &report.parts);
    out.fields([("package id", report.package_id.clone())]);
}

/// The fields that list a split package's parts, with their list at `list`.
pub(super) fn parts_fields(out: &mut Text, list: String, parts: &PartList) {
    let mut fields = Vec::with_capacity(parts.count() + 1);
    for part in &parts.parts {
        fields.push(("part", format!("{} ({})", part.name, human(part.size))));
    }
    fields.push(("part list", list));
    out.fields(fields);
}
