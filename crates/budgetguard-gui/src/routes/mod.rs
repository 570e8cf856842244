//! The routes: pages, the job API, the event stream, packages, installed
//! nodes, trusted keys and the embedded assets, all behind the security
//! checks (the token everywhere but on the assets, the server's own Host
//! and Origin).

mod assets;
mod events;
mod files;
mod folder;
mod installed;
mod jobs;
mod packages;
mod pages;
mod trust;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use budgetguard::package::http::HttpOptions;
use serde::Deserialize;

use crate::jobs::Busy;
use crate::messages::Message;
use crate::paths::http_options;
use crate::security;
use crate::state::AppState;

/// Every route, behind the security checks.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/install", get(pages::install))
        .route("/installed", get(pages::installed))
        .route("/api/events", get(events::stream))
        .route("/api/package", post(jobs::create_package))
        .route("/api/package/settings", post(packages::save_settings))
        .route("/api/package/estimate", post(packages::estimate))
        .route("/api/models", get(pages::models))
        .route("/api/packages", post(packages::list))
        .route("/api/inspect", post(packages::inspect))
        .route("/api/verify", post(jobs::verify))
        .route("/api/install", post(jobs::install))
        .route("/api/deploy", post(jobs::deploy))
        .route("/api/cancel", post(jobs::cancel))
        .route("/api/copy", post(jobs::copy))
        .route("/api/publish", post(jobs::publish))
        .route("/api/jobs", get(jobs::list))
        .route("/api/install-dir", post(folder::change))
        .route("/api/files", post(files::list))
        .route("/api/files/chosen", post(files::chosen))
        .route("/api/files/media", get(files::media))
        .route("/api/jobs/show", get(jobs::show))
        .route("/api/installed", get(installed::table))
        .route("/api/installed/start", post(installed::start))
        .route("/api/installed/restart", post(installed::restart))
        .route("/api/installed/stop", post(installed::stop))
        .route("/api/installed/uninstall", post(jobs::uninstall))
        .route("/api/installed/logs", post(installed::logs))
        .route("/api/installed/states", get(installed::states))
        .route("/api/engine", get(pages::engine_state))
        .route("/api/nodes/availability", get(pages::availability))
        .route("/api/installed/try", post(installed::try_it))
        .route("/api/trust/add", post(trust::add))
        .route("/api/keys/generate", post(trust::generate))
        .route("/api/trust/remove", post(trust::remove))
        .route("/assets/app.css", get(assets::stylesheet))
        .route("/assets/app.js", get(assets::script))
        .layer(middleware::from_fn_with_state(
            state.guard.clone(),
            security::check,
        ))
        .with_state(state)
}

/// How a package given by its address is read, as the Install page's
/// fields say: the token file's path comes with each request and is never
/// kept.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ServerForm {
    /// Plain HTTP to another machine is allowed.
    #[serde(default)]
    allow_http: bool,
    /// The file holding the server's bearer token; empty: none.
    #[serde(default)]
    token_file: String,
}

impl ServerForm {
    /// The library's options for these fields.
    fn options(&self) -> HttpOptions {
        http_options(self.allow_http, &self.token_file)
    }
}

/// A refusal the page shows beside the field it concerns, or under the
/// form: the [`Message`] as JSON.
fn refuse(status: StatusCode, message: Message) -> Response {
    (status, Json(message)).into_response()
}

/// The answer to a job request: accepted, or refused because one runs.
fn started(result: Result<(), Busy>) -> Response {
    match result {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(busy) => refuse(StatusCode::CONFLICT, Message::new(busy.message())),
    }
}
