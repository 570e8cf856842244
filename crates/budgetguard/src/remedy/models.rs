//! The diagnosis of model cache errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::models::ModelError;

impl Diagnose for ModelError {
    fn input(&self) -> Option<Input> {
        match self {
            ModelError::Engine(e) => e.input(),
            ModelError::MissingCredentials { .. }
            | ModelError::FillFailed { .. }
            | ModelError::ListFailed { .. }
            | ModelError::NoStore => Some(Input::Models),
            ModelError::NoProfiles { .. } | ModelError::UnknownCache { .. } => {
                Some(Input::Profiles)
            }
            ModelError::NotAFolder { .. }
            | ModelError::WhichCache { .. }
            | ModelError::Unfit { .. }
            | ModelError::Changed { .. } => Some(Input::ModelCache),
            ModelError::Io { .. } => None,
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            ModelError::Engine(e) => e.remedies(),
            ModelError::MissingCredentials { .. } => vec![Remedy::StoreCredentials],
            ModelError::NoProfiles { .. } => vec![Remedy::ChooseProfiles],
            ModelError::WhichCache { .. } => vec![Remedy::NameTheCache],
            ModelError::FillFailed { .. } | ModelError::NoStore => vec![Remedy::LeaveModelsOut],
            ModelError::ListFailed { .. }
            | ModelError::UnknownCache { .. }
            | ModelError::NotAFolder { .. }
            | ModelError::Unfit { .. }
            | ModelError::Changed { .. }
            | ModelError::Io { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            ModelError::Engine(e) => e.class(),
            ModelError::FillFailed { .. } | ModelError::ListFailed { .. } => Class::Engine,
            ModelError::NoProfiles { .. }
            | ModelError::UnknownCache { .. }
            | ModelError::NotAFolder { .. }
            | ModelError::WhichCache { .. }
            | ModelError::Unfit { .. } => Class::Input,
            ModelError::MissingCredentials { .. }
            | ModelError::NoStore
            | ModelError::Changed { .. }
            | ModelError::Io { .. } => Class::Workstation,
        }
    }
}
