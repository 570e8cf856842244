//! The TechOps GUI: a web UI served by `budgetguard-techops gui` on
//! 127.0.0.1, to pick nodes, create a local install package with live
//! progress, publish it to a registry, and install packages and see what
//! this workstation could deploy.
//!
//! Pages are rendered on the server (askama templates in `templates/`); the
//! little script the live parts need is embedded in the binary
//! (`src/assets/`). Every request must come to the server's own address and
//! carry the per-run token of the printed URL (see [`Gui::url`]). The work is
//! done by the `budgetguard` library, which reports the same progress events
//! the CLI's bars show.
//!
//! Imports run one way, each module naming only modules below it: `server`
//! → `routes` → `state` → `security`, `chooser`, `pages` → `workstation` (the one seam
//! to the library's install side) → `jobs` → `paths` → `messages`,
//! `format`, `settings`, `saved`. What two modules share moves down: the create
//! form's values are `settings`, text for people is `format`.
//!
//! ```no_run
//! # async fn run() -> Result<(), budgetguard_gui::GuiError> {
//! use budgetguard::catalog::Catalog;
//! use budgetguard_gui::{Gui, GuiOptions};
//!
//! let gui = Gui::bind(GuiOptions::new(Catalog::builtin())).await?;
//! println!("{}", gui.url());
//! gui.run(async { tokio::signal::ctrl_c().await.ok(); }).await
//! # }
//! ```

mod browser;
mod chooser;
mod error;
mod format;
mod jobs;
mod messages;
mod pages;
mod paths;
mod routes;
mod saved;
mod security;
mod server;
mod settings;
mod state;
mod workstation;

pub use browser::open_browser;
pub use error::GuiError;
pub use server::{Gui, GuiOptions};
