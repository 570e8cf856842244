//! The diagnosis of Compose errors.

use super::{Class, Diagnose, Diagnosis, Input};
use crate::compose::ComposeError;

impl Diagnose for ComposeError {
    fn diagnose(&self) -> Diagnosis {
        let class = match self {
            ComposeError::Missing => Class::Workstation,
            ComposeError::TimedOut { .. } | ComposeError::Failed { .. } => Class::Engine,
        };
        Diagnosis::of(class).at(Input::Engine)
    }
}
