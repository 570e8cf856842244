//! Starting and cancelling the one job: a package build, a deploy, an
//! install, a verify, an uninstall, a copy or a publication.

use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use budgetguard::error_text;
use budgetguard::package::oci::OciAddress;
use serde::Deserialize;

use super::events::finished_data;
use super::pages::{job_list, render};
use super::{refuse, started, ServerForm};
use crate::jobs::{JobKind, Outcome};
use crate::messages::{Field, Message};
use crate::pages::package_files;
use crate::paths::{expand, package_file, package_given, Given};
use crate::saved::Saved;
use crate::settings::PackageSettings;
use crate::state::AppState;
use crate::workstation::{
    copy_package, engine_needed, matching_public_key, open_key, Draft, Password, Workstation,
};

/// The package form: the nodes, the form's settings and the signing key's
/// password (which is not a setting: it is never kept).
#[derive(Debug, Deserialize)]
pub(crate) struct PackageForm {
    nodes: Vec<String>,
    #[serde(flatten)]
    settings: PackageSettings,
    #[serde(default)]
    password: Password,
}

/// The deploy form.
#[derive(Debug, Deserialize)]
pub(crate) struct DeployForm {
    nodes: Vec<String>,
    #[serde(default)]
    start: bool,
}

/// A package, for verify (a file) and install (a file, or an address read
/// as `server` says).
#[derive(Debug, Deserialize)]
pub(crate) struct PackageFileForm {
    path: String,
    #[serde(flatten)]
    server: ServerForm,
    /// `package` (as the package says), `start` or `stop`.
    #[serde(default)]
    start: Option<String>,
    /// Whether the user consents to publish the nodes on the network.
    #[serde(default)]
    publish: bool,
}

/// An installed node to uninstall.
#[derive(Debug, Deserialize)]
pub(crate) struct UninstallForm {
    node: String,
    #[serde(default)]
    purge_cache: bool,
}

/// `POST /api/package`: starts a package build, unless a field has a
/// problem or the options need Docker and it does not answer; the library
/// checks the output path again when the job starts, as on the CLI.
pub(crate) async fn create_package(
    State(state): State<Arc<AppState>>,
    Json(form): Json<PackageForm>,
) -> Response {
    *state.settings.lock().expect("not poisoned") = form.settings.clone();
    let nodes = match state
        .catalog
        .select_names(form.nodes.iter().map(String::as_str))
    {
        Ok(nodes) => nodes,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Message::at(Field::Nodes, error_text(&e)),
            )
        }
    };
    let mut options = match state.workstation.draft(nodes, &form.settings) {
        Ok(Draft { problems, .. }) if !problems.is_empty() => {
            return refuse(StatusCode::BAD_REQUEST, problems[0].clone())
        }
        Ok(draft) => draft.options,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    if options.needs_engine() {
        if let Err(down) = state.workstation.engine().await {
            return refuse(StatusCode::CONFLICT, engine_needed(&options, &down));
        }
    }
    options.sign = match open_key(&form.settings.sign_key, form.password).await {
        Ok(key) => key.map(Arc::new),
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    // The public key beside the secret one, as a key pair is made, when it
    // is that key's.
    let public_key = options
        .sign
        .as_ref()
        .and_then(|key| matching_public_key(&expand(&form.settings.sign_key), &key.id()));
    let workstation = Arc::clone(&state.workstation);
    started(
        state
            .jobs
            .start(JobKind::Package, |reporter, cancel| async move {
                workstation
                    .create_package(options, public_key, reporter, cancel)
                    .await
            }),
    )
}

/// `POST /api/deploy`: deploys nodes here, unless this machine cannot run
/// them (the same reasons the page shows).
pub(crate) async fn deploy(
    State(state): State<Arc<AppState>>,
    Json(form): Json<DeployForm>,
) -> Response {
    let nodes = match state
        .catalog
        .select_names(form.nodes.iter().map(String::as_str))
    {
        Ok(nodes) => nodes,
        Err(e) => {
            return refuse(
                StatusCode::BAD_REQUEST,
                Message::at(Field::Nodes, error_text(&e)),
            )
        }
    };
    let capabilities = state.workstation.capabilities().await;
    if let Some(reason) = capabilities.blocker() {
        return refuse(StatusCode::CONFLICT, Message::new(reason));
    }
    let workstation = Arc::clone(&state.workstation);
    started(
        state
            .jobs
            .start(JobKind::Deploy, |reporter, cancel| async move {
                workstation
                    .deploy(nodes, form.start, reporter, cancel)
                    .await
            }),
    )
}

/// `POST /api/install`: installs a package here.
pub(crate) async fn install(
    State(state): State<Arc<AppState>>,
    Json(form): Json<PackageFileForm>,
) -> Response {
    *state.install_path.lock().expect("not poisoned") = form.path.clone();
    let given = match package_given(&form.path, Field::Package) {
        Ok(given) => given,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    // A package on a server is checked when the job opens it.
    let problem = match &given {
        Given::File(path) => match std::fs::metadata(path) {
            Ok(meta) => budgetguard::files::kind(meta.file_type())
                .map(|kind| format!("`{}` is {kind}, not a package file", path.display())),
            Err(_) => Some(format!("There is no file `{}`", path.display())),
        },
        Given::Address(_) => None,
    };
    if let Some(problem) = problem {
        return refuse(
            StatusCode::BAD_REQUEST,
            Message::at(Field::Package, format!("{problem}: check the path.")),
        );
    }
    let start = match form.start.as_deref() {
        Some("start") => Some(true),
        Some("stop") => Some(false),
        _ => None,
    };
    let workstation = Arc::clone(&state.workstation);
    let http = form.server.options();
    started(
        state
            .jobs
            .start(JobKind::Install, |reporter, cancel| async move {
                workstation
                    .install((given, http), (start, form.publish), reporter, cancel)
                    .await
            }),
    )
}

/// `POST /api/verify`: reads a package's every entry against its manifest.
pub(crate) async fn verify(
    State(state): State<Arc<AppState>>,
    Json(form): Json<PackageFileForm>,
) -> Response {
    let path = match package_file(&form.path, Field::Package) {
        Ok(path) => path,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    started(state.jobs.start(JobKind::Verify, |reporter, cancel| {
        Workstation::verify(path, reporter, cancel)
    }))
}

/// `POST /api/installed/uninstall`: removes an installed node.
pub(crate) async fn uninstall(
    State(state): State<Arc<AppState>>,
    Json(form): Json<UninstallForm>,
) -> Response {
    if state.workstation.starting(&form.node) {
        return refuse(
            StatusCode::CONFLICT,
            Message::new(format!(
                "“{}” is starting: wait until it is ready (or has failed), then uninstall it.",
                form.node.trim()
            )),
        );
    }
    let workstation = Arc::clone(&state.workstation);
    started(
        state
            .jobs
            .start(JobKind::Uninstall, |reporter, cancel| async move {
                workstation
                    .uninstall(form.node, form.purge_cache, reporter, cancel)
                    .await
            }),
    )
}

/// Where to copy the package a Create made.
#[derive(Debug, Deserialize)]
pub(crate) struct CopyForm {
    /// The Create job's number, in the job list.
    job: u64,
    folder: String,
}

/// `POST /api/copy`: copies the package a Create made (its parts, and the
/// public key of a signed one) to a folder, then checks the copy.
pub(crate) async fn copy(
    State(state): State<Arc<AppState>>,
    Json(form): Json<CopyForm>,
) -> Response {
    let field = |text: &str| {
        refuse(
            StatusCode::BAD_REQUEST,
            Message::at(Field::CopyFolder, text),
        )
    };
    if form.folder.trim().is_empty() {
        return field("Enter the folder to copy to, or press Browse… to choose it.");
    }
    let Some(created) = state.jobs.ended_job(form.job) else {
        return refuse(
            StatusCode::NOT_FOUND,
            Message::new("This package is no longer in the job list: copy the file yourself."),
        );
    };
    let Outcome::Created(report, public_key) = &created.outcome else {
        return refuse(
            StatusCode::BAD_REQUEST,
            Message::new("Only a package Create made can be copied here."),
        );
    };
    let mut files = package_files(report);
    files.extend(public_key.iter().filter(|key| key.is_file()).cloned());
    let folder = expand(&form.folder);
    started(state.jobs.start(JobKind::Copy, |reporter, cancel| {
        copy_package(files, folder, reporter, cancel)
    }))
}

/// A package to publish, and where.
#[derive(Debug, Deserialize)]
pub(crate) struct PublishForm {
    /// The package file (or the first part of one in parts).
    path: String,
    /// The registry reference, `registry/repository:tag`.
    to: String,
}

/// `POST /api/publish`: publishes a package to a registry, unless the
/// reference is no registry's (said at its field); a reference that is
/// one is kept for next time.
pub(crate) async fn publish(
    State(state): State<Arc<AppState>>,
    Json(form): Json<PublishForm>,
) -> Response {
    let field = |text: String| refuse(StatusCode::BAD_REQUEST, Message::at(Field::PublishTo, text));
    let typed = form.to.trim();
    if typed.is_empty() {
        return field(
            "Enter where to publish the package: registry/repository:tag, e.g. registry.studio.lan/budgetguard/flux:2026-12.".to_owned(),
        );
    }
    let to = match OciAddress::parse(typed) {
        Ok(to) => to,
        Err(e) => return field(error_text(&e)),
    };
    let path = match package_file(&form.path, Field::Package) {
        Ok(path) => path,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    *state.publish_to.lock().expect("not poisoned") = typed.to_owned();
    if let Some(file) = &state.settings_file {
        // A convenience: the reference is proposed again next time.
        let _ = Saved::update(file, |saved| saved.publish_to = Some(typed.to_owned()));
    }
    let workstation = Arc::clone(&state.workstation);
    started(
        state
            .jobs
            .start(JobKind::Publish, |reporter, cancel| async move {
                workstation.publish(path, to, reporter, cancel).await
            }),
    )
}

/// Which ended job to show.
#[derive(Debug, Deserialize)]
pub(crate) struct ShowQuery {
    id: u64,
}

/// `GET /api/jobs`: the job list, as an HTML fragment.
pub(crate) async fn list(State(state): State<Arc<AppState>>) -> Response {
    render(&job_list(&state))
}

/// `GET /api/jobs/show?id=N`: a job the list keeps, as the `finished`
/// event gives it (JSON), for its card.
pub(crate) async fn show(
    State(state): State<Arc<AppState>>,
    Query(query): Query<ShowQuery>,
) -> Response {
    match state.jobs.ended_job(query.id) {
        Some(finished) => Json(finished_data(&finished)).into_response(),
        None => refuse(
            StatusCode::NOT_FOUND,
            Message::new("This job is no longer in the list: only the last ten are kept."),
        ),
    }
}

/// `POST /api/cancel`: cancels the running job.
pub(crate) async fn cancel(State(state): State<Arc<AppState>>) -> Response {
    if state.jobs.cancel() {
        StatusCode::ACCEPTED.into_response()
    } else {
        refuse(StatusCode::CONFLICT, Message::new("Nothing is running."))
    }
}
