//! The diagnosis of Compose errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::compose::ComposeError;

impl Diagnose for ComposeError {
    fn input(&self) -> Option<Input> {
        Some(Input::Engine)
    }

    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        match self {
            ComposeError::Missing => Class::Workstation,
            ComposeError::TimedOut { .. } | ComposeError::Failed { .. } => Class::Engine,
        }
    }
}
