//! The three pages, rendered with the engine's present state.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use budgetguard::engine::Engine;

use super::folder::install_folder;
use crate::chooser::media_packages;
use crate::format::quotes;
use crate::pages::{
    EngineBadge, IndexPage, InstallPage, InstalledPage, InstalledTable, JobEntry, JobList,
    JobPanel, Layout, MediaList, NodeRow, Page, TrustedKeys,
};
use crate::state::AppState;
use crate::workstation::{image_size, Capabilities, ModelFacts, Unavailable};

/// `/`: nodes, the package form, the packages made, deploying here.
pub(crate) async fn index(State(state): State<Arc<AppState>>) -> Response {
    let engine = state.workstation.engine().await;
    let capabilities = state.workstation.capabilities_with(&engine).await;
    let models = model_facts(&state).await;
    let images = state
        .workstation
        .page_images(answering(&engine), &state.catalog.nodes)
        .await;
    let nodes = state
        .catalog
        .nodes
        .iter()
        .zip(images)
        .zip(models)
        .map(|((node, found), model)| NodeRow::new(node, image_size(&found), model))
        .collect();
    let settings = state.settings.lock().expect("not poisoned").clone();
    render(&IndexPage {
        layout: layout(&state, Page::Nodes, &capabilities),
        nodes,
        settings,
        deploy_blocker: capabilities.blocker(),
    })
}

/// What this machine's store holds of each catalog node's model cache, in
/// catalog order.
async fn model_facts(state: &AppState) -> Vec<Option<ModelFacts>> {
    let store = state.workstation.model_store();
    let nodes = state.catalog.nodes.clone();
    tokio::task::spawn_blocking(move || {
        nodes
            .iter()
            .map(|node| ModelFacts::of(node, store.as_ref()))
            .collect()
    })
    .await
    .expect("reading the model store does not panic")
}

/// `GET /api/models`: each catalog node's model cache on this machine, as
/// JSON (`{name: {cache, held, text}}`, nodes without a model section left
/// out), for the Nodes table once a Create filled a cache.
pub(crate) async fn models(State(state): State<Arc<AppState>>) -> Response {
    let facts = model_facts(&state).await;
    let mut cells = serde_json::Map::new();
    for (node, model) in state.catalog.nodes.iter().zip(facts) {
        if let Some(model) = model {
            cells.insert(
                node.name.clone(),
                serde_json::json!({
                    "cache": model.cache,
                    "held": model.is_held(),
                    "text": model.text(),
                }),
            );
        }
    }
    axum::Json(cells).into_response()
}

/// `/install`: installing a package here.
pub(crate) async fn install(State(state): State<Arc<AppState>>) -> Response {
    let engine = state.workstation.engine().await;
    let capabilities = state.workstation.capabilities_with(&engine).await;
    let media = media_list(&state).await;
    render(&InstallPage {
        layout: layout(&state, Page::Install, &capabilities),
        package_path: state.install_path.lock().expect("not poisoned").clone(),
        blocker: capabilities.blocker(),
        trusted: TrustedKeys {
            keys: state.workstation.trusted_keys(),
        },
        media,
        folder: install_folder(&state),
    })
}

/// `/installed`: the installed nodes.
pub(crate) async fn installed(State(state): State<Arc<AppState>>) -> Response {
    let engine = state.workstation.engine().await;
    let capabilities = state.workstation.capabilities_with(&engine).await;
    render(&InstalledPage {
        layout: layout(&state, Page::Installed, &capabilities),
        table: InstalledTable {
            installed: state.workstation.installed(engine).await,
            unfinished: state.workstation.unfinished_run(),
        },
    })
}

fn layout(state: &AppState, page: Page, capabilities: &Capabilities) -> Layout {
    Layout {
        token: state.guard.token().as_str().to_owned(),
        page,
        engine: EngineBadge::new(capabilities),
        job: JobPanel::new(&state.jobs.state()),
        jobs: job_list(state),
    }
}

/// The packages on removable drives, as they are now.
pub(crate) async fn media_list(state: &AppState) -> MediaList {
    let media = state.media.clone();
    tokio::task::spawn_blocking(move || MediaList {
        drives: !media.drives().is_empty(),
        folders: media_packages(&media),
    })
    .await
    .expect("listing removable drives does not panic")
}

/// The job list as it stands.
pub(crate) fn job_list(state: &AppState) -> JobList {
    let ended = state.jobs.ended();
    JobList {
        entries: JobEntry::list(&state.jobs.state(), &ended),
    }
}

/// `GET /api/nodes/availability`: whether each catalog node's image can
/// be had here, as JSON (`{name: {state, word, class, size, reason}}`).
pub(crate) async fn availability(State(state): State<Arc<AppState>>) -> Response {
    let engine = state.workstation.engine().await;
    let found = state
        .workstation
        .availability(answering(&engine), &state.catalog.nodes)
        .await;
    let map: serde_json::Map<_, _> = state
        .catalog
        .nodes
        .iter()
        .zip(found)
        .map(|(node, found)| {
            (
                node.name.clone(),
                serde_json::to_value(found).expect("serializes"),
            )
        })
        .collect();
    axum::Json(map).into_response()
}

/// `GET /api/engine`: the engine badge and banner as they are now, and why
/// nothing can be deployed or installed here, if so, as JSON (`{text,
/// class, detail, blocker}`): the pages follow Docker going and coming.
pub(crate) async fn engine_state(State(state): State<Arc<AppState>>) -> Response {
    let capabilities = state.workstation.capabilities().await;
    let badge = EngineBadge::new(&capabilities);
    axum::Json(serde_json::json!({
        "text": quotes(&badge.text),
        "class": badge.class,
        "detail": quotes(&badge.detail),
        "blocker": capabilities.blocker().map(|b| quotes(&b)),
    }))
    .into_response()
}

/// The engine, when it answers.
pub(crate) fn answering(engine: &Result<Engine, Unavailable>) -> Option<&Engine> {
    engine.as_ref().ok()
}

/// The template as an HTML response.
pub(crate) fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("cannot render the page: {e}"),
        )
            .into_response(),
    }
}
