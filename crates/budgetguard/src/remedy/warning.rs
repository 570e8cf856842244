//! The diagnosis of warnings: what each concerns and what to do about it,
//! as for an error (its class is the failure it would be, were it one).

use super::{Class, Diagnose, Diagnosis, Input, Remedy};
use crate::progress::Warning;

impl Diagnose for Warning {
    fn diagnose(&self) -> Diagnosis {
        match self {
            Warning::GpuNotReady { problem } => problem.diagnose(),
            Warning::Unsigned | Warning::UntrustedSigner { .. } => Diagnosis::of(Class::Input)
                .at(Input::TrustedKeys)
                .remedy(Remedy::TrustKey),
            Warning::KeptOnLoopback { .. } => Diagnosis::of(Class::Workstation)
                .at(Input::Listen)
                .remedy(Remedy::PublishOnNetwork),
            Warning::NoProfileForGpu { .. } => Diagnosis::of(Class::Input).at(Input::Profiles),
            Warning::OtherPlatform { .. } => Diagnosis::of(Class::Input).at(Input::Platform),
            Warning::CacheOwner { .. } => {
                Diagnosis::of(Class::Workstation).at(Input::InstallFolder)
            }
            Warning::GpuUnchecked { .. } => Diagnosis::of(Class::Workstation),
        }
    }
}
