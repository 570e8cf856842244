//! Starting and cancelling the one job: a package build or a deploy.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use budgetguard::package::zip::Compression;
use budgetguard::package::CreateOptions;
use serde::Deserialize;

use super::refuse;
use crate::jobs::{Busy, JobKind};
use crate::state::AppState;
use budgetguard::error_text;

/// The package form.
#[derive(Debug, Deserialize)]
pub(crate) struct PackageForm {
    nodes: Vec<String>,
    output: String,
    compression: Compression,
    #[serde(default)]
    force: bool,
    #[serde(default)]
    no_pull: bool,
}

/// The deploy form.
#[derive(Debug, Deserialize)]
pub(crate) struct DeployForm {
    nodes: Vec<String>,
    #[serde(default)]
    start: bool,
}

/// `POST /api/package`: starts a package build; the library checks the
/// output path when the job starts, as on the CLI.
pub(crate) async fn create_package(
    State(state): State<Arc<AppState>>,
    Json(form): Json<PackageForm>,
) -> Response {
    let nodes = match state
        .catalog
        .select_names(form.nodes.iter().map(String::as_str))
    {
        Ok(nodes) => nodes,
        Err(e) => return refuse(StatusCode::BAD_REQUEST, error_text(&e)),
    };
    let output = form.output.trim();
    if output.is_empty() {
        return refuse(StatusCode::BAD_REQUEST, "Enter the output file.");
    }
    let options = CreateOptions {
        nodes,
        output: PathBuf::from(output),
        compression: form.compression,
        force: form.force,
        pull: !form.no_pull,
        auth: state.workstation.auth().clone(),
        start_after_install: false,
        models: state.workstation.model_options(),
    };
    let workstation = Arc::clone(&state.workstation);
    started(
        state
            .jobs
            .start(JobKind::Package, |reporter, cancel| async move {
                workstation.create_package(options, reporter, cancel).await
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
        Err(e) => return refuse(StatusCode::BAD_REQUEST, error_text(&e)),
    };
    let capabilities = state.workstation.capabilities().await;
    let reasons: Vec<String> = capabilities
        .blocker()
        .into_iter()
        .chain(
            nodes
                .iter()
                .filter_map(|node| capabilities.node_blocker(node)),
        )
        .collect();
    if !reasons.is_empty() {
        return refuse(StatusCode::CONFLICT, reasons.join("\n"));
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

/// `POST /api/cancel`: cancels the running job.
pub(crate) async fn cancel(State(state): State<Arc<AppState>>) -> Response {
    if state.jobs.cancel() {
        StatusCode::ACCEPTED.into_response()
    } else {
        refuse(StatusCode::CONFLICT, "Nothing is running.")
    }
}

fn started(result: Result<(), Busy>) -> Response {
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(busy) => refuse(StatusCode::CONFLICT, busy.message()),
    }
}
