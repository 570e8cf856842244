//! The diagnosis of catalog errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::catalog::CatalogError;

impl Diagnose for CatalogError {
    fn input(&self) -> Option<Input> {
        Some(match self {
            CatalogError::Read { .. }
            | CatalogError::Parse { .. }
            | CatalogError::InvalidNode { .. } => Input::Catalog,
            CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. } => Input::Nodes,
        })
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. } => {
                vec![Remedy::NameKnownNode]
            }
            CatalogError::Read { .. }
            | CatalogError::Parse { .. }
            | CatalogError::InvalidNode { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. } => Class::Usage,
            CatalogError::Read { .. }
            | CatalogError::Parse { .. }
            | CatalogError::InvalidNode { .. } => Class::Input,
        }
    }
}
