//! The diagnosis of errors publishing a package to a registry or reading
//! one from it.

use super::{Class, Diagnose, Diagnosis, Input};
use crate::package::oci::OciError;

impl Diagnose for OciError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            OciError::BadAddress { .. }
            | OciError::NotAPackage { .. }
            | OciError::BaseNotPublished { .. } => Diagnosis::of(Class::Input).at(Input::Package),
            // The registry holds a publication that is not whole.
            OciError::BadMap { .. } | OciError::OtherPackage { .. } => {
                Diagnosis::of(Class::Registry).at(Input::Package)
            }
        }
    }
}
