//! `deploy-local`.

use std::sync::Arc;
use std::time::Duration;

use budgetguard::engine::RegistryAuth;
use budgetguard::install::{deploy_local, DeployOptions};

use crate::cli::{Cli, DeployArgs};
use crate::printer;
use crate::reporter::TerminalReporter;

/// Deploys catalog nodes here and prints what it did.
pub async fn run(cli: &Cli, args: &DeployArgs) -> anyhow::Result<()> {
    let nodes = super::load_catalog(cli)?.select(&args.nodes)?;
    let engine = super::connect(cli).await?;
    let options = DeployOptions {
        nodes,
        dir: super::install_dir(cli)?,
        start: args.start,
        wait: Duration::from_secs(args.wait),
        pull: !args.no_pull,
        auth: RegistryAuth::new(super::ngc_api_key(cli)),
        listen: args.listen,
    };
    let reporter = Arc::new(TerminalReporter::new(cli.json));
    let cancel = super::cancel_on_ctrl_c();
    let report = deploy_local(&engine, &options, reporter, &cancel).await?;
    if cli.json {
        printer::json(&report);
    } else {
        super::install::print_nodes(&report.nodes);
    }
    Ok(())
}
