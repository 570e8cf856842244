//! Why the GUI could not start or stopped.

use std::io;

/// Why the GUI server could not start or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The port could not be bound.
    #[error("cannot listen on 127.0.0.1:{port}: {source}{}", bind_hint(source))]
    Bind {
        /// The port asked for (0 for any free port).
        port: u16,
        /// The cause.
        source: io::Error,
    },
    /// The system gave no random bytes for the access token.
    #[error("cannot make an access token: {0}")]
    Token(getrandom::Error),
    /// The server stopped with an error.
    #[error("the GUI server failed: {0}")]
    Serve(io::Error),
}

fn bind_hint(error: &io::Error) -> &'static str {
    match error.kind() {
        io::ErrorKind::AddrInUse => "; choose another `--port`, or leave it out to use a free one",
        io::ErrorKind::PermissionDenied => "; choose a port above 1023",
        _ => "",
    }
}
