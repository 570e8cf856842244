//! The diagnosis of signing errors.

use super::{Class, Diagnose, Diagnosis, Input};
use crate::signing::SigningError;

impl Diagnose for SigningError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            SigningError::WrongPassword { .. } | SigningError::NeedsPassword { .. } => {
                Diagnosis::of(Class::Input).at(Input::KeyPassword)
            }
            SigningError::KeyExists { .. } | SigningError::NotAKey { .. } => {
                Diagnosis::of(Class::Input).at(Input::Key)
            }
            SigningError::Crypto { .. } => Diagnosis::of(Class::Internal).at(Input::Key),
            SigningError::Io { .. } => Diagnosis::of(Class::Workstation).at(Input::Key),
        }
    }
}
