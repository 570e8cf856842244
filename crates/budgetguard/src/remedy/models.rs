//! The diagnosis of model cache errors.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::models::ModelError;

impl Diagnose for ModelError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            ModelError::Engine(e) => e.diagnose(),
            ModelError::MissingCredentials { .. } => Diagnosis::of(Class::Workstation)
                .at(Input::Models)
                .remedy(Remedy::StoreCredentials),
            ModelError::NoProfiles { .. } => Diagnosis::of(Class::Input)
                .at(Input::Profiles)
                .remedy(Remedy::ChooseProfiles),
            ModelError::UnknownCache { .. } => Diagnosis::of(Class::Input).at(Input::Profiles),
            ModelError::FillFailed { .. } => Diagnosis::of(Class::Engine)
                .at(Input::Models)
                .remedy(Remedy::LeaveModelsOut),
            ModelError::NoStore => Diagnosis::of(Class::Workstation)
                .at(Input::Models)
                .remedy(Remedy::LeaveModelsOut),
            ModelError::ListFailed { .. } => Diagnosis::of(Class::Engine).at(Input::Models),
            ModelError::WhichCache { .. } => Diagnosis::of(Class::Input)
                .at(Input::ModelCache)
                .remedy(Remedy::NameTheCache),
            ModelError::NotAFolder { .. } | ModelError::Unfit { .. } => {
                Diagnosis::of(Class::Input).at(Input::ModelCache)
            }
            ModelError::Changed { .. } => Diagnosis::of(Class::Workstation).at(Input::ModelCache),
            ModelError::Io { .. } => Diagnosis::of(Class::Workstation),
        }
    }
}
