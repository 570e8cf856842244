//! **Publish to registry**: a package put into an OCI registry, as
//! `publish-package` does, where workstations install it from with its
//! `oci://` address. Logins are this machine's Docker logins.

use std::path::PathBuf;
use std::sync::Arc;

use budgetguard::package::oci::{publish_package, OciAddress, PublishOptions};
use budgetguard::package::Package;
use budgetguard::progress::SharedReporter;
use budgetguard::registry::ClientOptions;
use budgetguard::Cancel;

use super::Workstation;
use crate::jobs::Outcome;
use crate::messages::publish_error;

/// Blobs sent at once, as `publish-package` sends them by default.
const JOBS: usize = 4;

impl Workstation {
    /// Publishes the package at `path` (a file, or the first part of one in
    /// parts) to `to`.
    pub(crate) async fn publish(
        &self,
        path: PathBuf,
        to: OciAddress,
        reporter: SharedReporter,
        cancel: Cancel,
    ) -> Outcome {
        let auth = self.session().auth();
        let published = async {
            let package = tokio::task::spawn_blocking(move || {
                Package::open_given(std::slice::from_ref(&path))
            })
            .await
            .expect("opening a package does not panic")?;
            let options = PublishOptions {
                to,
                jobs: JOBS,
                client: ClientOptions::default(),
            };
            // Awaited to its end, so that a cancelled one is said only once
            // it stopped (the tag is put last: nothing was tagged then).
            publish_package(Arc::new(package), &options, auth, reporter, &cancel).await
        }
        .await;
        match published {
            Ok(report) => Outcome::Published(Box::new(report)),
            Err(_) if cancel.is_cancelled() => Outcome::Cancelled(
                "Cancelled: nothing was tagged in the registry. Publish again to finish: what was sent is not sent again.".to_owned(),
            ),
            Err(e) => Outcome::Failed(publish_error(&e)),
        }
    }
}
