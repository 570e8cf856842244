//! The keys this workstation trusts: add one from its `.pub` file, remove
//! one. Both answer with the box rendered again, or a refusal at the field.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::pages::render;
use super::refuse;
use crate::messages::{Field, Message};
use crate::pages::TrustedKeys;
use crate::paths::expand;
use crate::state::AppState;
use crate::workstation::{make_key_pair, Password};

/// A public key file to trust.
#[derive(Debug, Deserialize)]
pub(crate) struct AddForm {
    path: String,
}

/// A key to stop trusting.
#[derive(Debug, Deserialize)]
pub(crate) struct RemoveForm {
    id: String,
}

/// Where to make a key pair, and its password (typed twice; both empty:
/// none). Never kept.
#[derive(Debug, Deserialize)]
pub(crate) struct KeyPairForm {
    path: String,
    #[serde(default)]
    password: Password,
    #[serde(default)]
    repeated: Password,
}

/// `POST /api/keys/generate`: makes a key pair, as `keygen` does; answers
/// its files and id as JSON.
pub(crate) async fn generate(Json(form): Json<KeyPairForm>) -> Response {
    match make_key_pair(&form.path, form.password, form.repeated).await {
        Ok(made) => Json(made).into_response(),
        Err(message) => refuse(StatusCode::UNPROCESSABLE_ENTITY, message),
    }
}

/// `POST /api/trust/add`: trusts the public key in a `.pub` file.
pub(crate) async fn add(State(state): State<Arc<AppState>>, Json(form): Json<AddForm>) -> Response {
    if form.path.trim().is_empty() {
        return refuse(
            StatusCode::BAD_REQUEST,
            Message::at(Field::TrustKey, "Enter the path of the public key file."),
        );
    }
    let path = expand(&form.path);
    if path.extension().is_none_or(|e| e != "pub") {
        return refuse(
            StatusCode::BAD_REQUEST,
            Message::at(
                Field::TrustKey,
                "The file name must end in .pub: a minisign public key, as `budgetguard-techops keygen` makes it beside the secret key.",
            ),
        );
    }
    let workstation = Arc::clone(&state.workstation);
    let added = tokio::task::spawn_blocking(move || workstation.trust(&path))
        .await
        .expect("trusting a key does not panic");
    match added {
        Ok(_) => listed(&state),
        Err(message) => refuse(StatusCode::UNPROCESSABLE_ENTITY, message),
    }
}

/// `POST /api/trust/remove`: stops trusting a key.
pub(crate) async fn remove(
    State(state): State<Arc<AppState>>,
    Json(form): Json<RemoveForm>,
) -> Response {
    match state.workstation.distrust(&form.id) {
        Ok(()) => listed(&state),
        Err(message) => refuse(StatusCode::CONFLICT, message),
    }
}

/// The box of trusted keys.
fn listed(state: &AppState) -> Response {
    render(&TrustedKeys {
        keys: state.workstation.trusted_keys(),
    })
}
