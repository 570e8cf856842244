//! What an error concerns and what the user can do about it, as types
//! rather than as words: one [`Diagnose`] trait that every library error
//! implements, in a file per error family here.
//!
//! Library messages state the problem and, where one exists, a fix that
//! fits every face ("free some disk space", "start Docker"). A fix that is a
//! control of one face (a command-line option, a GUI checkbox) is not named
//! in the library: each face asks an error for its typed [`Remedy`]s and
//! phrases them with its own controls. The CLI prints `hint: pass --force …`;
//! the GUI points at *Replace the file if it exists*. The [`Input`] an error
//! concerns tells the GUI which field to show it beside; its [`Class`] tells
//! the CLI its exit code. Errors that wrap another answer with the inner
//! error's diagnosis.

mod catalog;
mod compose;
mod engine;
mod http;
mod install;
mod models;
mod oci;
mod package;
mod registry;
mod signing;
mod warning;
mod zip;

use serde::Serialize;

use crate::catalog::CatalogError;
use crate::compose::ComposeError;
use crate::engine::EngineError;
use crate::install::{InstallError, Problem};
use crate::models::ModelError;
use crate::package::http::HttpError;
use crate::package::zip::ZipError;
use crate::package::PackageError;
use crate::progress::Warning;
use crate::reference::ReferenceError;
use crate::registry::{CredentialError, PlatformError, RegistryError};
use crate::signing::SigningError;

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
    /// A registry refused or lacks an image: package the image the engine
    /// has instead of reading it from its registry.
    UseEngineImages,
    /// The models could not be filled or kept: make the package without
    /// them (the nodes download them at their first start).
    LeaveModelsOut,
    /// A package's server is on plain HTTP beyond this machine: allow plain
    /// HTTP, on a network the user trusts.
    AllowHttp,
    /// A package's server wants a login: give it one (`~/.netrc`, or a
    /// bearer token).
    ServerLogin,
}

/// What an error (or a warning) concerns, for each face to point at with
/// its own controls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Input {
    /// The file a package is written to.
    Output,
    /// The nodes chosen from the catalog.
    Nodes,
    /// A node named as installed here.
    InstalledNode,
    /// The catalog (a file of nodes, or a node's settings in it).
    Catalog,
    /// A node's image, as its reference names it.
    Image,
    /// Whether the engine may pull images it lacks.
    Pull,
    /// Images read from their registries rather than from the engine.
    Registry,
    /// The platform images are packaged for.
    Platform,
    /// Whether model caches are filled and packaged.
    Models,
    /// The model profiles chosen (and the caches they name).
    Profiles,
    /// A filled model cache folder given to package.
    ModelCache,
    /// A key file: the secret key that signs or a public key to trust.
    Key,
    /// The password of a secret key.
    KeyPassword,
    /// The keys this workstation trusts.
    TrustedKeys,
    /// The package an update package is made against.
    BasePackage,
    /// The package installed, inspected or verified.
    Package,
    /// The credentials stored on this machine.
    Credentials,
    /// The address a node listens on.
    Listen,
    /// The install folder and its files.
    InstallFolder,
    /// The Docker engine (and Compose, and its GPU runtime).
    Engine,
    /// The environment the tool runs in (`SOURCE_DATE_EPOCH`).
    Environment,
}

/// What kind of failure an error is, for a face to report it as: the CLI
/// chooses its exit code from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    /// A name given is not one to choose from (an unknown node, a node not
    /// installed): bad usage.
    Usage,
    /// A file or value given is not usable (a package, a key, a catalog,
    /// an existing output).
    Input,
    /// The Docker engine or Compose failed or refused.
    Engine,
    /// A registry refused, failed or could not be reached.
    Registry,
    /// This machine cannot take the work (disk, folders, credentials, GPU).
    Workstation,
    /// The work was interrupted.
    Interrupted,
    /// A fault of the tool itself, or one a test asked for.
    Internal,
}

/// What an error concerns, what the user can do about it and what kind of
/// failure it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnosis {
    /// The input it concerns, if one does.
    pub input: Option<Input>,
    /// What the user can do about it with a face's controls, each once,
    /// the first foremost.
    pub remedies: Vec<Remedy>,
    /// What kind of failure it is.
    pub class: Class,
}

impl Diagnosis {
    /// A failure of `class`, about no input in particular, with no remedy.
    pub fn of(class: Class) -> Self {
        Self {
            input: None,
            remedies: Vec::new(),
            class,
        }
    }

    /// The same, about `input`.
    pub fn at(self, input: Input) -> Self {
        Self {
            input: Some(input),
            ..self
        }
    }

    /// The same, about `input` when it concerns none yet.
    pub fn or_at(self, input: Input) -> Self {
        Self {
            input: self.input.or(Some(input)),
            ..self
        }
    }

    /// The same, with `remedy` too (once).
    pub fn remedy(mut self, remedy: Remedy) -> Self {
        if !self.remedies.contains(&remedy) {
            self.remedies.push(remedy);
        }
        self
    }
}

/// Implemented by every library error (and warning): its [`Diagnosis`]. An
/// error that wraps another answers with the inner error's diagnosis.
pub trait Diagnose: std::error::Error {
    /// What it concerns, what to do about it, what kind of failure it is.
    fn diagnose(&self) -> Diagnosis;
}

/// The diagnosis of the first error in `error`'s chain of causes that has
/// one (the outermost first): a face's own context around a library error
/// is looked through.
pub fn diagnosis(error: &(dyn std::error::Error + 'static)) -> Option<Diagnosis> {
    macro_rules! first_of {
        ($cause:expr, $($error:ty),+) => {
            $(if let Some(e) = $cause.downcast_ref::<$error>() {
                return Some(e.diagnose());
            })+
        };
    }
    let mut next = Some(error);
    while let Some(cause) = next {
        first_of!(
            cause,
            InstallError,
            PackageError,
            EngineError,
            CatalogError,
            Problem,
            ModelError,
            RegistryError,
            CredentialError,
            SigningError,
            ComposeError,
            ZipError,
            ReferenceError,
            PlatformError,
            HttpError,
            Warning
        );
        next = cause.source();
    }
    None
}

/// The remedies of `error`'s diagnosis ([`diagnosis`]); none when no error
/// of its chain has one.
pub fn remedies(error: &(dyn std::error::Error + 'static)) -> Vec<Remedy> {
    diagnosis(error).map(|d| d.remedies).unwrap_or_default()
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
    fn wrappers_answer_with_their_inner_errors_diagnosis() {
        let unknown = || CatalogError::UnknownNode {
            name: "x".into(),
            known: vec!["a".into()],
        };
        for error in [
            &unknown() as &(dyn std::error::Error + 'static),
            &PackageError::Catalog(unknown()),
            &InstallError::Catalog(unknown()),
            &InstallError::Package(PackageError::Catalog(unknown())),
        ] {
            let diagnosis = diagnosis(error).expect("a library error");
            assert_eq!(diagnosis.class, Class::Usage, "{error}");
            assert_eq!(diagnosis.input, Some(Input::Nodes), "{error}");
            assert_eq!(diagnosis.remedies, [Remedy::NameKnownNode], "{error}");
        }
        let not_installed = InstallError::NotInstalled {
            name: "x".into(),
            installed: vec![],
        };
        assert_eq!(not_installed.diagnose().class, Class::Usage);
        assert_eq!(not_installed.diagnose().input, Some(Input::InstalledNode));
        let base = PackageError::Base(Box::new(PackageError::NotAPackage {
            path: "old.zip".into(),
            problem: crate::package::Structure::Empty,
        }));
        assert_eq!(base.diagnose().input, Some(Input::BasePackage));
        assert_eq!(base.diagnose().remedies, [Remedy::NewPackage]);
        // A package error outside any other input is the package's.
        let locked = InstallError::Package(PackageError::Cancelled);
        assert_eq!(locked.diagnose().input, Some(Input::Package));
        assert_eq!(locked.diagnose().class, Class::Interrupted);
    }

    #[test]
    fn signing_zip_and_compose_errors_are_diagnosed_too() {
        let wrong = PackageError::Signing(SigningError::WrongPassword { path: "k".into() });
        assert_eq!(diagnosis(&wrong).unwrap().input, Some(Input::KeyPassword));
        let compose = InstallError::Compose(ComposeError::Missing);
        assert_eq!(diagnosis(&compose).unwrap().class, Class::Workstation);
        assert_eq!(
            diagnosis(&ZipError::NoEndRecord).unwrap().input,
            Some(Input::Package)
        );
        let platform = "linux".parse::<crate::registry::Platform>().unwrap_err();
        assert_eq!(diagnosis(&platform).unwrap().input, Some(Input::Platform));
    }

    #[test]
    fn the_first_diagnosed_error_of_a_chain_answers() {
        /// A face's own context around a library error.
        #[derive(Debug)]
        struct Context(PackageError);
        impl std::fmt::Display for Context {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("while packaging")
            }
        }
        impl std::error::Error for Context {
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                Some(&self.0)
            }
        }
        let full = Context(PackageError::DiskFull {
            dir: "/d".into(),
            needed: 2,
            available: 1,
        });
        let diagnosis = diagnosis(&full).unwrap();
        assert_eq!(diagnosis.input, Some(Input::Output));
        assert_eq!(diagnosis.class, Class::Workstation);
        assert_eq!(remedies(&full), [Remedy::OutputElsewhere]);
        assert!(super::diagnosis(&std::io::Error::other("disk on fire")).is_none());
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
