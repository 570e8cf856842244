//! The file chooser's requests: a folder's entries and the shortcuts, the
//! folder of a chosen file kept as recent, and the packages on removable
//! drives. Behind the same checks as every route.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::pages::{media_list, render};
use super::refuse;
use crate::chooser::{list as list_folder, put_first, shortcuts, Wanted};
use crate::messages::Message;
use crate::saved::Saved;
use crate::state::AppState;

/// A folder to list, for a field that takes `wanted`.
#[derive(Debug, Deserialize)]
pub(crate) struct ListForm {
    /// The folder (or a file in it), as typed; empty: the home folder.
    #[serde(default)]
    folder: String,
    wanted: Wanted,
}

/// A file the user chose.
#[derive(Debug, Deserialize)]
pub(crate) struct ChosenForm {
    path: String,
}

/// `POST /api/files`: the folder's entries and the shortcuts, as JSON
/// (`{folder, parent, entries, note, shortcuts}`); a refusal when the
/// folder cannot be read.
pub(crate) async fn list(
    State(state): State<Arc<AppState>>,
    Json(form): Json<ListForm>,
) -> Response {
    let listed = tokio::task::spawn_blocking(move || {
        let listing = list_folder(&form.folder, form.wanted)?;
        let shortcuts = shortcuts(&state.media, &state.recent);
        Ok::<_, String>((listing, shortcuts))
    })
    .await
    .expect("listing a folder does not panic");
    match listed {
        Ok((listing, shortcuts)) => {
            let mut answer = serde_json::to_value(listing).expect("a listing serializes");
            answer["shortcuts"] = serde_json::to_value(shortcuts).expect("shortcuts serialize");
            Json(answer).into_response()
        }
        Err(text) => refuse(StatusCode::UNPROCESSABLE_ENTITY, Message::new(text)),
    }
}

/// `POST /api/files/chosen`: keeps the chosen file's folder as recent,
/// in the settings file too.
pub(crate) async fn chosen(
    State(state): State<Arc<AppState>>,
    Json(form): Json<ChosenForm>,
) -> Response {
    if let (Some(folder), Some(file)) = (state.recent.chose(&form.path), &state.settings_file) {
        // A recent folder is a convenience: one not written is offered
        // while the GUI runs, and the next run does without it. Put first
        // in the folders the file holds now, so another GUI's stay.
        let _ = Saved::update(file, |saved| put_first(&mut saved.recent_folders, &folder));
    }
    StatusCode::NO_CONTENT.into_response()
}

/// `GET /api/files/media`: the packages on removable drives, as an HTML
/// fragment.
pub(crate) async fn media(State(state): State<Arc<AppState>>) -> Response {
    render(&media_list(&state).await)
}
