//! The diagnosis of catalog errors.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::catalog::CatalogError;

impl Diagnose for CatalogError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            CatalogError::Read { .. }
            | CatalogError::Parse { .. }
            | CatalogError::InvalidNode { .. } => Diagnosis::of(Class::Input).at(Input::Catalog),
            CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. } => {
                Diagnosis::of(Class::Usage)
                    .at(Input::Nodes)
                    .remedy(Remedy::NameKnownNode)
            }
        }
    }
}
