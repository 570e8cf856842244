//! The diagnosis of errors reading a package from a web server.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::package::http::HttpError;

impl Diagnose for HttpError {
    fn diagnose(&self) -> Diagnosis {
        let package = Diagnosis::of(Class::Input).at(Input::Package);
        match self {
            HttpError::PlainHttp { .. } => package.remedy(Remedy::AllowHttp),
            HttpError::BadAddress { .. }
            | HttpError::UnsupportedScheme { .. }
            | HttpError::LoginInAddress { .. }
            | HttpError::LoginOverPlainHttp { .. }
            | HttpError::NotFound { .. }
            | HttpError::NoRanges { .. } => package,
            HttpError::Login { .. } | HttpError::Token { .. } => Diagnosis::of(Class::Input)
                .at(Input::Credentials)
                .remedy(Remedy::ServerLogin),
            HttpError::Netrc { .. } => Diagnosis::of(Class::Workstation).at(Input::Credentials),
            // The server, like a registry, failed or could not be reached.
            HttpError::Unreachable { .. }
            | HttpError::Status { .. }
            | HttpError::Changed { .. }
            | HttpError::CutTooOften { .. } => Diagnosis::of(Class::Registry).at(Input::Package),
        }
    }
}
