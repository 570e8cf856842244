//! The install folder, shown and changed on the Install page: the change
//! is kept in the settings file, so the next run installs there too.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::Json;
use serde::Deserialize;

use super::pages::render;
use super::refuse;
use crate::messages::{Field, Message};
use crate::pages::InstallFolder;
use crate::paths::expand;
use crate::saved::Saved;
use crate::state::AppState;
use crate::workstation::install_space;

/// The folder to install into from now on.
#[derive(Debug, Deserialize)]
pub(crate) struct FolderForm {
    path: String,
}

/// The install folder as it stands, with its free space.
pub(crate) fn install_folder(state: &AppState) -> InstallFolder {
    match state.workstation.dir() {
        Ok(dir) => InstallFolder {
            space: install_space(dir.root(), 0).0,
            root: Ok(dir.root().display().to_string()),
        },
        Err(unavailable) => InstallFolder {
            root: Err(unavailable.to_string()),
            space: String::new(),
        },
    }
}

/// `POST /api/install-dir`: installs into another folder from now on (made
/// if missing), kept in the settings file; answers the box again.
pub(crate) async fn change(
    State(state): State<Arc<AppState>>,
    Json(form): Json<FolderForm>,
) -> Response {
    let refused = |text: String| {
        refuse(
            StatusCode::BAD_REQUEST,
            Message::at(Field::InstallDir, text),
        )
    };
    if form.path.trim().is_empty() {
        return refused("Enter the folder to install into.".to_owned());
    }
    let folder = expand(&form.path);
    if folder.exists() && !folder.is_dir() {
        return refused(format!(
            "“{}” is a file, not a folder: choose a folder.",
            folder.display()
        ));
    }
    if let Err(e) = std::fs::create_dir_all(&folder) {
        return refused(format!(
            "Cannot make the folder “{}” ({e}): choose a folder you can write to.",
            folder.display()
        ));
    }
    state.workstation.set_install_dir(folder.clone());
    if let Some(file) = &state.settings_file {
        if let Err(e) = Saved::update(file, |saved| saved.install_dir = Some(folder)) {
            return refuse(
                StatusCode::INTERNAL_SERVER_ERROR,
                Message::at(
                    Field::InstallDir,
                    format!(
                        "Nodes go in the new folder while the GUI runs, but the setting could not be written to “{}” ({e}): the next run installs in the old folder.",
                        file.display()
                    ),
                ),
            );
        }
    }
    render(&install_folder(&state))
}
