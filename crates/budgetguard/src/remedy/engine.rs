//! The diagnosis of engine errors.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::engine::EngineError;
use crate::registry::NGC_REGISTRY;

impl Diagnose for EngineError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            EngineError::Reference(e) => e.diagnose(),
            EngineError::Cancelled => Diagnosis::of(Class::Interrupted),
            EngineError::ImageMissing { .. } => Diagnosis::of(Class::Input)
                .at(Input::Pull)
                .remedy(Remedy::AllowPull),
            EngineError::NoNetwork { .. } => Diagnosis::of(Class::Registry)
                .at(Input::Pull)
                .remedy(Remedy::PullBeforehand),
            EngineError::Unauthorized { registry, .. } if registry == NGC_REGISTRY => {
                Diagnosis::of(Class::Registry)
                    .at(Input::Credentials)
                    .remedy(Remedy::StoreCredentials)
            }
            EngineError::Unauthorized { .. } | EngineError::NoEntitlement { .. } => {
                Diagnosis::of(Class::Registry).at(Input::Credentials)
            }
            EngineError::NotInRegistry { .. } | EngineError::PullFailed { .. } => {
                Diagnosis::of(Class::Registry).at(Input::Image)
            }
            EngineError::Unreachable { .. }
            | EngineError::Stalled { .. }
            | EngineError::Load { .. }
            | EngineError::Api { .. } => Diagnosis::of(Class::Engine).at(Input::Engine),
        }
    }
}
