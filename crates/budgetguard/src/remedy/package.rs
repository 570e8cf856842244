//! The diagnosis of package errors.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::package::PackageError;

impl Diagnose for PackageError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            PackageError::Catalog(e) => e.diagnose(),
            PackageError::Engine(e) => e.diagnose(),
            PackageError::Model(e) => e.diagnose(),
            PackageError::Signing(e) => e.diagnose(),
            PackageError::Registry(e) => e.diagnose(),
            PackageError::Http(e) => e.diagnose(),
            PackageError::Oci(e) => e.diagnose(),
            PackageError::Base(e) => e.diagnose().at(Input::BasePackage),
            PackageError::SourceDiffers { .. } => Diagnosis::of(Class::Registry),
            PackageError::UnsupportedImage { .. } => {
                Diagnosis::of(Class::Registry).at(Input::Image)
            }
            PackageError::BadSourceDateEpoch { .. } => {
                Diagnosis::of(Class::Input).at(Input::Environment)
            }
            PackageError::NeedsEngine { .. } | PackageError::BadExport { .. } => {
                Diagnosis::of(Class::Engine).at(Input::Engine)
            }
            PackageError::TooManyNodes { .. } => Diagnosis::of(Class::Input).at(Input::Nodes),
            PackageError::BaseIsOutput { .. } => Diagnosis::of(Class::Input).at(Input::Output),
            PackageError::OutputExists { .. } => Diagnosis::of(Class::Input)
                .at(Input::Output)
                .remedy(Remedy::ReplaceOutput),
            PackageError::DiskFull { .. } => Diagnosis::of(Class::Workstation)
                .at(Input::Output)
                .remedy(Remedy::OutputElsewhere),
            PackageError::Io { .. } => Diagnosis::of(Class::Workstation),
            PackageError::Cancelled => Diagnosis::of(Class::Interrupted),
            PackageError::NotAPackage { .. } | PackageError::Mismatch { .. } => {
                Diagnosis::of(Class::Input)
                    .at(Input::Package)
                    .remedy(Remedy::NewPackage)
            }
            PackageError::UnsupportedVersion { .. } | PackageError::Part(_) => {
                Diagnosis::of(Class::Input).at(Input::Package)
            }
        }
    }
}
