//! The `budgetguard-techops` command: parses arguments, runs one command and
//! turns its outcome into a message and an exit code. The work itself lives in
//! the `budgetguard` library.

mod cli;
mod commands;
mod printer;
mod reporter;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    let json = cli.json;
    match runtime.block_on(commands::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => printer::error(&error, json),
    }
}
