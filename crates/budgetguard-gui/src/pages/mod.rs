//! The pages and fragments the server renders: askama templates in
//! `templates/`, filled from the view structs here. Askama escapes every
//! value for HTML: text from a package (node names, image references,
//! paths) never becomes markup. Message text from the library is shown
//! through the `quotes` filter (its `` `quoted` `` spans in typographic
//! quotes); every other value (a path in a field, a command) as it is.

mod views;

/// The templates' own filters.
mod filters {
    /// Message text with its `` `quoted` `` spans in typographic quotes
    /// (see [`crate::format::quotes`]).
    #[askama::filter_fn]
    pub(crate) fn quotes(
        text: impl std::fmt::Display,
        _: &dyn askama::Values,
    ) -> askama::Result<String> {
        Ok(crate::format::quotes(&text.to_string()))
    }
}

pub(crate) use views::{
    package_files, reported_state, CreatedView, EngineBadge, InstalledOutcome, JobEntry, JobPanel,
    NodeRow,
};

use askama::Template;
use budgetguard::install::InstallReport;
use budgetguard::package::oci::PublishReport;
use budgetguard::package::VerifyReport;

use crate::chooser::MediaFolder;
use crate::messages::Message;
use crate::settings::PackageSettings;
use crate::workstation::{Activity, Inspection, Installed, NodeModel, PackageFile};

/// Which page is shown, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Page {
    /// Nodes and packages: TechOps' side.
    Nodes,
    /// Installing a package: the workstation's side.
    Install,
    /// Installed nodes.
    Installed,
}

/// What every page has: the token for links and script, the engine badge
/// and the job card.
#[derive(Debug)]
pub(crate) struct Layout {
    /// This run's token.
    pub token: String,
    /// The page shown.
    pub page: Page,
    /// The engine's state.
    pub engine: EngineBadge,
    /// The running or last job.
    pub job: JobPanel,
    /// The running job and the last ones that ended.
    pub jobs: JobList,
}

/// The job list alone: the page's script fetches it again when a job
/// starts or ends.
#[derive(Debug, Template)]
#[template(path = "job_list.html")]
pub(crate) struct JobList {
    /// The running job, then the last ones that ended, newest first.
    pub entries: Vec<JobEntry>,
}

/// The main page: the catalog, the package form, the packages made,
/// deploying here.
#[derive(Debug, Template)]
#[template(path = "index.html")]
pub(crate) struct IndexPage {
    /// Shared parts.
    pub layout: Layout,
    /// The catalog's nodes.
    pub nodes: Vec<NodeRow>,
    /// The create form's values, as last used.
    pub settings: PackageSettings,
    /// Why nothing can be deployed here, if so.
    pub deploy_blocker: Option<String>,
}

/// Installing a package on this workstation.
#[derive(Debug, Template)]
#[template(path = "install.html")]
pub(crate) struct InstallPage {
    /// Shared parts.
    pub layout: Layout,
    /// The package path, as last used.
    pub package_path: String,
    /// Why nothing can be installed here, if so.
    pub blocker: Option<String>,
    /// The keys this workstation trusts.
    pub trusted: TrustedKeys,
    /// The packages on removable drives.
    pub media: MediaList,
    /// Where nodes are installed.
    pub folder: InstallFolder,
}

/// The install folder and its free space, alone: the page's script gets it
/// again once the folder is changed.
#[derive(Debug, Template)]
#[template(path = "install_folder.html")]
pub(crate) struct InstallFolder {
    /// The folder, or why there is none.
    pub root: Result<String, String>,
    /// Its free space, in words.
    pub space: String,
}

/// The packages found on removable drives, alone: the page's script
/// fetches it again on Refresh.
#[derive(Debug, Template)]
#[template(path = "media.html")]
pub(crate) struct MediaList {
    /// Whether any drive is mounted.
    pub drives: bool,
    /// The folders holding packages.
    pub folders: Vec<MediaFolder>,
}

/// The keys this workstation trusts, alone: the page's script fetches it
/// again after adding or removing one.
#[derive(Debug, Template)]
#[template(path = "trusted_keys.html")]
pub(crate) struct TrustedKeys {
    /// Their ids, or why they cannot be read.
    pub keys: Result<Vec<String>, Message>,
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
    /// A run in the install folder that did not finish, said as `status`
    /// says it.
    pub unfinished: Option<String>,
}

/// The packages of the output folder.
#[derive(Debug, Template)]
#[template(path = "packages.html")]
pub(crate) struct PackageList {
    /// The folder.
    pub folder: String,
    /// Its packages, or why it cannot be listed.
    pub packages: Result<Vec<PackageFile>, String>,
}

/// What a package holds, and Install when `install` (on the Install page).
#[derive(Debug, Template)]
#[template(path = "inspection.html")]
pub(crate) struct InspectionView {
    /// The package.
    pub view: Inspection,
    /// Whether to offer installing it (else publishing it).
    pub install: bool,
    /// The registry reference last published to, proposed again.
    pub publish_to: String,
}

/// How the last job ended: the fragment under the progress bar.
#[derive(Debug, Template)]
#[template(path = "outcome.html")]
pub(crate) enum OutcomeView {
    /// A package was written.
    #[template(block = "created")]
    Created {
        /// What it holds.
        view: Box<CreatedView>,
        /// How long it took.
        elapsed: String,
    },
    /// Nodes were deployed.
    #[template(block = "deployed")]
    Deployed {
        /// What was done per node.
        nodes: Vec<budgetguard::install::NodeReport>,
        /// What the GPU test container found, when a node needs a GPU.
        gpu: Option<String>,
        /// How long it took.
        elapsed: String,
    },
    /// A package was installed.
    #[template(block = "installed")]
    Installed {
        /// What the install did.
        report: Box<InstallReport>,
        /// Its models, GPU fit and signer, in words.
        view: InstalledOutcome,
        /// How long it took.
        elapsed: String,
    },
    /// A package was verified.
    #[template(block = "verified")]
    Verified {
        /// What was checked.
        report: VerifyReport,
        /// The bytes checked.
        bytes: String,
        /// How long it took.
        elapsed: String,
    },
    /// A package was copied to a folder, and the copy checked.
    #[template(block = "copied")]
    Copied {
        /// The folder.
        folder: String,
        /// The files written there.
        files: Vec<String>,
        /// The copy's entries checked.
        entries: usize,
        /// Their bytes.
        bytes: String,
        /// How long it took.
        elapsed: String,
    },
    /// A package was published to a registry.
    #[template(block = "published")]
    Published {
        /// What the publication did.
        report: Box<PublishReport>,
        /// The bytes uploaded, for people.
        uploaded: String,
        /// The command that installs it from the registry.
        command: String,
        /// How long it took.
        elapsed: String,
    },
    /// Nodes were uninstalled.
    #[template(block = "uninstalled")]
    Uninstalled {
        /// Their names.
        nodes: Vec<String>,
        /// Whether their model caches were deleted.
        purged: bool,
    },
    /// The job failed.
    #[template(block = "failed")]
    Failed {
        /// Why, in the GUI's words.
        message: Message,
    },
    /// The job was cancelled.
    #[template(block = "cancelled")]
    Cancelled {
        /// What is left.
        message: String,
    },
}
