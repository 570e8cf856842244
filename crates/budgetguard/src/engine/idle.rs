//! Limits on idleness for the engine's long streams (export, load, pull):
//! they may take hours for tens of gigabytes, but an engine that sends or
//! takes nothing for [`limit`] is taken to hang, and the stream ends with
//! [`EngineError::Stalled`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{Stream, StreamExt};

use super::EngineError;

/// The idle limit when `BUDGETGUARD_IDLE_TIMEOUT` does not set one.
const DEFAULT_LIMIT: Duration = Duration::from_secs(600);

/// The idle limit: `BUDGETGUARD_IDLE_TIMEOUT` seconds, else ten minutes.
pub(crate) fn limit() -> Duration {
    crate::seconds_from_env("BUDGETGUARD_IDLE_TIMEOUT", DEFAULT_LIMIT)
}

/// `stream`, ending with [`EngineError::Stalled`] when no item comes for
/// the idle limit.
pub(crate) fn limited<T: Send + 'static>(
    stream: impl Stream<Item = Result<T, EngineError>> + Send + 'static,
    action: &'static str,
) -> impl Stream<Item = Result<T, EngineError>> + Send + 'static {
    let limit = limit();
    futures_util::stream::unfold(Some(stream.boxed()), move |state| async move {
        let mut stream = state?;
        match tokio::time::timeout(limit, stream.next()).await {
            Ok(Some(item)) => Some((item, Some(stream))),
            Ok(None) => None,
            Err(_) => Some((Err(stalled(action, limit)), None)),
        }
    })
}

/// When something last happened on a connection whose two directions are
/// watched together (a load: the body going out, then the answer).
#[derive(Debug, Clone)]
pub(crate) struct Activity {
    start: Instant,
    last: Arc<AtomicU64>,
}

impl Activity {
    /// Starts watching now.
    pub(crate) fn new() -> Self {
        Self {
            start: Instant::now(),
            last: Arc::new(AtomicU64::new(0)),
        }
    }

    /// Something happened.
    pub(crate) fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last.store(now, Ordering::Relaxed);
    }

    /// Returns once nothing has happened for the idle limit.
    pub(crate) async fn stalled(&self, action: &'static str) -> EngineError {
        let limit = limit();
        loop {
            let idle = self
                .start
                .elapsed()
                .saturating_sub(Duration::from_millis(self.last.load(Ordering::Relaxed)));
            if idle >= limit {
                return stalled(action, limit);
            }
            tokio::time::sleep((limit - idle).min(Duration::from_secs(1))).await;
        }
    }
}

fn stalled(action: &str, limit: Duration) -> EngineError {
    tracing::warn!(
        action,
        idle_limit_s = limit.as_secs(),
        "the engine stopped answering"
    );
    EngineError::Stalled {
        action: action.to_owned(),
        seconds: limit.as_secs(),
    }
}
