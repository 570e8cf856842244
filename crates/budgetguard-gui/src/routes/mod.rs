//! The routes: pages, the job API, the event stream, installed nodes and
//! the embedded assets, all behind the security checks.

mod assets;
mod events;
mod installed;
mod jobs;
mod pages;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::security;
use crate::state::AppState;

/// Every route, behind the security checks.
pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(pages::index))
        .route("/installed", get(pages::installed))
        .route("/api/events", get(events::stream))
        .route("/api/package", post(jobs::create_package))
        .route("/api/deploy", post(jobs::deploy))
        .route("/api/cancel", post(jobs::cancel))
        .route("/api/installed", get(installed::table))
        .route("/api/installed/start", post(installed::start))
        .route("/api/installed/stop", post(installed::stop))
        .route("/assets/app.css", get(assets::stylesheet))
        .route("/assets/app.js", get(assets::script))
        .layer(middleware::from_fn_with_state(
            Arc::clone(&state),
            security::check,
        ))
        .with_state(state)
}

/// A refusal the page shows as it is: plain text.
fn refuse(status: StatusCode, message: impl Into<String>) -> Response {
    (status, message.into()).into_response()
}
