//! The diagnosis of warnings: what each concerns and what to do about it,
//! as for an error.

use super::{Class, Diagnose, Input, Remedy};
use crate::progress::Warning;

impl Diagnose for Warning {
    fn input(&self) -> Option<Input> {
        match self {
            Warning::GpuNotReady { problem } => problem.input(),
            Warning::Unsigned | Warning::UntrustedSigner { .. } => Some(Input::TrustedKeys),
            Warning::NoProfileForGpu { .. } => Some(Input::Profiles),
            Warning::OtherPlatform { .. } => Some(Input::Platform),
            Warning::KeptOnLoopback { .. } => Some(Input::Listen),
            Warning::CacheOwner { .. } => Some(Input::InstallFolder),
            Warning::GpuUnchecked { .. } => None,
        }
    }

    fn remedies(&self) -> Vec<Remedy> {
        match self {
            Warning::GpuNotReady { problem } => problem.remedies(),
            Warning::Unsigned | Warning::UntrustedSigner { .. } => vec![Remedy::TrustKey],
            Warning::KeptOnLoopback { .. } => vec![Remedy::PublishOnNetwork],
            Warning::OtherPlatform { .. }
            | Warning::NoProfileForGpu { .. }
            | Warning::GpuUnchecked { .. }
            | Warning::CacheOwner { .. } => Vec::new(),
        }
    }

    /// The kind of failure it would be, were it one.
    fn class(&self) -> Class {
        match self {
            Warning::GpuNotReady { problem } => problem.class(),
            Warning::Unsigned
            | Warning::UntrustedSigner { .. }
            | Warning::NoProfileForGpu { .. }
            | Warning::OtherPlatform { .. } => Class::Input,
            Warning::KeptOnLoopback { .. }
            | Warning::GpuUnchecked { .. }
            | Warning::CacheOwner { .. } => Class::Workstation,
        }
    }
}
