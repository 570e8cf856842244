//! The workstation side: installing packages, deploying nodes directly, and
//! managing what is installed. Everything here is shared by the CLI and the
//! GUI.

mod collect;
mod configure;
mod deploy;
mod dir;
mod error;
mod gpu;
mod health;
mod journal;
mod load;
mod lock;
mod models;
mod nodes;
mod owner;
mod package;
mod preflight;
mod state;

pub use configure::NodeReport;
pub use deploy::{deploy_local, DeployOptions, DeployReport};
pub use dir::InstallDir;
pub use error::{InstallError, Problem};
pub use gpu::{gpu_readiness, GpuFix, GpuReadiness};
pub use journal::UnfinishedRun;
pub use load::ImageOutcome;
pub use models::{model_bytes_to_write, ModelsReport};
pub use nodes::{select, start, start_checked, status, stop, uninstall, NodeStatus};
pub use package::{
    install_package, install_package_with, judge_signature, ImageReport, InstallOptions,
    InstallReport, Listen,
};
pub use preflight::start_problems;
pub use state::{Endpoints, HeldImage, InstalledNode, LoadedImage, LoadedImages};
