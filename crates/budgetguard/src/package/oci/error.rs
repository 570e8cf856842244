//! Why a package could not be published to a registry or read from one,
//! each saying what to do.

use super::super::quote::{quote, quote_detail};

/// Why publishing a package, or reading a published one, failed.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The address is no `oci://registry/repository:tag`.
    #[error("`{}` is not a registry address of a package ({detail}); give one like `oci://registry.studio.lan/budgetguard/flux:2026-12`", quote(given))]
    BadAddress {
        /// What was given.
        given: String,
        /// What is wrong with it.
        detail: String,
    },
    /// The tag names something that is no published package.
    #[error("`{}` is not a package published by BudgetGuard TechOps ({}); check the address, or publish the package there", quote(reference), quote_detail(detail))]
    NotAPackage {
        /// The address.
        reference: String,
        /// What it is instead.
        detail: String,
    },
    /// The published package's map does not describe a package file.
    #[error(
        "the published package `{}` has a malformed map ({}); publish the package again",
        quote(reference),
        quote_detail(detail)
    )]
    BadMap {
        /// The address.
        reference: String,
        /// What is wrong.
        detail: String,
    },
    /// The package the map describes is not the one published under it.
    #[error("the published package `{}` mixes two packages (its index names {expected}, its files make {actual}); publish the package again", quote(reference))]
    OtherPackage {
        /// The address.
        reference: String,
        /// The package id the index names.
        expected: String,
        /// The package id the files make.
        actual: String,
    },
    /// An update package leaves out a blob that the registry lacks.
    #[error("the image `{}` needs blob {digest}, which this update package leaves out and `{}` does not hold; publish its base package to that repository first", quote(image), quote(repository))]
    BaseNotPublished {
        /// The image.
        image: String,
        /// The blob left out.
        digest: String,
        /// The repository published to.
        repository: String,
    },
}
