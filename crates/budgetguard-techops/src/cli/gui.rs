//! `gui`: serve the TechOps GUI on loopback until Ctrl-C.

use budgetguard_gui::{open_browser, Gui, GuiOptions};

use crate::context::Context;

/// Arguments of `gui`.
#[derive(Debug, clap::Args)]
pub struct GuiArgs {
    /// The port to serve on [default: a free one].
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Print the URL but do not open a browser.
    #[arg(long)]
    pub no_browser: bool,
}

/// Prints the URL (with its per-run token), opens the browser unless told
/// not to, and serves until Ctrl-C.
pub async fn run(ctx: &Context, args: &GuiArgs) -> anyhow::Result<()> {
    let mut options = GuiOptions::new(ctx.catalog()?);
    options.docker_host = ctx.global.docker_host.clone();
    options.auth = ctx.auth();
    options.install_dir = Some(ctx.install_dir()?);
    options.install_dir_given = ctx.global.install_dir.is_some();
    options.port = args.port.unwrap_or(0);
    let gui = Gui::bind(options).await?;
    // Not the URL: its token lets anyone on this machine drive the GUI.
    tracing::info!("serving the GUI");
    ctx.printer.essential(&format!("{}\n", gui.url()));
    ctx.printer
        .note("Serving the TechOps GUI; press Ctrl-C to stop.");
    if !args.no_browser {
        if let Err(e) = open_browser(gui.url()) {
            ctx.printer.warning(format_args!(
                "cannot open a browser ({e}); open the URL above yourself"
            ));
        }
    }
    gui.run(async {
        let signal = crate::context::end_signal().await;
        tracing::info!(signal, "stopping the GUI");
    })
    .await?;
    Ok(())
}
