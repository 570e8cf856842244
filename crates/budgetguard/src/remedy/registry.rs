//! The diagnosis of registry errors: refusals, logins, references and
//! platforms.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::reference::ReferenceError;
use crate::registry::{CredentialError, PlatformError, RegistryError, NGC_REGISTRY};

impl Diagnose for RegistryError {
    fn diagnose(&self) -> Diagnosis {
        let refused = Diagnosis::of(Class::Registry).at(Input::Registry);
        match self {
            RegistryError::Credentials(e) => e.diagnose(),
            RegistryError::NoMatchingPlatform { .. } => Diagnosis::of(Class::Input)
                .at(Input::Platform)
                .remedy(Remedy::ChoosePlatform),
            RegistryError::Unauthorized { registry, .. } if registry == NGC_REGISTRY => refused
                .remedy(Remedy::StoreCredentials)
                .remedy(Remedy::UseEngineImages),
            RegistryError::Denied { registry, .. } if registry == NGC_REGISTRY => {
                refused.remedy(Remedy::StoreCredentials)
            }
            RegistryError::Unauthorized { .. }
            | RegistryError::ManifestNotFound { .. }
            | RegistryError::Unreachable { .. } => refused.remedy(Remedy::UseEngineImages),
            RegistryError::Denied { .. }
            | RegistryError::NoEntitlement { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::TooManyRetries { .. }
            | RegistryError::Status { .. }
            | RegistryError::UnsupportedManifest { .. }
            | RegistryError::BadManifest { .. }
            | RegistryError::TokenService { .. }
            | RegistryError::PlainHttp { .. }
            | RegistryError::Rejected { .. }
            | RegistryError::PushRefused { .. } => refused,
            RegistryError::Cancelled => Diagnosis::of(Class::Interrupted).at(Input::Registry),
            RegistryError::Sink(_) | RegistryError::Setup(_) | RegistryError::Source(_) => {
                Diagnosis::of(Class::Workstation).at(Input::Registry)
            }
        }
    }
}

impl Diagnose for CredentialError {
    /// A login of this machine's Docker configuration, for reading images
    /// from their registries.
    fn diagnose(&self) -> Diagnosis {
        match self {
            CredentialError::BadConfig { .. }
            | CredentialError::BadAuthEntry { .. }
            | CredentialError::HelperMissing { .. }
            | CredentialError::HelperFailed { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::Registry)
            }
        }
    }
}

impl Diagnose for ReferenceError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            ReferenceError::Empty
            | ReferenceError::InvalidName { .. }
            | ReferenceError::InvalidTag { .. }
            | ReferenceError::InvalidDigest { .. } => Diagnosis::of(Class::Input).at(Input::Image),
        }
    }
}

impl Diagnose for PlatformError {
    fn diagnose(&self) -> Diagnosis {
        Diagnosis::of(Class::Input).at(Input::Platform)
    }
}
