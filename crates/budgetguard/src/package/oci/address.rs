//! An `oci://registry/repository:tag` address of a published package.

use std::fmt;

use crate::reference::{Reference, DEFAULT_TAG};

use super::OciError;

/// The scheme of a package published to a registry.
const SCHEME: &str = "oci://";

/// Whether `given` is an `oci://` address.
pub fn is_oci(given: &str) -> bool {
    given
        .get(..SCHEME.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(SCHEME))
}

/// A parsed `oci://registry/repository:tag` address (or `@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OciAddress {
    reference: Reference,
}

impl OciAddress {
    /// Reads `given`, with or without its `oci://`; the registry must be
    /// named (a host with a dot or a port, or `localhost`) and a tag or
    /// digest given, as a package has no `latest`.
    pub fn parse(given: &str) -> Result<Self, OciError> {
        let rest = match is_oci(given) {
            true => &given[SCHEME.len()..],
            false => given,
        };
        let bad = |detail: &str| OciError::BadAddress {
            given: given.to_owned(),
            detail: detail.to_owned(),
        };
        let first = rest.split('/').next().unwrap_or_default();
        let names_registry = rest.contains('/')
            && (first.contains('.') || first.contains(':') || first == "localhost");
        if !names_registry {
            return Err(bad("it names no registry"));
        }
        let reference = Reference::parse(rest).map_err(|e| bad(&e.to_string()))?;
        if reference.tag().is_none() && reference.digest().is_none() {
            return Err(bad("it has no tag"));
        }
        Ok(Self { reference })
    }

    /// The package's reference in its registry.
    pub fn reference(&self) -> &Reference {
        &self.reference
    }

    /// The repository of the image `image` (a reference of the package)
    /// when published with the package: under the package's repository.
    pub fn image_reference(&self, image: &Reference) -> Result<Reference, OciError> {
        let tag = image.tag().unwrap_or(DEFAULT_TAG);
        let text = format!(
            "{}/{}/{}:{tag}",
            self.reference.registry(),
            self.reference.repository(),
            image.repository()
        );
        Reference::parse(&text).map_err(|e| OciError::BadAddress {
            given: text,
            detail: e.to_string(),
        })
    }
}

impl fmt::Display for OciAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}", self.reference.full())
    }
}
