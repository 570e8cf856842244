//! The two pages, rendered with the engine's present state.

use std::sync::Arc;

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::pages::{
    EngineBadge, IndexPage, InstalledPage, InstalledTable, JobPanel, Layout, NodeRow, Page,
};
use crate::state::AppState;
use crate::workstation::Capabilities;

/// `/`: nodes, the package form, deploying here and the job.
pub(crate) async fn index(State(state): State<Arc<AppState>>) -> Response {
    let capabilities = state.workstation.capabilities().await;
    render(&IndexPage {
        layout: layout(&state, Page::Nodes, &capabilities),
        nodes: state
            .catalog
            .nodes
            .iter()
            .map(|node| NodeRow::new(node, &capabilities))
            .collect(),
        default_output: state.default_output.display().to_string(),
        deploy_blocker: capabilities.blocker(),
        job: JobPanel::new(&state.jobs.state()),
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
        },
    })
}

fn layout(state: &AppState, page: Page, capabilities: &Capabilities) -> Layout {
    Layout {
        token: state.guard.token().as_str().to_owned(),
        page,
        engine: EngineBadge::new(capabilities),
    }
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
