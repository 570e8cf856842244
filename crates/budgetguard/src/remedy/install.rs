//! The diagnosis of install errors and of the problems a preflight finds.

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::install::{InstallError, Problem};

impl Diagnose for InstallError {
    fn diagnose(&self) -> Diagnosis {
        match self {
            InstallError::Package(e) => e.diagnose().or_at(Input::Package),
            InstallError::Engine(e) => e.diagnose(),
            InstallError::Compose(e) => e.diagnose(),
            InstallError::Catalog(e) => e.diagnose(),
            InstallError::Signing(e) => e.diagnose(),
            InstallError::Preflight { problems } => problems
                .iter()
                .flat_map(|p| p.diagnose().remedies)
                .fold(Diagnosis::of(Class::Workstation), Diagnosis::remedy),
            InstallError::NotInstalled { .. } => Diagnosis::of(Class::Usage)
                .at(Input::InstalledNode)
                .remedy(Remedy::NameInstalledNode),
            InstallError::NotReady { seconds, .. } => {
                Diagnosis::of(Class::Engine).remedy(Remedy::WaitLonger { seconds: *seconds })
            }
            InstallError::Unsigned { .. } => Diagnosis::of(Class::Input)
                .at(Input::Package)
                .remedy(Remedy::SignedPackage),
            InstallError::UntrustedSigner { .. } => Diagnosis::of(Class::Input)
                .at(Input::TrustedKeys)
                .remedy(Remedy::TrustKey),
            InstallError::BadSignature { .. } => Diagnosis::of(Class::Input)
                .at(Input::Package)
                .remedy(Remedy::NewPackage),
            InstallError::BaseMissing { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::Package)
            }
            InstallError::StateFile { .. }
            | InstallError::Symlink { .. }
            | InstallError::Io { .. }
            | InstallError::TakeBack { .. }
            | InstallError::NodeOfOtherFolder { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::InstallFolder)
            }
            InstallError::KeptTagTaken { .. } => Diagnosis::of(Class::Engine).at(Input::Engine),
            InstallError::JournalOfOtherEngine { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::Engine)
            }
            InstallError::Cancelled => Diagnosis::of(Class::Interrupted),
            InstallError::Fault { .. } => Diagnosis::of(Class::Internal),
        }
    }
}

impl Diagnose for Problem {
    fn diagnose(&self) -> Diagnosis {
        match self {
            Problem::CredentialsUnreadable { .. } | Problem::CredentialsMissing { .. } => {
                Diagnosis::of(Class::Workstation)
                    .at(Input::Credentials)
                    .remedy(Remedy::StoreCredentials)
            }
            Problem::ModelDisk { .. } | Problem::InstallFolder { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::InstallFolder)
            }
            Problem::PortClash { .. } => Diagnosis::of(Class::Input).at(Input::Catalog),
            Problem::PortInUse { .. } | Problem::ForeignAddress { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::Listen)
            }
            Problem::GpuUnanswered { .. } => Diagnosis::of(Class::Engine).at(Input::Engine),
            Problem::ComposeMissing
            | Problem::EngineDisk { .. }
            | Problem::GpuNotReady { .. }
            | Problem::ContainerOfOtherFolder { .. }
            | Problem::TagOfOtherFolder { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::Engine)
            }
        }
    }
}
