//! The installed nodes' table for the live refresh, their start, restart
//! and stop buttons, and their logs.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::pages::render;
use super::refuse;
use crate::pages::InstalledTable;
use crate::state::AppState;

/// Which installed node a button is for.
#[derive(Debug, Deserialize)]
pub(crate) struct NodeForm {
    node: String,
}

/// `GET /api/installed`: the table alone.
pub(crate) async fn table(State(state): State<Arc<AppState>>) -> Response {
    render(&InstalledTable {
        installed: state
            .workstation
            .installed(state.workstation.engine().await)
            .await,
        unfinished: state.workstation.unfinished_run(),
    })
}

/// `GET /api/installed/states`: each installed node's state in the page's
/// words and its colour class, as JSON (`{name: [word, class]}`), for the
/// job card of a deploy or an install to follow; `null` when they cannot
/// be listed.
pub(crate) async fn states(State(state): State<Arc<AppState>>) -> Response {
    let installed = state
        .workstation
        .installed(state.workstation.engine().await)
        .await;
    match installed {
        Ok(nodes) => {
            let states: serde_json::Map<_, _> = nodes
                .iter()
                .map(|node| (node.status.name.clone(), serde_json::json!(node.state())))
                .collect();
            Json(states).into_response()
        }
        Err(_) => Json(serde_json::Value::Null).into_response(),
    }
}

/// `POST /api/installed/start`: checks, then starts the node in the
/// background.
pub(crate) async fn start(
    State(state): State<Arc<AppState>>,
    Json(form): Json<NodeForm>,
) -> Response {
    match state
        .workstation
        .start(&form.node, false, &state.stop)
        .await
    {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}

/// `POST /api/installed/restart`: checks, stops, then starts the node in
/// the background.
pub(crate) async fn restart(
    State(state): State<Arc<AppState>>,
    Json(form): Json<NodeForm>,
) -> Response {
    match state.workstation.start(&form.node, true, &state.stop).await {
        Ok(()) => StatusCode::ACCEPTED.into_response(),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}

/// `POST /api/installed/stop`: stops the node.
pub(crate) async fn stop(
    State(state): State<Arc<AppState>>,
    Json(form): Json<NodeForm>,
) -> Response {
    match state.workstation.stop(&form.node).await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}

/// A prompt for Try it.
#[derive(Debug, Deserialize)]
pub(crate) struct TryForm {
    node: String,
    prompt: String,
}

/// `POST /api/installed/try`: sends the prompt to the node and answers its
/// picture as JSON (`{image, seed, took}`; the page shows the image).
pub(crate) async fn try_it(
    State(state): State<Arc<AppState>>,
    Json(form): Json<TryForm>,
) -> Response {
    match state.workstation.try_node(&form.node, &form.prompt).await {
        Ok(tried) => Json(tried).into_response(),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}

/// `POST /api/installed/logs`: the last lines of the node's container log,
/// as JSON (`{node, container, lines}`; the page shows them as text).
pub(crate) async fn logs(
    State(state): State<Arc<AppState>>,
    Json(form): Json<NodeForm>,
) -> Response {
    match state.workstation.logs(&form.node).await {
        Ok(log) => Json(log).into_response(),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}
