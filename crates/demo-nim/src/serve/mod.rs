//! The HTTP server: NIM's endpoints on `0.0.0.0:<DEMO_NIM_PORT>`, ready only
//! once the model loader has found (or downloaded) a complete profile.

pub mod infer;
mod loader;
mod routes;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::{Arc, OnceLock};

use crate::settings::{ServeSettings, Settings};
use crate::signals::Termination;
use infer::Mode;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The variant this container serves (`NIM_MODEL_VARIANT`).
    pub variant: Mode,
    /// Set once, when the server becomes ready: the served profile, if any.
    served: OnceLock<Option<String>>,
}

impl AppState {
    /// A state that is not ready yet.
    pub fn new(variant: Mode) -> Self {
        AppState {
            variant,
            served: OnceLock::new(),
        }
    }

    /// Marks the server ready, serving `profile` (`None`: no model needed).
    pub fn set_ready(&self, profile: Option<String>) {
        let _ = self.served.set(profile);
    }

    /// `None` while not ready; else the served profile, if any.
    pub fn served(&self) -> Option<Option<&str>> {
        self.served.get().map(Option::as_deref)
    }
}

/// Serves until SIGTERM or SIGINT.
pub async fn run(settings: Settings, mut signals: Termination) -> ExitCode {
    let serve = match ServeSettings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo-nim: {e}");
            return ExitCode::from(2);
        }
    };
    let addr = SocketAddr::from(([0, 0, 0, 0], serve.port));
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-nim: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "demo-nim {} listening on {addr} (NIM_MODEL_VARIANT={})",
        env!("CARGO_PKG_VERSION"),
        serve.variant.as_str()
    );
    let state = Arc::new(AppState::new(serve.variant));
    if settings.require_model {
        tokio::spawn(loader::load(settings, Arc::clone(&state)));
    } else {
        eprintln!("demo-nim: DEMO_NIM_REQUIRE_MODEL=0: ready without a model");
        state.set_ready(None);
    }
    let app = routes::router(state).into_make_service_with_connect_info::<SocketAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let name = signals.received().await;
            eprintln!("demo-nim: {name} received, exiting");
        })
        .await;
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("demo-nim: server failed: {e}");
            ExitCode::FAILURE
        }
    }
}
