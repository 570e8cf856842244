//! The diagnosis of install errors and of the problems a preflight finds.

use super::{unique, Class, Diagnose, Input, Remedy};
use crate::install::{InstallError, Problem};

impl Diagnose for InstallError {
    fn input(&self) -> Option<Input> {
        match self {
            InstallError::Package(e) => e.input().or(Some(Input::Package)),
            InstallError::Engine(e) => e.input(),
            InstallError::Compose(e) => e.input(),
            InstallError::Catalog(e) => e.input(),
            InstallError::Signing(e) => e.input(),
            InstallError::NotInstalled { .. } => Some(Input::InstalledNode),
            InstallError::Unsigned { .. }
            | InstallError::BadSignature { .. }
            | InstallError::BaseMissing { .. } => Some(Input::Package),
            InstallError::UntrustedSigner { .. } => Some(Input::TrustedKeys),
            InstallError::StateFile { .. }
            | InstallError::Symlink { .. }
            | InstallError::Io { .. }
            | InstallError::TakeBack { .. }
            | InstallError::NodeOfOtherFolder { .. } => Some(Input::InstallFolder),
            InstallError::KeptTagTaken { .. } | InstallError::JournalOfOtherEngine { .. } => {
                Some(Input::Engine)
            }
            InstallError::Preflight { .. }
            | InstallError::NotReady { .. }
            | InstallError::Cancelled
            | InstallError::Fault { .. } => None,
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            InstallError::Package(e) => e.remedies(),
            InstallError::Engine(e) => e.remedies(),
            InstallError::Compose(e) => e.remedies(),
            InstallError::Catalog(e) => e.remedies(),
            InstallError::Signing(e) => e.remedies(),
            InstallError::Preflight { problems } => unique(problems),
            InstallError::NotInstalled { .. } => vec![Remedy::NameInstalledNode],
            InstallError::NotReady { seconds, .. } => {
                vec![Remedy::WaitLonger { seconds: *seconds }]
            }
            InstallError::Unsigned { .. } => vec![Remedy::SignedPackage],
            InstallError::UntrustedSigner { .. } => vec![Remedy::TrustKey],
            InstallError::BadSignature { .. } => vec![Remedy::NewPackage],
            InstallError::StateFile { .. }
            | InstallError::Symlink { .. }
            | InstallError::Io { .. }
            | InstallError::KeptTagTaken { .. }
            | InstallError::Cancelled
            | InstallError::BaseMissing { .. }
            | InstallError::TakeBack { .. }
            | InstallError::NodeOfOtherFolder { .. }
            | InstallError::JournalOfOtherEngine { .. }
            | InstallError::Fault { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            InstallError::Package(e) => e.class(),
            InstallError::Engine(e) => e.class(),
            InstallError::Compose(e) => e.class(),
            InstallError::Catalog(e) => e.class(),
            InstallError::Signing(e) => e.class(),
            InstallError::NotInstalled { .. } => Class::Usage,
            InstallError::Unsigned { .. }
            | InstallError::UntrustedSigner { .. }
            | InstallError::BadSignature { .. } => Class::Input,
            InstallError::NotReady { .. } | InstallError::KeptTagTaken { .. } => Class::Engine,
            InstallError::Preflight { .. }
            | InstallError::StateFile { .. }
            | InstallError::Symlink { .. }
            | InstallError::Io { .. }
            | InstallError::BaseMissing { .. }
            | InstallError::TakeBack { .. }
            | InstallError::NodeOfOtherFolder { .. }
            | InstallError::JournalOfOtherEngine { .. } => Class::Workstation,
            InstallError::Cancelled => Class::Interrupted,
            InstallError::Fault { .. } => Class::Internal,
        }
    }
}

impl Diagnose for Problem {
    fn input(&self) -> Option<Input> {
        Some(match self {
            Problem::CredentialsUnreadable { .. } | Problem::CredentialsMissing { .. } => {
                Input::Credentials
            }
            Problem::ModelDisk { .. } | Problem::InstallFolder { .. } => Input::InstallFolder,
            Problem::PortClash { .. } => Input::Catalog,
            Problem::PortInUse { .. } | Problem::ForeignAddress { .. } => Input::Listen,
            Problem::ComposeMissing
            | Problem::EngineDisk { .. }
            | Problem::GpuNotReady { .. }
            | Problem::GpuUnanswered { .. }
            | Problem::ContainerOfOtherFolder { .. } => Input::Engine,
        })
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            Problem::CredentialsMissing { .. } | Problem::CredentialsUnreadable { .. } => {
                vec![Remedy::StoreCredentials]
            }
            Problem::ComposeMissing
            | Problem::EngineDisk { .. }
            | Problem::ModelDisk { .. }
            | Problem::PortClash { .. }
            | Problem::GpuNotReady { .. }
            | Problem::GpuUnanswered { .. }
            | Problem::PortInUse { .. }
            | Problem::ForeignAddress { .. }
            | Problem::ContainerOfOtherFolder { .. }
            | Problem::InstallFolder { .. } => Vec::new(),
        }
    }

    fn class(&self) -> Class {
        match self {
            Problem::PortClash { .. } => Class::Input,
            Problem::GpuUnanswered { .. } => Class::Engine,
            Problem::ComposeMissing
            | Problem::CredentialsUnreadable { .. }
            | Problem::CredentialsMissing { .. }
            | Problem::EngineDisk { .. }
            | Problem::ModelDisk { .. }
            | Problem::GpuNotReady { .. }
            | Problem::PortInUse { .. }
            | Problem::ForeignAddress { .. }
            | Problem::ContainerOfOtherFolder { .. }
            | Problem::InstallFolder { .. } => Class::Workstation,
        }
    }
}
