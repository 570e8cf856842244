//! The diagnosis of engine errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::engine::EngineError;
use crate::registry::NGC_REGISTRY;

impl Diagnose for EngineError {
    fn input(&self) -> Option<Input> {
        match self {
            EngineError::Reference(e) => e.input(),
            EngineError::Cancelled => None,
            EngineError::ImageMissing { .. } | EngineError::NoNetwork { .. } => Some(Input::Pull),
            EngineError::Unauthorized { .. } | EngineError::NoEntitlement { .. } => {
                Some(Input::Credentials)
            }
            EngineError::NotInRegistry { .. } | EngineError::PullFailed { .. } => {
                Some(Input::Image)
            }
            EngineError::Unreachable { .. }
            | EngineError::Stalled { .. }
            | EngineError::Load { .. }
            | EngineError::Api { .. } => Some(Input::Engine),
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            EngineError::Reference(e) => e.remedies(),
            EngineError::ImageMissing { .. } => vec![Remedy::AllowPull],
            EngineError::NoNetwork { .. } => vec![Remedy::PullBeforehand],
            EngineError::Unauthorized { registry, .. } if registry == NGC_REGISTRY => {
                vec![Remedy::StoreCredentials]
            }
            EngineError::Unauthorized { .. }
            | EngineError::Cancelled
            | EngineError::NoEntitlement { .. }
            | EngineError::NotInRegistry { .. }
            | EngineError::PullFailed { .. }
            | EngineError::Unreachable { .. }
            | EngineError::Stalled { .. }
            | EngineError::Load { .. }
            | EngineError::Api { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            EngineError::Reference(e) => e.class(),
            EngineError::Cancelled => Class::Interrupted,
            EngineError::ImageMissing { .. } => Class::Input,
            EngineError::Unauthorized { .. }
            | EngineError::NoEntitlement { .. }
            | EngineError::NotInRegistry { .. }
            | EngineError::NoNetwork { .. }
            | EngineError::PullFailed { .. } => Class::Registry,
            EngineError::Unreachable { .. }
            | EngineError::Stalled { .. }
            | EngineError::Load { .. }
            | EngineError::Api { .. } => Class::Engine,
        }
    }
}
