//! `gui`: serve the TechOps GUI on loopback until Ctrl-C.

use budgetguard::engine::RegistryAuth;
use budgetguard_gui::{open_browser, Gui, GuiOptions};

use crate::cli::{Cli, GuiArgs};

/// Prints the URL (with its per-run token), opens the browser unless told
/// not to, and serves until Ctrl-C.
pub async fn run(cli: &Cli, args: &GuiArgs) -> anyhow::Result<()> {
    let mut options = GuiOptions::new(super::load_catalog(cli)?);
    options.docker_host = cli.docker_host.clone();
    options.auth = RegistryAuth::new(super::ngc_api_key(cli));
    options.install_dir = Some(super::install_dir(cli)?);
    options.port = args.port.unwrap_or(0);
    let gui = Gui::bind(options).await?;
    println!("{}", gui.url());
    eprintln!("Serving the TechOps GUI; press Ctrl-C to stop.");
    if !args.no_browser {
        if let Err(e) = open_browser(gui.url()) {
            eprintln!("warning: cannot open a browser ({e}); open the URL above yourself");
        }
    }
    gui.run(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
