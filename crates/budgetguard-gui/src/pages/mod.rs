//! The pages and fragments the server renders: askama templates in
//! `templates/`, filled from the view structs here. Askama escapes every
//! value for HTML.

mod format;
mod views;

pub(crate) use format::duration;
pub(crate) use views::{state_class, CreatedView, EngineBadge, JobPanel, NodeRow};

use askama::Template;

use crate::workstation::{Activity, Installed};

/// Which page is shown, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// Nodes, package and deploy.
    Nodes,
    /// Installed nodes.
    Installed,
}

/// What every page has: the token for links and script, and the engine badge.
#[derive(Debug)]
pub(crate) struct Layout {
    /// This run's token.
    pub token: String,
    /// The page shown.
    pub page: Page,
    /// The engine's state.
    pub engine: EngineBadge,
}

/// The main page: the catalog, the package form, deploying here, the job.
#[derive(Debug, Template)]
#[template(path = "index.html")]
pub(crate) struct IndexPage {
    /// Shared parts.
    pub layout: Layout,
    /// The catalog's nodes.
    pub nodes: Vec<NodeRow>,
    /// The output file proposed.
    pub default_output: String,
    /// Why nothing can be deployed here, if so.
    pub deploy_blocker: Option<String>,
    /// The running or last job.
    pub job: JobPanel,
}

/// The installed nodes, refreshed live.
#[derive(Debug, Template)]
#[template(path = "installed.html")]
pub(crate) struct InstalledPage {
    /// Shared parts.
    pub layout: Layout,
    /// The nodes' table.
    pub table: InstalledTable,
}

/// The installed nodes' table, alone: the page's script fetches it again
/// every few seconds.
#[derive(Debug, Template)]
#[template(path = "installed_table.html")]
pub(crate) struct InstalledTable {
    /// The nodes, or why they cannot be listed.
    pub installed: Installed,
}

/// How the last job ended: the fragment under the progress bar.
#[derive(Debug, Template)]
#[template(path = "outcome.html")]
pub(crate) enum OutcomeView {
    /// A package was written.
    #[template(block = "created")]
    Created {
        /// What it holds.
        view: CreatedView,
        /// How long it took.
        elapsed: String,
    },
    /// Nodes were deployed.
    #[template(block = "deployed")]
    Deployed {
        /// What was done per node.
        nodes: Vec<budgetguard::install::NodeReport>,
        /// How long it took.
        elapsed: String,
    },
    /// The job failed.
    #[template(block = "failed")]
    Failed {
        /// What failed.
        title: &'static str,
        /// The error, in the CLI's words.
        message: String,
    },
    /// The job was cancelled.
    #[template(block = "cancelled")]
    Cancelled {
        /// What the library says.
        message: String,
    },
}
