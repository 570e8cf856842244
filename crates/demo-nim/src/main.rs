//! demo-nim: a tiny HTTP server that behaves like an NVIDIA NIM
//! image-generation container (FLUX), for tests and demos. std only.
//!
//! Environment:
//! - `DEMO_NIM_PORT`: port to listen on (default 8000, on 0.0.0.0).
//! - `NIM_MODEL_VARIANT`: `base` (default), `canny` or `depth`; only that
//!   mode is served, as with a real NIM container.

mod base64;
mod http;
mod json;
mod png;
mod routes;
mod server;

use std::net::{SocketAddr, TcpListener};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};

/// Set by the signal handler; the accept loop polls it.
static STOP: AtomicBool = AtomicBool::new(false);

const SIGINT: i32 = 2;
const SIGTERM: i32 = 15;

extern "C" {
    /// libc `signal(2)`; the handler type is a plain C function pointer.
    fn signal(signum: i32, handler: extern "C" fn(i32)) -> usize;
}

/// Only stores to an atomic: async-signal-safe.
extern "C" fn on_signal(_signum: i32) {
    STOP.store(true, Ordering::SeqCst);
}

fn main() -> ExitCode {
    let port = match std::env::var("DEMO_NIM_PORT") {
        Err(_) => 8000,
        Ok(p) => match p.trim().parse::<u16>() {
            Ok(p) => p,
            Err(_) => {
                eprintln!("demo-nim: invalid DEMO_NIM_PORT {p:?}");
                return ExitCode::from(2);
            }
        },
    };
    let variant_name = std::env::var("NIM_MODEL_VARIANT").unwrap_or_else(|_| "base".into());
    let Some(variant) = routes::Mode::parse(variant_name.trim()) else {
        eprintln!("demo-nim: invalid NIM_MODEL_VARIANT {variant_name:?} (base, canny or depth)");
        return ExitCode::from(2);
    };

    // As PID 1 in a container, SIGTERM/SIGINT have no default action: without
    // handlers `docker stop` would wait for its timeout and then SIGKILL us.
    // SAFETY: installing a handler that only touches an atomic is sound.
    #[allow(unsafe_code)]
    unsafe {
        signal(SIGTERM, on_signal);
        signal(SIGINT, on_signal);
    }

    let addr = SocketAddr::from(([0, 0, 0, 0], port));
    let listener = match TcpListener::bind(addr) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("demo-nim: cannot listen on {addr}: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "demo-nim {} listening on {addr} (NIM_MODEL_VARIANT={})",
        env!("CARGO_PKG_VERSION"),
        variant.as_str()
    );
    if let Err(e) = server::serve(listener, routes::Config { variant }, &STOP) {
        eprintln!("demo-nim: server failed: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!("demo-nim: signal received, exiting");
    ExitCode::SUCCESS
}
