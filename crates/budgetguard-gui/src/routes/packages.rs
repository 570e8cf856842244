//! The create form's helpers (its saved settings, the size estimate) and
//! package files: the list of the output folder, and Inspect.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use budgetguard::package::PackagePlan;
use serde::Deserialize;

use super::pages::{answering, render};
use super::{refuse, ServerForm};
use crate::messages::{package_error, Field};
use crate::pages::{InspectionView, PackageList};
use crate::paths::{expand, package_given};
use crate::settings::PackageSettings;
use crate::state::AppState;
use crate::workstation::{
    engine_needed, image_info, image_size, key_note, list_packages, Draft, Estimate, ImageBytes,
    Inspection,
};

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

/// A package to inspect (a file, or an address read as `server` says);
/// `install`: for the Install page.
#[derive(Debug, Deserialize)]
pub(crate) struct InspectForm {
    path: String,
    #[serde(default)]
    install: bool,
    #[serde(flatten)]
    server: ServerForm,
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
/// free space of the output folder, as JSON, with each field's problem and
/// why Create cannot work now (Docker down when the options need it).
pub(crate) async fn estimate(
    State(state): State<Arc<AppState>>,
    Json(form): Json<EstimateForm>,
) -> Response {
    let nodes: Vec<_> = form
        .nodes
        .iter()
        .filter_map(|name| state.catalog.get(name).ok().cloned())
        .collect();
    let engine = state.workstation.engine().await;
    let Draft {
        options,
        mut problems,
    } = match state.workstation.draft(nodes, &form.settings) {
        Ok(draft) => draft,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    if let Err(down) = &engine {
        if options.needs_engine() {
            problems.insert(0, engine_needed(&options, down));
        }
    }
    // A platform that is not one is said already: no registry is asked.
    let registry = match problems.iter().find(|p| p.field == Some(Field::Platform)) {
        Some(problem) => Some(Err(problem.clone())),
        None => state.workstation.registry_size(&options).await,
    };
    let (mut images, mut infos) = (Vec::new(), Vec::new());
    if registry.is_none() {
        for node in &options.nodes {
            let found = image_info(answering(&engine), node).await;
            images.push((node.image.clone(), image_size(&found)));
            infos.extend(found.ok().flatten());
        }
    }
    let sign_key = form.settings.sign_key;
    let (mut estimate, note) = tokio::task::spawn_blocking(move || {
        let plan = PackagePlan::new(&options);
        let sizes = plan.estimate(&images);
        let bytes = match registry {
            Some(size) => ImageBytes::Registry(size),
            None => ImageBytes::Engine(
                plan.engine_left_out(&infos)
                    .map(|left_out| left_out.map_err(|e| package_error(&e))),
            ),
        };
        // A platform the images lack, or a base that cannot be used: the
        // create would fail the same way.
        let refused = match &bytes {
            ImageBytes::Registry(Err(message)) | ImageBytes::Engine(Some(Err(message))) => {
                Some(message.clone()).filter(|m| {
                    matches!(m.field, Some(Field::Platform | Field::Since)) && !problems.contains(m)
                })
            }
            _ => None,
        };
        problems.extend(refused);
        let mut estimate = Estimate::new(&sizes, &bytes, &options);
        for message in problems {
            estimate.problem(message);
        }
        (estimate, key_note(&sign_key))
    })
    .await
    .expect("estimating does not panic");
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
    let given = match package_given(&form.path, Field::Package) {
        Ok(given) => given,
        Err(message) => return refuse(StatusCode::BAD_REQUEST, message),
    };
    let engine = state.workstation.engine().await;
    let dir = state.workstation.dir().ok();
    let http = form.server.options();
    match Inspection::open(
        &given,
        &http,
        answering(&engine),
        dir.as_ref(),
        form.install,
    )
    .await
    {
        Ok(view) => render(&InspectionView {
            view,
            install: form.install,
            publish_to: state.publish_to.lock().expect("not poisoned").clone(),
        }),
        Err(message) => refuse(StatusCode::UNPROCESSABLE_ENTITY, message),
    }
}
