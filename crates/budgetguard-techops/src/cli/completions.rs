//! `completions SHELL`: the shell completion script, from the same
//! definitions clap parses with.

use clap::CommandFactory;

use crate::cli::Cli;
use crate::context::Context;

/// Arguments of `completions`.
#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete in.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// Prints the completion script for the shell on stdout.
pub async fn run(ctx: &Context, args: &CompletionsArgs) -> anyhow::Result<()> {
    let mut command = Cli::command();
    let name = command.get_name().to_owned();
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut command, name, &mut script);
    ctx.printer.essential(&String::from_utf8_lossy(&script));
    Ok(())
}
