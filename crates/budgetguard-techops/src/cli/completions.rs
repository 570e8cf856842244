//! `completions SHELL`: the shell completion script, from the same
//! definitions clap parses with.

use clap::CommandFactory;

use crate::cli::{Cli, CompletionsArgs};
use crate::context::Context;

/// Prints the completion script for the shell on stdout.
pub async fn run(_ctx: &Context, args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    clap_complete::generate(args.shell, &mut command, name, &mut std::io::stdout());
    Ok(())
}
