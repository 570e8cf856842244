//! The diagnosis of registry errors: refusals, logins, references and
//! platforms.

use super::{Class, Diagnose, Input, Remedy};
use crate::reference::ReferenceError;
use crate::registry::{CredentialError, PlatformError, RegistryError, NGC_REGISTRY};

impl Diagnose for RegistryError {
    fn input(&self) -> Option<Input> {
        match self {
            RegistryError::Credentials(e) => e.input(),
            RegistryError::NoMatchingPlatform { .. } => Some(Input::Platform),
            RegistryError::Unauthorized { .. }
            | RegistryError::NoEntitlement { .. }
            | RegistryError::Denied { .. }
            | RegistryError::ManifestNotFound { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::Unreachable { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::TooManyRetries { .. }
            | RegistryError::Status { .. }
            | RegistryError::UnsupportedManifest { .. }
            | RegistryError::BadManifest { .. }
            | RegistryError::TokenService { .. }
            | RegistryError::PlainHttp { .. }
            | RegistryError::Cancelled
            | RegistryError::Sink(_)
            | RegistryError::Setup(_) => Some(Input::Registry),
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            RegistryError::Credentials(e) => e.remedies(),
            RegistryError::Unauthorized { registry, .. } if registry == NGC_REGISTRY => {
                vec![Remedy::StoreCredentials, Remedy::UseEngineImages]
            }
            RegistryError::Denied { registry, .. } if registry == NGC_REGISTRY => {
                vec![Remedy::StoreCredentials]
            }
            RegistryError::Unauthorized { .. }
            | RegistryError::ManifestNotFound { .. }
            | RegistryError::Unreachable { .. } => vec![Remedy::UseEngineImages],
            RegistryError::NoMatchingPlatform { .. } => vec![Remedy::ChoosePlatform],
            RegistryError::NoEntitlement { .. }
            | RegistryError::Denied { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::TooManyRetries { .. }
            | RegistryError::Status { .. }
            | RegistryError::UnsupportedManifest { .. }
            | RegistryError::BadManifest { .. }
            | RegistryError::TokenService { .. }
            | RegistryError::PlainHttp { .. }
            | RegistryError::Cancelled
            | RegistryError::Sink(_)
            | RegistryError::Setup(_) => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            RegistryError::Credentials(e) => e.class(),
            RegistryError::NoMatchingPlatform { .. } => Class::Input,
            RegistryError::Cancelled => Class::Interrupted,
            RegistryError::Sink(_) | RegistryError::Setup(_) => Class::Workstation,
            RegistryError::Unauthorized { .. }
            | RegistryError::NoEntitlement { .. }
            | RegistryError::Denied { .. }
            | RegistryError::ManifestNotFound { .. }
            | RegistryError::BlobNotFound { .. }
            | RegistryError::Unreachable { .. }
            | RegistryError::DigestMismatch { .. }
            | RegistryError::SizeMismatch { .. }
            | RegistryError::TooManyRetries { .. }
            | RegistryError::Status { .. }
            | RegistryError::UnsupportedManifest { .. }
            | RegistryError::BadManifest { .. }
            | RegistryError::TokenService { .. }
            | RegistryError::PlainHttp { .. } => Class::Registry,
        }
    }
}

impl Diagnose for CredentialError {
    fn input(&self) -> Option<Input> {
        Some(Input::Registry)
    }

    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        match self {
            CredentialError::BadConfig { .. }
            | CredentialError::BadAuthEntry { .. }
            | CredentialError::HelperMissing { .. }
            | CredentialError::HelperFailed { .. } => Class::Workstation,
        }
    }
}

impl Diagnose for ReferenceError {
    fn input(&self) -> Option<Input> {
        Some(Input::Image)
    }

    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        match self {
            ReferenceError::Empty
            | ReferenceError::InvalidName { .. }
            | ReferenceError::InvalidTag { .. }
            | ReferenceError::InvalidDigest { .. } => Class::Input,
        }
    }
}

impl Diagnose for PlatformError {
    fn input(&self) -> Option<Input> {
        Some(Input::Platform)
    }

    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        Class::Input
    }
}
