//! The diagnosis of signing errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::signing::SigningError;

impl Diagnose for SigningError {
    fn input(&self) -> Option<Input> {
        Some(match self {
            SigningError::WrongPassword { .. } | SigningError::NeedsPassword { .. } => {
                Input::KeyPassword
            }
            SigningError::KeyExists { .. }
            | SigningError::NotAKey { .. }
            | SigningError::Crypto { .. }
            | SigningError::Io { .. } => Input::Key,
        })
    }

    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        match self {
            SigningError::KeyExists { .. }
            | SigningError::WrongPassword { .. }
            | SigningError::NeedsPassword { .. }
            | SigningError::NotAKey { .. } => Class::Input,
            SigningError::Crypto { .. } => Class::Internal,
            SigningError::Io { .. } => Class::Workstation,
        }
    }
}
