//! `GET /api/events`: the job's progress and outcome as server-sent events.
//! A new stream first gets the present state, so a reloaded page catches up.
//!
//! - `progress`: the [`ProgressView`](crate::jobs::ProgressView) JSON and
//!   the job's title, at most a few times a second;
//! - `finished`: `{"id", "ok", "kind", "title", "field", "html"}`: the outcome
//!   fragment rendered, and the form field a failure concerns;
//! - `idle`: no job has run yet.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::{stream, Stream, StreamExt};
use serde_json::json;

use crate::jobs::{Finished, JobState};
use crate::pages::OutcomeView;
use crate::state::AppState;

/// The least time between two progress events.
const THROTTLE: Duration = Duration::from_millis(250);

/// How often a running job's rate and time left are refreshed without news.
const TICK: Duration = Duration::from_secs(1);

/// The stream; it ends when the server stops.
pub(crate) async fn stream(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let receiver = state.jobs.subscribe();
    let events = stream::unfold((receiver, true), |(mut receiver, first)| async move {
        if !first {
            let running = matches!(*receiver.borrow(), JobState::Running { .. });
            tokio::select! {
                changed = receiver.changed() => changed.ok()?,
                _ = tokio::time::sleep(TICK), if running => {}
            }
            tokio::time::sleep(THROTTLE).await;
        }
        let event = event(&receiver.borrow_and_update());
        Some((Ok(event), (receiver, false)))
    });
    Sse::new(events.take_until(state.stop.clone().cancelled_owned()))
        .keep_alive(KeepAlive::default())
}

/// The event for `state`.
fn event(state: &JobState) -> Event {
    match state {
        JobState::Idle => Event::default().event("idle").data("{}"),
        JobState::Running { kind, progress, .. } => Event::default().event("progress").data(
            json!({
                "kind": kind.name(),
                "title": kind.running_title(),
                "progress": progress.view(),
            })
            .to_string(),
        ),
        JobState::Finished(finished) => Event::default()
            .event("finished")
            .data(finished_data(finished).to_string()),
    }
}

/// What the page gets of a job that ended: `{"id", "ok", "kind", "title",
/// "field", "html"}`, the outcome fragment rendered.
pub(crate) fn finished_data(finished: &Finished) -> serde_json::Value {
    let view = OutcomeView::of(finished);
    json!({
        "id": finished.id,
        "ok": view.succeeded(),
        "kind": finished.kind.name(),
        "title": finished.kind.finished_title(&finished.outcome),
        "field": view.field(),
        "html": view.to_string(),
    })
}
