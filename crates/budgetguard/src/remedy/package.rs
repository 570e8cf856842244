//! The diagnosis of package errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::package::PackageError;

impl Diagnose for PackageError {
    fn input(&self) -> Option<Input> {
        match self {
            PackageError::Catalog(e) => e.input(),
            PackageError::Engine(e) => e.input(),
            PackageError::Model(e) => e.input(),
            PackageError::Signing(e) => e.input(),
            PackageError::Registry(e) => e.input(),
            PackageError::Base(_) => Some(Input::BasePackage),
            PackageError::UnsupportedImage { .. } => Some(Input::Image),
            PackageError::BadSourceDateEpoch { .. } => Some(Input::Environment),
            PackageError::NeedsEngine { .. } | PackageError::BadExport { .. } => {
                Some(Input::Engine)
            }
            PackageError::TooManyNodes { .. } => Some(Input::Nodes),
            PackageError::BaseIsOutput { .. }
            | PackageError::OutputExists { .. }
            | PackageError::DiskFull { .. } => Some(Input::Output),
            PackageError::NotAPackage { .. }
            | PackageError::UnsupportedVersion { .. }
            | PackageError::Mismatch { .. } => Some(Input::Package),
            PackageError::SourceDiffers { .. }
            | PackageError::Io { .. }
            | PackageError::Cancelled => None,
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            PackageError::Catalog(e) => e.remedies(),
            PackageError::Engine(e) => e.remedies(),
            PackageError::Model(e) => e.remedies(),
            PackageError::Signing(e) => e.remedies(),
            PackageError::Registry(e) => e.remedies(),
            PackageError::Base(e) => e.remedies(),
            PackageError::OutputExists { .. } => vec![Remedy::ReplaceOutput],
            PackageError::DiskFull { .. } => vec![Remedy::OutputElsewhere],
            PackageError::NotAPackage { .. } | PackageError::Mismatch { .. } => {
                vec![Remedy::NewPackage]
            }
            PackageError::SourceDiffers { .. }
            | PackageError::UnsupportedImage { .. }
            | PackageError::BadSourceDateEpoch { .. }
            | PackageError::NeedsEngine { .. }
            | PackageError::BaseIsOutput { .. }
            | PackageError::TooManyNodes { .. }
            | PackageError::Io { .. }
            | PackageError::BadExport { .. }
            | PackageError::Cancelled
            | PackageError::UnsupportedVersion { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            PackageError::Catalog(e) => e.class(),
            PackageError::Engine(e) => e.class(),
            PackageError::Model(e) => e.class(),
            PackageError::Signing(e) => e.class(),
            PackageError::Registry(e) => e.class(),
            PackageError::Base(e) => e.class(),
            PackageError::SourceDiffers { .. } | PackageError::UnsupportedImage { .. } => {
                Class::Registry
            }
            PackageError::NeedsEngine { .. } | PackageError::BadExport { .. } => Class::Engine,
            PackageError::BadSourceDateEpoch { .. }
            | PackageError::BaseIsOutput { .. }
            | PackageError::TooManyNodes { .. }
            | PackageError::OutputExists { .. }
            | PackageError::NotAPackage { .. }
            | PackageError::UnsupportedVersion { .. }
            | PackageError::Mismatch { .. } => Class::Input,
            PackageError::DiskFull { .. } | PackageError::Io { .. } => Class::Workstation,
            PackageError::Cancelled => Class::Interrupted,
        }
    }
}
