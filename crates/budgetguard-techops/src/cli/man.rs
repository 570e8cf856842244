//! `man` (hidden): the man pages, from the same definitions clap parses with.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory;

use crate::cli::Cli;
use crate::context::Context;

/// Arguments of `man`.
#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `budgetguard-techops.1` and one page per command
    /// (`budgetguard-techops-<command>.1`) into this folder instead.
    #[arg(long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Prints the main page on stdout, or writes every page into `--output`.
pub async fn run(ctx: &Context, args: &ManArgs) -> anyhow::Result<()> {
    let command = Cli::command();
    match &args.output {
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command)
                .render(&mut page)
                .context("cannot render the man page")?;
            ctx.printer.essential(&String::from_utf8_lossy(&page));
        }
        Some(dir) => {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("cannot create `{}`", dir.display()))?;
            clap_mangen::generate_to(command, dir)
                .with_context(|| format!("cannot write the man pages into `{}`", dir.display()))?;
            ctx.printer
                .note(format_args!("Wrote the man pages into {}", dir.display()));
        }
    }
    Ok(())
}
