//! The diagnosis of the ZIP reader's and writer's errors.

use super::{Class, Diagnose, Input, Remedy};
use crate::package::zip::ZipError;

impl Diagnose for ZipError {
    fn input(&self) -> Option<Input> {
        match self {
            ZipError::Io(_) => None,
            ZipError::NoEndRecord
            | ZipError::TrailingData
            | ZipError::MultiDisk
            | ZipError::Zip64Missing
            | ZipError::Zip64Malformed
            | ZipError::Zip64Disagrees
            | ZipError::DirectoryMisplaced
            | ZipError::DirectoryTooLarge { .. }
            | ZipError::TooManyEntries { .. }
            | ZipError::BadCentralRecord { .. }
            | ZipError::CountMismatch { .. }
            | ZipError::Gap { .. }
            | ZipError::Encrypted { .. }
            | ZipError::DataDescriptor { .. }
            | ZipError::Flags { .. }
            | ZipError::Method { .. }
            | ZipError::NotRegular { .. }
            | ZipError::SpecialMode { .. }
            | ZipError::Comment { .. }
            | ZipError::ExtraField { .. }
            | ZipError::MalformedExtra { .. }
            | ZipError::Zip64Field { .. }
            | ZipError::StoredSizes { .. }
            | ZipError::Name { .. }
            | ZipError::Duplicate { .. }
            | ZipError::CaseDuplicate { .. }
            | ZipError::FileAndFolder { .. }
            | ZipError::NoLocalHeader { .. }
            | ZipError::LocalHeader { .. }
            | ZipError::HeaderOutside { .. }
            | ZipError::Overlap { .. }
            | ZipError::DataIntoDirectory { .. }
            | ZipError::DataPastEnd { .. }
            | ZipError::TooLarge { .. }
            | ZipError::Data(_) => Some(Input::Package),
        }
    }

    /// None of its own: a package it refuses is refused with
    /// [`crate::package::PackageError::NotAPackage`], which names the fix.
    fn remedies(&self) -> Vec<Remedy> {
        Vec::new()
    }

    fn class(&self) -> Class {
        match self {
            ZipError::Io(_) => Class::Workstation,
            ZipError::NoEndRecord
            | ZipError::TrailingData
            | ZipError::MultiDisk
            | ZipError::Zip64Missing
            | ZipError::Zip64Malformed
            | ZipError::Zip64Disagrees
            | ZipError::DirectoryMisplaced
            | ZipError::DirectoryTooLarge { .. }
            | ZipError::TooManyEntries { .. }
            | ZipError::BadCentralRecord { .. }
            | ZipError::CountMismatch { .. }
            | ZipError::Gap { .. }
            | ZipError::Encrypted { .. }
            | ZipError::DataDescriptor { .. }
            | ZipError::Flags { .. }
            | ZipError::Method { .. }
            | ZipError::NotRegular { .. }
            | ZipError::SpecialMode { .. }
            | ZipError::Comment { .. }
            | ZipError::ExtraField { .. }
            | ZipError::MalformedExtra { .. }
            | ZipError::Zip64Field { .. }
            | ZipError::StoredSizes { .. }
            | ZipError::Name { .. }
            | ZipError::Duplicate { .. }
            | ZipError::CaseDuplicate { .. }
            | ZipError::FileAndFolder { .. }
            | ZipError::NoLocalHeader { .. }
            | ZipError::LocalHeader { .. }
            | ZipError::HeaderOutside { .. }
            | ZipError::Overlap { .. }
            | ZipError::DataIntoDirectory { .. }
            | ZipError::DataPastEnd { .. }
            | ZipError::TooLarge { .. }
            | ZipError::Data(_) => Class::Input,
        }
    }
}
