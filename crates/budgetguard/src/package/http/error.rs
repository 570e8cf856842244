//! Why a package could not be read from a web server, each saying what to
//! do. Addresses in these messages are shown without a login or a query
//! (which may hold a signature), and no token ever appears in them.

use std::path::PathBuf;

use super::super::quote::{quote, quote_detail, quote_path};

/// Why reading a package over HTTP(S) failed.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The address is no `http://` or `https://` URL this tool reads.
    #[error("`{}` is not a package address this tool reads ({detail}); give an `https://` URL or a file", quote(given))]
    BadAddress {
        /// What was given (shown without a login or query).
        given: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The address carries a login, which would end up in logs and shell
    /// history.
    #[error("`{}` carries a login in the address; put it in `~/.netrc` (machine {host} login … password …) instead", quote(url))]
    LoginInAddress {
        /// The address, without the login.
        url: String,
        /// Its host.
        host: String,
    },
    /// Plain HTTP to another machine, not allowed.
    #[error("`{}` is plain HTTP to another machine: anyone on the way can read or change it; use `https://`, or allow plain HTTP on a network you trust", quote(url))]
    PlainHttp {
        /// The address.
        url: String,
    },
    /// A login would go over plain HTTP to another machine.
    #[error(
        "`{}` asks for a login, which is sent over HTTPS only (or to this machine); use `https://`",
        quote(url)
    )]
    LoginOverPlainHttp {
        /// The address.
        url: String,
    },
    /// The bearer token could not be read.
    #[error("cannot read the bearer token from {from}: {detail}")]
    Token {
        /// Where it was to come from (`the file …`, `the variable …`).
        from: String,
        /// Why not.
        detail: String,
    },
    /// `~/.netrc` could not be read.
    #[error("cannot read `{}`: {detail}", quote_path(path))]
    Netrc {
        /// Its path.
        path: PathBuf,
        /// Why not.
        detail: String,
    },
    /// No answer from the server.
    #[error("cannot reach the server of `{}` ({}); check the address, this machine's network and proxy settings, and that the server runs", quote(url), quote_detail(detail))]
    Unreachable {
        /// The address.
        url: String,
        /// What failed.
        detail: String,
    },
    /// The server has no file at the address.
    #[error(
        "the server has no package at `{}` (404 Not Found); check the address",
        quote(url)
    )]
    NotFound {
        /// The address.
        url: String,
    },
    /// The server wants a login, or refused the one given.
    #[error("the server refused `{}` ({status}): {}", quote(url), if *had_login { "the login given was refused; check it" } else { "it needs a login; put it in `~/.netrc` or give a bearer token" })]
    Login {
        /// The address.
        url: String,
        /// The status (401 or 403).
        status: u16,
        /// Whether a login was sent.
        had_login: bool,
    },
    /// The server does not serve byte ranges.
    #[error("the server of `{}` does not answer range requests ({detail}), which reading a package in place needs; serve it from a server that does (nginx, Apache, S3, MinIO), or copy the file here and install from it", quote(url))]
    NoRanges {
        /// The address.
        url: String,
        /// What it answered instead.
        detail: String,
    },
    /// Another status.
    #[error(
        "the server answered `{}` with status {status}; check the server, then retry",
        quote(url)
    )]
    Status {
        /// The address.
        url: String,
        /// The status.
        status: u16,
    },
    /// The file on the server changed while it was read.
    #[error("the package at `{}` changed on the server while it was read; wait until it is copied there whole, then retry", quote(url))]
    Changed {
        /// The address.
        url: String,
    },
    /// Connections were cut more often than retries allow.
    #[error("the connection to the server of `{}` was cut {attempts} times in a row (last: {}); check the network, then retry", quote(url), quote_detail(last))]
    CutTooOften {
        /// The address.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last failure.
        last: String,
    },
    /// The address is of a kind this tool does not read (yet).
    #[error("`{}` is a `{scheme}://` address, which this tool does not read; give an `https://` URL or a file", quote(given))]
    UnsupportedScheme {
        /// What was given.
        given: String,
        /// Its scheme.
        scheme: String,
    },
}

impl HttpError {
    /// The HTTP error inside an `io::Error` of a source's reader, if it
    /// carries one.
    pub fn from_io(error: &std::io::Error) -> Option<&HttpError> {
        error.get_ref().and_then(|e| e.downcast_ref::<HttpError>())
    }
}
