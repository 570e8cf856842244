//! The diagnosis of the ZIP reader's and writer's errors. A package it
//! refuses is refused with [`crate::package::PackageError::NotAPackage`],
//! which carries the remedy; these say only what they concern.

use super::{Class, Diagnose, Diagnosis, Input};
use crate::package::zip::ZipError;

impl Diagnose for ZipError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            ZipError::Io(_) => Diagnosis::of(Class::Workstation),
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
            | ZipError::Data(_) => Diagnosis::of(Class::Input).at(Input::Package),
        }
    }
}
