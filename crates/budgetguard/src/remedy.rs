//! What the user can do about an error, as a type rather than as words.
//!
//! Library messages state the problem and, where one exists, a fix that
//! fits every face ("free some disk space", "start Docker"). A fix that is a
//! control of one face (a command-line option, a GUI checkbox) is not named
//! in the library: each face asks [`remedies`] for the typed remedies of an
//! error and phrases them with its own controls. The CLI prints
//! `hint: pass --force …`; the GUI points at *Replace the file if it exists*.

use serde::Serialize;

use crate::catalog::CatalogError;
use crate::engine::EngineError;
use crate::install::{InstallError, Problem};
use crate::models::ModelError;
use crate::package::PackageError;
use crate::progress::Warning;
use crate::registry::RegistryError;

/// One thing the user can do about an error, for each face to name with its
/// own controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "remedy", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Remedy {
    /// The output file exists: allow replacing it, or choose another file.
    ReplaceOutput,
    /// Too little disk where the package is written: write it elsewhere.
    OutputElsewhere,
    /// An image is missing and pulling was turned off: allow pulling.
    AllowPull,
    /// The registry cannot be reached: pull beforehand, then use only the
    /// engine's images.
    PullBeforehand,
    /// Credentials are missing, unreadable or refused: store them on this
    /// machine.
    StoreCredentials,
    /// A node did not become ready in time: wait longer than `seconds`.
    WaitLonger {
        /// How long was waited.
        seconds: u64,
    },
    /// The package is damaged or not a package: make a new one.
    NewPackage,
    /// A node name is not in the catalog (or none was given): name one of
    /// the catalog's nodes.
    NameKnownNode,
    /// A node name is not installed here: name an installed node.
    NameInstalledNode,
    /// No model profile was chosen and the node has no default: choose
    /// profiles (or leave the models out).
    ChooseProfiles,
    /// Several model caches are in play: name the cache a folder is for.
    NameTheCache,
    /// The package is signed by a key this workstation does not trust:
    /// trust TechOps' key here.
    TrustKey,
    /// A node was kept on loopback although its package asked for another
    /// address: publish it on the network only if that is meant.
    PublishOnNetwork,
    /// The package is not signed and this workstation wants signed ones:
    /// ask TechOps for a signed package.
    SignedPackage,
    /// A multi-platform image has no image for the platform asked for:
    /// choose one it has.
    ChoosePlatform,
}

/// The remedies of `error` and of every error in its chain of causes, the
/// outermost first, each once. Errors wrapped transparently (an
/// [`InstallError::Package`] holding a [`PackageError`], …) are looked into.
pub fn remedies(error: &(dyn std::error::Error + 'static)) -> Vec<Remedy> {
    let mut found = Vec::new();
    let mut next = Some(error);
    while let Some(cause) = next {
        of_cause(cause, &mut found);
        next = cause.source();
    }
    let mut unique = Vec::with_capacity(found.len());
    for remedy in found {
        if !unique.contains(&remedy) {
            unique.push(remedy);
        }
    }
    unique
}

fn of_cause(cause: &(dyn std::error::Error + 'static), out: &mut Vec<Remedy>) {
    if let Some(e) = cause.downcast_ref::<InstallError>() {
        of_install(e, out);
    } else if let Some(e) = cause.downcast_ref::<PackageError>() {
        of_package(e, out);
    } else if let Some(e) = cause.downcast_ref::<EngineError>() {
        of_engine(e, out);
    } else if let Some(e) = cause.downcast_ref::<CatalogError>() {
        of_catalog(e, out);
    } else if let Some(e) = cause.downcast_ref::<Problem>() {
        of_problem(e, out);
    } else if let Some(e) = cause.downcast_ref::<ModelError>() {
        of_model(e, out);
    } else if let Some(e) = cause.downcast_ref::<RegistryError>() {
        of_registry(e, out);
    } else if let Some(w) = cause.downcast_ref::<Warning>() {
        of_warning(w, out);
    }
}

fn of_warning(warning: &Warning, out: &mut Vec<Remedy>) {
    match warning {
        Warning::Unsigned | Warning::UntrustedSigner { .. } => out.push(Remedy::TrustKey),
        Warning::KeptOnLoopback { .. } => out.push(Remedy::PublishOnNetwork),
        Warning::OtherPlatform { .. }
        | Warning::NoProfileForGpu { .. }
        | Warning::GpuUnchecked { .. }
        | Warning::CacheOwner { .. } => {}
        Warning::GpuNotReady { problem } => of_problem(problem, out),
    }
}

fn of_install(error: &InstallError, out: &mut Vec<Remedy>) {
    match error {
        InstallError::Package(e) => of_package(e, out),
        InstallError::Engine(e) => of_engine(e, out),
        InstallError::Catalog(e) => of_catalog(e, out),
        InstallError::Preflight { problems } => problems.iter().for_each(|p| of_problem(p, out)),
        InstallError::NotInstalled { .. } => out.push(Remedy::NameInstalledNode),
        InstallError::NotReady { seconds, .. } => {
            out.push(Remedy::WaitLonger { seconds: *seconds })
        }
        InstallError::Unsigned { .. } => out.push(Remedy::SignedPackage),
        InstallError::UntrustedSigner { .. } => out.push(Remedy::TrustKey),
        InstallError::BadSignature { .. } => out.push(Remedy::NewPackage),
        _ => {}
    }
}

fn of_model(error: &ModelError, out: &mut Vec<Remedy>) {
    match error {
        ModelError::Engine(e) => of_engine(e, out),
        ModelError::MissingCredentials { .. } => out.push(Remedy::StoreCredentials),
        ModelError::NoProfiles { .. } => out.push(Remedy::ChooseProfiles),
        ModelError::WhichCache { .. } => out.push(Remedy::NameTheCache),
        _ => {}
    }
}

fn of_package(error: &PackageError, out: &mut Vec<Remedy>) {
    match error {
        PackageError::Catalog(e) => of_catalog(e, out),
        PackageError::Engine(e) => of_engine(e, out),
        PackageError::Registry(e) => of_registry(e, out),
        PackageError::Base(e) => of_package(e, out),
        PackageError::OutputExists { .. } => out.push(Remedy::ReplaceOutput),
        PackageError::DiskFull { .. } => out.push(Remedy::OutputElsewhere),
        PackageError::NotAPackage { .. } | PackageError::Mismatch { .. } => {
            out.push(Remedy::NewPackage)
        }
        PackageError::Model(e) => of_model(e, out),
        _ => {}
    }
}

fn of_engine(error: &EngineError, out: &mut Vec<Remedy>) {
    match error {
        EngineError::ImageMissing { .. } => out.push(Remedy::AllowPull),
        EngineError::NoNetwork { .. } => out.push(Remedy::PullBeforehand),
        EngineError::Unauthorized { registry, .. } if registry == "nvcr.io" => {
            out.push(Remedy::StoreCredentials)
        }
        _ => {}
    }
}

fn of_registry(error: &RegistryError, out: &mut Vec<Remedy>) {
    match error {
        RegistryError::Unauthorized { registry, .. } | RegistryError::Denied { registry, .. }
            if registry == crate::registry::NGC_REGISTRY =>
        {
            out.push(Remedy::StoreCredentials)
        }
        RegistryError::NoMatchingPlatform { .. } => out.push(Remedy::ChoosePlatform),
        _ => {}
    }
}

fn of_catalog(error: &CatalogError, out: &mut Vec<Remedy>) {
    if let CatalogError::UnknownNode { .. } | CatalogError::NoNodes { .. } = error {
        out.push(Remedy::NameKnownNode);
    }
}

fn of_problem(problem: &Problem, out: &mut Vec<Remedy>) {
    if let Problem::CredentialsMissing { .. } | Problem::CredentialsUnreadable { .. } = problem {
        out.push(Remedy::StoreCredentials);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remedies_are_found_through_transparent_wrappers_and_causes() {
        let exists = PackageError::OutputExists {
            path: "p.zip".into(),
        };
        assert_eq!(remedies(&exists), [Remedy::ReplaceOutput]);
        let nested = InstallError::Package(PackageError::Engine(EngineError::ImageMissing {
            image: "a:1".into(),
        }));
        assert_eq!(remedies(&nested), [Remedy::AllowPull]);
        let preflight = InstallError::Preflight {
            problems: vec![
                Problem::ComposeMissing,
                Problem::CredentialsMissing {
                    node: "a".into(),
                    missing: vec!["HF_TOKEN".into()],
                    path: "c".into(),
                },
                Problem::CredentialsMissing {
                    node: "b".into(),
                    missing: vec!["HF_TOKEN".into()],
                    path: "c".into(),
                },
            ],
        };
        assert_eq!(remedies(&preflight), [Remedy::StoreCredentials]);
        let io = std::io::Error::other("disk on fire");
        assert!(remedies(&io).is_empty());
    }

    #[test]
    fn library_messages_name_no_option_of_a_face() {
        let errors: Vec<Box<dyn std::error::Error>> = vec![
            Box::new(PackageError::OutputExists {
                path: "p.zip".into(),
            }),
            Box::new(PackageError::DiskFull {
                dir: "/d".into(),
                needed: 2,
                available: 1,
            }),
            Box::new(EngineError::ImageMissing {
                image: "a:1".into(),
            }),
            Box::new(EngineError::NoNetwork {
                image: "a:1".into(),
                registry: "r".into(),
                detail: "d".into(),
            }),
            Box::new(EngineError::Unauthorized {
                image: "nvcr.io/a:1".into(),
                registry: "nvcr.io".into(),
            }),
            Box::new(RegistryError::Unauthorized {
                reference: "nvcr.io/a:1".into(),
                registry: "nvcr.io".into(),
                had_credentials: true,
            }),
            Box::new(RegistryError::NoMatchingPlatform {
                reference: "r/a:1".into(),
                platform: "linux/amd64".into(),
                available: "linux/arm64".into(),
            }),
            Box::new(PackageError::NeedsEngine { what: "w" }),
            Box::new(InstallError::NotReady {
                node: "n".into(),
                url: "u".into(),
                seconds: 1,
                container: "c".into(),
            }),
        ];
        for error in errors {
            let text = error.to_string();
            assert!(
                !text.contains("--") && !text.contains("budgetguard-techops"),
                "{text}"
            );
        }
    }
}
