//! The create form's helpers (its saved settings, the size estimate) and
//! package files: the list of the output folder, and Inspect.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::pages::{answering, render};
use super::refuse;
use crate::messages::Field;
use crate::pages::{InspectionView, PackageList};
use crate::paths::{expand, zip_file};
use crate::state::{AppState, PackageSettings};
use crate::workstation::{image_size, key_note, list_packages, Estimate, Inspection};

/// The selection and the create form's settings, for the estimate.
#[derive(Debug, Deserialize)]
pub(crate) struct EstimateForm {
    nodes: Vec<String>,
    #[serde(flatten)]
    settings: PackageSettings,
}

/// The output file whose folder to list.
#[derive(Debug, Deserialize)]
pub(crate) struct FolderForm {
    output: String,
}

/// A package to inspect; `install`: for the Install page.
#[derive(Debug, Deserialize)]
pub(crate) struct InspectForm {
    path: String,
    #[serde(default)]
    install: bool,
}

/// `POST /api/package/settings`: keeps the create form's values for the
/// next page load.
pub(crate) async fn save_settings(
    State(state): State<Arc<AppState>>,
    Json(settings): Json<PackageSettings>,
) -> Response {
    *state.settings.lock().expect("not poisoned") = settings;
    StatusCode::NO_CONTENT.into_response()
}

/// `POST /api/package/estimate`: the selection's package size against the
/// free space of the output folder, as JSON.
pub(crate) async fn estimate(
    State(state): State<Arc<AppState>>,
    Json(form): Json<EstimateForm>,
) -> Response {
    let settings = form.settings;
    let output = match zip_file(&settings.output, Field::Output) {
        Ok(output) => output,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let engine = state.workstation.engine().await;
    let nodes: Vec<_> = form
        .nodes
        .iter()
        .filter_map(|name| state.catalog.get(name).ok().cloned())
        .collect();
    let mut images = Vec::new();
    for node in &nodes {
        images.push((
            node.image.clone(),
            image_size(answering(&engine), node).await,
        ));
    }
    let models = state
        .workstation
        .model_options(&nodes, settings.models, &settings.profiles);
    let (options, profiles_problem) = match models {
        Ok(options) => (options, None),
        // The estimate without the profiles typed, and why they are refused.
        Err(message) => (
            state
                .workstation
                .model_options(&nodes, settings.models, "")
                .unwrap_or_default(),
            Some(message),
        ),
    };
    let (mut estimate, note) = tokio::task::spawn_blocking(move || {
        let sizes = budgetguard::package::estimate(&nodes, &images, &options);
        let estimate = Estimate::new(&sizes, settings.models, &output, settings.force);
        (estimate, key_note(&settings.sign_key))
    })
    .await
    .expect("estimating does not panic");
    if let Some(message) = profiles_problem {
        estimate.problem(message);
    }
    match note {
        Ok(note) => estimate.signature = note,
        Err(message) => {
            estimate.signature = "Cannot sign with this key".to_owned();
            estimate.problem(message);
        }
    }
    Json(estimate).into_response()
}

/// `POST /api/packages`: the packages in the output file's folder, as an
/// HTML fragment.
pub(crate) async fn list(Json(form): Json<FolderForm>) -> Response {
    let output = expand(&form.output);
    let folder = output
        .parent()
        .map(std::path::Path::to_path_buf)
        .unwrap_or(output);
    let shown = folder.display().to_string();
    let packages = tokio::task::spawn_blocking(move || list_packages(&folder))
        .await
        .expect("listing does not panic");
    render(&PackageList {
        folder: shown,
        packages,
    })
}

/// `POST /api/inspect`: what a package holds, as an HTML fragment; a
/// refusal (JSON) when it cannot be read.
pub(crate) async fn inspect(
    State(state): State<Arc<AppState>>,
    Json(form): Json<InspectForm>,
) -> Response {
    if form.install {
        *state.install_path.lock().expect("not poisoned") = form.path.clone();
    }
    let path = match zip_file(&form.path, Field::Package) {
        Ok(path) => path,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let engine = state.workstation.engine().await;
    let dir = state.workstation.dir().ok();
    match Inspection::open(path, answering(&engine), dir, form.install).await {
        Ok(view) => render(&InspectionView {
            view,
            install: form.install,
        }),
        Err(message) => refuse(StatusCode::UNPROCESSABLE_ENTITY, message),
    }
}
