//! The GUI's words for what went wrong: a library error's own text, then
//! what to do about it with the GUI's controls (never a command-line flag),
//! at the field it concerns, so the page can show it beside it. Field and
//! controls come from the error's diagnosis ([`budgetguard::remedy`]: the
//! input it concerns and its typed remedies), never from message text. A
//! few variants keep words of the GUI's own, where the page's tests pin
//! them.

use std::path::Path;

use budgetguard::engine::EngineError;
use budgetguard::error_text;
use budgetguard::install::{InstallError, Problem};
use budgetguard::models::ModelError;
use budgetguard::package::oci::OciError;
use budgetguard::package::zip::ZipError;
use budgetguard::package::{PackageError, Structure};
use budgetguard::progress::Warning;
use budgetguard::registry::{RegistryError, NGC_REGISTRY};
use budgetguard::remedy::{diagnosis, remedies, Input, Remedy};
use budgetguard::signing::SigningError;
use serde::Serialize;

use crate::format::plain;

/// The control names the messages use, as the page labels them.
pub(crate) mod controls {
    /// The create form's `force` checkbox.
    pub const FORCE: &str = "Replace the file if it exists";
    /// The create form's `no_pull` checkbox.
    pub const NO_PULL: &str = "Use only images already in Docker, never pull";
    /// The create form's `models` checkbox.
    pub const MODELS: &str = "Package models";
    /// The create form's profiles field.
    pub const PROFILES: &str = "Profiles";
    /// The create form's key password field.
    pub const KEY_PASSWORD: &str = "Key password";
    /// The Install page's box of trusted keys.
    pub const TRUSTED_KEYS: &str = "Trusted keys";
    /// The create form's `from_registry` checkbox.
    pub const FROM_REGISTRY: &str = "Read images from their registries";
    /// The create form's platform field.
    pub const PLATFORM: &str = "Platform";
    /// The create form's field of downloads at once.
    pub const JOBS: &str = "Downloads at once";
    /// The create form's old package field.
    pub const SINCE: &str = "Update of";
    /// The create form's part size field.
    pub const SPLIT: &str = "Split into parts of";
    /// The Install page's consent to publish the nodes on the network.
    pub const PUBLISH: &str = "Publish on the network";
    /// The Install page's consent to read a package over plain HTTP.
    pub const ALLOW_HTTP: &str = "Allow plain HTTP to another machine";
    /// The Install page's field of the package server's bearer token file.
    pub const TOKEN_FILE: &str = "Bearer token file";
}

/// A form field a message concerns; serialized as the field's element id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub(crate) enum Field {
    /// The create form's output file.
    #[serde(rename = "output")]
    Output,
    /// The create form's "never pull" option.
    #[serde(rename = "no_pull")]
    NoPull,
    /// The selected nodes.
    #[serde(rename = "nodes")]
    Nodes,
    /// The install page's package path.
    #[serde(rename = "package-path")]
    Package,
    /// The create form's "Package models" option.
    #[serde(rename = "models")]
    Models,
    /// The create form's profiles.
    #[serde(rename = "profiles")]
    Profiles,
    /// The create form's signing key.
    #[serde(rename = "sign_key")]
    SignKey,
    /// The create form's key password.
    #[serde(rename = "key_password")]
    KeyPassword,
    /// The Install page's public key file to trust.
    #[serde(rename = "trust-path")]
    TrustKey,
    /// The create form's "read images from their registries" option.
    #[serde(rename = "from_registry")]
    FromRegistry,
    /// The create form's platform.
    #[serde(rename = "platform")]
    Platform,
    /// The create form's downloads at once.
    #[serde(rename = "jobs")]
    Jobs,
    /// The create form's old package, of an update package.
    #[serde(rename = "since")]
    Since,
    /// The create form's part size.
    #[serde(rename = "split_size")]
    Split,
    /// The Install page's install folder.
    #[serde(rename = "install-dir")]
    InstallDir,
    /// The folder a package is copied to.
    #[serde(rename = "copy-folder")]
    CopyFolder,
    /// Where a new secret key is saved.
    #[serde(rename = "new-key")]
    NewKey,
    /// The new key's password, typed again.
    #[serde(rename = "new-key-repeat")]
    NewKeyRepeat,
    /// The registry reference a package is published to.
    #[serde(rename = "publish-to")]
    PublishTo,
}

/// A message for the page: one sentence, maybe a list of lines under it, and
/// the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub(crate) struct Message {
    /// What happened and what to do.
    pub text: String,
    /// Lines under it (each problem of a preflight).
    pub lines: Vec<String>,
    /// The field it concerns, if any.
    pub field: Option<Field>,
}

impl Message {
    /// A message about no field in particular.
    /// Its text is said [`plain`]ly: no backticks, no clause twice.
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: plain(&text.into()),
            lines: Vec::new(),
            field: None,
        }
    }

    /// A message about `field`.
    pub(crate) fn at(field: Field, text: impl Into<String>) -> Self {
        Self {
            field: Some(field),
            ..Self::new(text)
        }
    }

    /// The same message about `field` when it concerns none yet.
    fn or_at(mut self, field: Field) -> Self {
        self.field.get_or_insert(field);
        self
    }
}

/// `path` quoted for a sentence.
fn shown(path: &Path) -> String {
    format!("“{}”", path.display())
}

/// Why a package was not created, or cannot be inspected or verified.
pub(crate) fn package_error(error: &PackageError) -> Message {
    match error {
        PackageError::OutputExists { path } => Message::at(
            Field::Output,
            format!(
                "{} already exists: tick “{}”, or choose another output file.",
                shown(path),
                controls::FORCE
            ),
        ),
        PackageError::Engine(engine) => engine_error(engine),
        PackageError::Model(model) => model_error(model),
        PackageError::Signing(signing) => signing_error(signing, Field::SignKey),
        PackageError::Registry(registry) => registry_error(registry),
        PackageError::Base(base) => Message::at(
            Field::Since,
            format!(
                "The old package in “{}” cannot be used: {}. Choose the package this one updates, or empty “{}” to make a whole package.",
                controls::SINCE,
                error_text(base),
                controls::SINCE
            ),
        ),
        PackageError::Cancelled => Message::new("Cancelled: no package was written."),
        PackageError::NotAPackage {
            path,
            problem: Structure::Zip(zip),
        } if !matches!(zip, ZipError::Io(_)) => Message::at(
            Field::Package,
            format!(
                "{} is not a complete install package: it may have been cut short while copying. Copy it again from the original, or ask TechOps for a new package.",
                shown(path)
            ),
        ),
        PackageError::Mismatch { path, .. } => Message::at(
            Field::Package,
            format!(
                "{} is damaged: part of it differs from what was packaged, so it was cut short or changed while copying. Copy it again from the original, or ask TechOps for a new package.",
                shown(path)
            ),
        ),
        other => fallback(other),
    }
}

/// Why a package was not published: the registry's refusals and a bad
/// reference at the reference's field, in the library's words (which name
/// the login to make); a package that cannot be read as
/// [`package_error`] says it.
pub(crate) fn publish_error(error: &PackageError) -> Message {
    match error {
        PackageError::Registry(registry) => Message::at(Field::PublishTo, error_text(registry)),
        PackageError::Oci(oci @ OciError::BadAddress { .. }) => {
            Message::at(Field::PublishTo, error_text(oci))
        }
        PackageError::Oci(oci) => fallback(oci).or_at(Field::PublishTo),
        other => package_error(other),
    }
}

/// Why an image could not be read from its registry, and where Docker may
/// have the image, the way back to it.
pub(crate) fn registry_error(error: &RegistryError) -> Message {
    let untick = remedy(&Remedy::UseEngineImages).unwrap_or_default();
    let text = match error {
        RegistryError::Unauthorized {
            reference,
            registry,
            had_credentials,
        } => format!(
            "{registry} refused {} for `{reference}` (401). {} {untick}",
            if *had_credentials {
                "the credentials"
            } else {
                "anonymous access"
            },
            login(registry)
        ),
        RegistryError::Unreachable {
            registry,
            detail,
            fix,
        } => format!("Cannot reach the registry {registry} ({detail}): {fix}. {untick}"),
        RegistryError::NoMatchingPlatform {
            reference,
            platform,
            available,
        } => {
            return Message::at(
                Field::Platform,
                format!(
                    "`{reference}` has no image for {platform}; it has {available}: enter one of those in “{}”.",
                    controls::PLATFORM
                ),
            )
        }
        other => return fallback(other),
    };
    Message::at(Field::FromRegistry, text)
}

/// How the GUI's user logs in to `registry`: the NGC API key is read when
/// the GUI starts, `docker login` at each request.
fn login(registry: &str) -> String {
    if registry == NGC_REGISTRY {
        "Store a valid NGC API key with `budgetguard-techops install-credentials` (or set `NGC_API_KEY`), then restart the GUI.".to_owned()
    } else {
        format!("Log in with `docker login {registry}` in a terminal, then try again.")
    }
}

/// Why a model cache could not be filled or packaged.
pub(crate) fn model_error(error: &ModelError) -> Message {
    match error {
        ModelError::Engine(engine) => engine_error(engine),
        ModelError::MissingCredentials { cache, missing } => Message::at(
            Field::Models,
            format!(
                "Downloading the models of `{cache}` needs {}, which {} not stored on this machine: run `budgetguard-techops install-credentials` in a terminal, then Create again; or untick “{}”.",
                missing.join(" and "),
                if missing.len() == 1 { "is" } else { "are" },
                controls::MODELS
            ),
        ),
        other => fallback(other),
    }
}

/// Why a key could not be opened or read; `field` is where the key's path
/// was typed (a password problem is the password field's).
pub(crate) fn signing_error(error: &SigningError, field: Field) -> Message {
    match error {
        SigningError::NeedsPassword { path } => Message::at(
            Field::KeyPassword,
            format!(
                "The key {} is protected by a password: enter it in “{}”.",
                shown(path),
                controls::KEY_PASSWORD
            ),
        ),
        SigningError::NotAKey { path, kind, .. } if *kind == "public" => Message::at(
            field,
            format!(
                "{} is not a minisign public key: choose the key's `.pub` file, as TechOps sent it.",
                shown(path)
            ),
        ),
        SigningError::Io { path, source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Message::at(
                field,
                format!("There is no file {}: check the path.", shown(path)),
            )
        }
        other => fallback(other).or_at(field),
    }
}

/// The library's words for `error`, then what to do about it with the
/// GUI's controls (from its typed remedies), at the field of the input it
/// concerns.
pub(crate) fn fallback(error: &(dyn std::error::Error + 'static)) -> Message {
    let mut message = Message::new(error_text(error));
    let Some(diagnosis) = diagnosis(error) else {
        return message;
    };
    message.field = diagnosis.input.and_then(field);
    for words in diagnosis.remedies.iter().filter_map(remedy) {
        message.text = plain(&format!("{}. {words}", message.text.trim_end_matches('.')));
    }
    message
}

/// The form field that shows an input, if the page has one; a key file's
/// field depends on the form (see [`signing_error`]).
fn field(input: Input) -> Option<Field> {
    Some(match input {
        Input::Output => Field::Output,
        Input::Nodes => Field::Nodes,
        Input::Pull => Field::NoPull,
        Input::Registry => Field::FromRegistry,
        Input::Platform => Field::Platform,
        Input::Models => Field::Models,
        Input::Profiles => Field::Profiles,
        Input::KeyPassword => Field::KeyPassword,
        Input::BasePackage => Field::Since,
        Input::Package => Field::Package,
        // Chosen from lists, or not typed into a field of the page.
        _ => return None,
    })
}

/// What the GUI says to do about `remedy`; `None` when the library's words
/// say it already (make a new package) or the page makes the mistake
/// impossible (nodes are picked from a list).
fn remedy(remedy: &Remedy) -> Option<String> {
    Some(match remedy {
        Remedy::ReplaceOutput => format!(
            "Tick “{}”, or choose another output file.",
            controls::FORCE
        ),
        Remedy::OutputElsewhere => "Choose an output file on a disk with more room.".to_owned(),
        Remedy::AllowPull => format!("Untick “{}” to let Docker pull it.", controls::NO_PULL),
        Remedy::PullBeforehand => format!(
            "Connect this machine to the network, or pull the image beforehand and tick “{}”.",
            controls::NO_PULL
        ),
        Remedy::StoreCredentials => STORE_CREDENTIALS.to_owned(),
        Remedy::WaitLonger { .. } => "It may still be loading its model: see its log on the Installed nodes page, then start it again.".to_owned(),
        Remedy::ChooseProfiles => format!(
            "Enter the profiles to package, or untick “{}”.",
            controls::MODELS
        ),
        Remedy::TrustKey => {
            "Add TechOps' public key under Trusted keys, then install again.".to_owned()
        }
        Remedy::SignedPackage => {
            "Ask TechOps for a package signed with a key this workstation trusts.".to_owned()
        }
        Remedy::ChoosePlatform => format!(
            "Enter one of the platforms it has in “{}”.",
            controls::PLATFORM
        ),
        Remedy::UseEngineImages => format!(
            "Or untick “{}” to package the images Docker has.",
            controls::FROM_REGISTRY
        ),
        Remedy::AllowHttp => format!(
            "To do so, tick “{}”.",
            controls::ALLOW_HTTP
        ),
        Remedy::ServerLogin => format!(
            "Enter the file that holds the server's bearer token in “{}”.",
            controls::TOKEN_FILE
        ),
        Remedy::LeaveModelsOut => format!(
            "Or untick “{}” to let the nodes download their models at first start.",
            controls::MODELS
        ),
        _ => return None,
    })
}

/// A warning the job went on after, in the GUI's words: the library's
/// text, then what to do about it with the GUI's controls.
pub(crate) fn warning(warning: &Warning) -> String {
    let mut text = plain(&format!("Warning: {warning}."));
    for remedy in remedies(warning) {
        match remedy {
            Remedy::TrustKey => text.push_str(
                " Add TechOps' public key under Trusted keys to install only packages TechOps signed.",
            ),
            Remedy::PublishOnNetwork => text.push_str(&format!(
                " To let other machines use it, install again with “{}” ticked.",
                controls::PUBLISH
            )),
            _ => {}
        }
    }
    text
}

/// How credentials get onto this machine: the GUI has no form for secrets.
const STORE_CREDENTIALS: &str =
    "Store them on this machine with `budgetguard-techops install-credentials` in a terminal, then try again.";

/// What the engine said, in the GUI's words where a test pins them.
pub(crate) fn engine_error(error: &EngineError) -> Message {
    match error {
        EngineError::ImageMissing { image } => Message::at(
            Field::NoPull,
            format!(
                "Image `{image}` is not in Docker, and “{}” is ticked: untick it to pull the image, or pull it first.",
                controls::NO_PULL
            ),
        ),
        other => fallback(other),
    }
}

/// Why an install, uninstall, start or stop failed.
pub(crate) fn install_error(error: &InstallError) -> Message {
    match error {
        InstallError::Package(package) => package_error(package).or_at(Field::Package),
        InstallError::Engine(engine) => engine_error(engine),
        InstallError::Preflight { problems } => Message {
            text: "Nothing was changed, because:".to_owned(),
            lines: problems.iter().map(|p| plain(&problem(p))).collect(),
            field: None,
        },
        InstallError::Unsigned { .. }
        | InstallError::UntrustedSigner { .. }
        | InstallError::BadSignature { .. } => Message::new(format!(
            "Nothing was changed. {}",
            signature_refusal(error).unwrap_or_default()
        )),
        InstallError::Signing(signing) => signing_error(signing, Field::TrustKey),
        InstallError::BaseMissing { base, missing } => Message::at(
            Field::Package,
            format!(
                "Nothing was changed: this update package needs its base package {base} installed first, and this workstation lacks {missing}, which that package holds. Install that package first, then this one."
            ),
        ),
        other => fallback(other),
    }
}

/// Why this workstation refuses a package for its signature, for the
/// install refusals (`Unsigned`, `UntrustedSigner`, `BadSignature`);
/// `None` for other errors.
pub(crate) fn signature_refusal(error: &InstallError) -> Option<String> {
    Some(match error {
        InstallError::Unsigned { trusted } => format!(
            "This package is not signed, and this workstation installs only packages signed by a key it trusts ({}): ask TechOps for a signed package, or remove the keys under “{}” to accept unsigned packages again.",
            trusted.join(", "),
            controls::TRUSTED_KEYS
        ),
        InstallError::UntrustedSigner { key_id, trusted } => format!(
            "This package is signed by key {key_id}, and this workstation trusts only {}: ask TechOps which key signs packages, and add its public key under “{}”.",
            trusted.join(", "),
            controls::TRUSTED_KEYS
        ),
        InstallError::BadSignature { key_id } => format!(
            "This package's signature by key {key_id} does not match its contents, so it was altered after it was signed: do not install it, and ask TechOps for a new package."
        ),
        _ => return None,
    })
}

/// One problem found before anything changed, in plain words.
pub(crate) fn problem(problem: &Problem) -> String {
    match problem {
        Problem::GpuNotReady { node, reason, fix } => format!(
            "Node “{node}” needs an NVIDIA GPU, but Docker could not run a GPU container on this workstation (it said: {reason}). To fix it, {fix}."
        ),
        Problem::PortInUse { node, address } => {
            let port = address.rsplit(':').next().unwrap_or(address);
            format!(
                "Port {port} is already in use by another program ({address}), so node “{node}” cannot start: stop that program, then try again."
            )
        }
        other => fallback(other).text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warnings_point_at_the_trusted_keys_box() {
        let unsigned = warning(&Warning::Unsigned);
        assert!(unsigned.starts_with("Warning: the package is not signed;"));
        assert!(unsigned.contains("under Trusted keys"), "{unsigned}");
        assert!(!unsigned.contains("trust-key"), "{unsigned}");
        let gpu = warning(&Warning::GpuUnchecked {
            cache: "flux-dev".into(),
            reason: "nvidia-smi is not installed".into(),
        });
        assert_eq!(
            gpu,
            "Warning: could not check that the models for “flux-dev” fit this workstation's GPU: nvidia-smi is not installed."
        );
    }

    #[test]
    fn messages_name_the_controls_not_the_flags() {
        let exists = package_error(&PackageError::OutputExists {
            path: "/tmp/p.zip".into(),
        });
        assert_eq!(exists.field, Some(Field::Output));
        assert!(exists.text.contains("tick “Replace the file if it exists”"));
        assert!(!exists.text.contains("--"), "{}", exists.text);
        let missing = package_error(&PackageError::Engine(EngineError::ImageMissing {
            image: "a/b:1".into(),
        }));
        assert_eq!(missing.field, Some(Field::NoPull));
        assert!(missing.text.contains("untick it"), "{}", missing.text);
    }

    #[test]
    fn a_refused_publication_is_said_at_the_reference_with_the_login_to_make() {
        let refused = publish_error(&PackageError::Registry(RegistryError::PushRefused {
            repository: "budgetguard/flux".into(),
            registry: "registry.studio.lan".into(),
            status: 401,
            had_credentials: false,
        }));
        assert_eq!(refused.field, Some(Field::PublishTo));
        assert!(
            refused.text.contains("docker login registry.studio.lan"),
            "{}",
            refused.text
        );
        // Not the create form's way back to Docker's images.
        assert!(
            !refused.text.contains(controls::FROM_REGISTRY),
            "{}",
            refused.text
        );
        let bad = budgetguard::package::oci::OciAddress::parse("flux:1").unwrap_err();
        let bad = publish_error(&PackageError::Oci(bad));
        assert_eq!(bad.field, Some(Field::PublishTo));
        assert!(bad.text.contains("names no registry"), "{}", bad.text);
    }

    #[test]
    fn remedies_name_the_controls_for_errors_without_gui_words() {
        // Wrapped in a model error, the engine's missing image still points
        // at the never-pull option.
        let nested = package_error(&PackageError::Model(ModelError::Engine(
            EngineError::ImageMissing {
                image: "a/b:1".into(),
            },
        )));
        assert_eq!(nested.field, Some(Field::NoPull));
        // An error the GUI has no words for: the library's, then the GUI's
        // remedy.
        let full = fallback(&InstallError::Package(PackageError::DiskFull {
            dir: "/out".into(),
            needed: 2 << 30,
            available: 1 << 30,
        }));
        assert_eq!(full.field, Some(Field::Output));
        assert!(
            full.text
                .ends_with(". Choose an output file on a disk with more room."),
            "{}",
            full.text
        );
        let late = install_error(&InstallError::NotInstalled {
            name: "x".into(),
            installed: vec![],
        });
        assert_eq!(late.field, None, "{}", late.text);
    }

    #[test]
    fn a_package_servers_refusals_name_the_install_pages_controls() {
        use budgetguard::package::http::HttpError;
        let plain = package_error(&PackageError::Http(HttpError::PlainHttp {
            url: "http://10.0.0.9/p.zip".into(),
        }));
        assert_eq!(plain.field, Some(Field::Package));
        assert!(
            plain
                .text
                .starts_with("“http://10.0.0.9/p.zip” is plain HTTP"),
            "{}",
            plain.text
        );
        assert!(
            plain
                .text
                .ends_with("trust. To do so, tick “Allow plain HTTP to another machine”."),
            "{}",
            plain.text
        );
        let login = package_error(&PackageError::Http(HttpError::Login {
            url: "https://h/p.zip".into(),
            status: 401,
            had_login: false,
        }));
        assert!(
            login.text.ends_with("in “Bearer token file”."),
            "{}",
            login.text
        );
        for message in [&plain, &login] {
            assert!(!message.text.contains(['`', '\n']), "{}", message.text);
            assert!(!message.text.contains("--"), "{}", message.text);
        }
    }

    #[test]
    fn key_problems_are_shown_at_their_field() {
        let path = std::path::PathBuf::from("/k/techops.key");
        let needs = signing_error(
            &SigningError::NeedsPassword { path: path.clone() },
            Field::SignKey,
        );
        assert_eq!(needs.field, Some(Field::KeyPassword));
        assert!(needs.text.contains("“Key password”"), "{}", needs.text);
        let wrong = package_error(&PackageError::Signing(SigningError::WrongPassword {
            path: path.clone(),
        }));
        assert_eq!(wrong.field, Some(Field::KeyPassword));
        let missing = signing_error(
            &SigningError::Io {
                action: "read",
                path: path.clone(),
                source: std::io::ErrorKind::NotFound.into(),
            },
            Field::SignKey,
        );
        assert_eq!(missing.field, Some(Field::SignKey));
        let public = signing_error(
            &SigningError::NotAKey {
                path,
                kind: "public",
                detail: "bad".into(),
            },
            Field::TrustKey,
        );
        assert_eq!(public.field, Some(Field::TrustKey));
        assert!(public.text.contains(".pub"), "{}", public.text);
    }

    #[test]
    fn refused_signatures_are_said_in_the_guis_words() {
        for error in [
            InstallError::Unsigned {
                trusted: vec!["AB".into()],
            },
            InstallError::UntrustedSigner {
                key_id: "CD".into(),
                trusted: vec!["AB".into()],
            },
            InstallError::BadSignature {
                key_id: "AB".into(),
            },
        ] {
            let message = install_error(&error);
            assert!(
                message.text.starts_with("Nothing was changed"),
                "{}",
                message.text
            );
            assert!(!message.text.contains("trust-key"), "{}", message.text);
        }
    }

    #[test]
    fn model_problems_point_at_the_model_controls() {
        let missing = package_error(&PackageError::Model(ModelError::MissingCredentials {
            cache: "demo".into(),
            missing: vec!["NGC_API_KEY".into()],
        }));
        assert_eq!(missing.field, Some(Field::Models));
        assert!(
            missing.text.contains("untick “Package models”"),
            "{}",
            missing.text
        );
        let unknown = package_error(&PackageError::Model(ModelError::UnknownCache {
            name: "x".into(),
            known: vec!["demo".into()],
        }));
        assert_eq!(unknown.field, Some(Field::Profiles));
    }

    #[test]
    fn registry_and_update_problems_point_at_their_fields() {
        let arm_only = RegistryError::NoMatchingPlatform {
            reference: "r/a:1".into(),
            platform: "linux/amd64".into(),
            available: "linux/arm64".into(),
        };
        let platform = package_error(&PackageError::Registry(arm_only));
        assert_eq!(platform.field, Some(Field::Platform));
        assert!(
            platform.text.ends_with("enter one of those in “Platform”."),
            "{}",
            platform.text
        );
        let refusals = [
            (
                RegistryError::Unauthorized {
                    reference: "r.io/a:1".into(),
                    registry: "r.io".into(),
                    had_credentials: false,
                },
                "r.io refused anonymous access for “r.io/a:1” (401). Log in with “docker login r.io”",
            ),
            (
                RegistryError::NoEntitlement {
                    reference: "nvcr.io/a:1".into(),
                },
                "no entitlement for “nvcr.io/a:1” (402)",
            ),
            (
                RegistryError::ManifestNotFound {
                    reference: "r.io/a:1".into(),
                    registry: "r.io".into(),
                },
                "“r.io/a:1” is not on r.io (404",
            ),
            (
                RegistryError::Unreachable {
                    registry: "r.io".into(),
                    detail: "refused".into(),
                    fix: "check the network",
                },
                "Cannot reach the registry r.io (refused): check the network.",
            ),
        ];
        for (error, words) in refusals {
            let message = registry_error(&error);
            assert_eq!(message.field, Some(Field::FromRegistry), "{}", message.text);
            assert!(message.text.contains(words), "{}", message.text);
            assert!(!message.text.contains("--"), "{}", message.text);
        }
        let ngc = registry_error(&RegistryError::Unauthorized {
            reference: "nvcr.io/a:1".into(),
            registry: "nvcr.io".into(),
            had_credentials: true,
        });
        assert!(ngc.text.contains("restart the GUI"), "{}", ngc.text);

        let base = package_error(&PackageError::Base(Box::new(PackageError::NotAPackage {
            path: "/p/old.zip".into(),
            problem: budgetguard::package::Structure::Empty,
        })));
        assert_eq!(base.field, Some(Field::Since));
        assert!(base.text.contains("“Update of”"), "{}", base.text);
        let epoch = package_error(&PackageError::BadSourceDateEpoch {
            value: "yesterday".into(),
        });
        assert!(
            epoch.text.starts_with("“SOURCE_DATE_EPOCH” is “yesterday”"),
            "{}",
            epoch.text
        );
        let missing = install_error(&InstallError::BaseMissing {
            base: "`old.zip` (package id 0123456789ab…)".into(),
            missing: "layer sha256:ab".into(),
        });
        assert_eq!(missing.field, Some(Field::Package));
        assert!(
            missing.text.starts_with("Nothing was changed"),
            "{}",
            missing.text
        );
    }

    #[test]
    fn zip_words_stay_inside() {
        let cut = package_error(&PackageError::NotAPackage {
            path: "/media/art/p.zip".into(),
            problem: Structure::Zip(ZipError::NoEndRecord),
        });
        assert_eq!(
            cut.text,
            "“/media/art/p.zip” is not a complete install package: it may have been cut short while copying. Copy it again from the original, or ask TechOps for a new package."
        );
        assert!(!cut.text.contains("central directory"));
        let missing = signing_error(
            &SigningError::Io {
                action: "read",
                path: "/k/a.pub".into(),
                source: std::io::ErrorKind::NotFound.into(),
            },
            Field::TrustKey,
        );
        assert!(!missing.text.contains('`'), "{}", missing.text);
        assert_eq!(missing.text.matches("check the path").count(), 1);
    }

    #[test]
    fn preflight_problems_become_lines() {
        let message = install_error(&InstallError::Preflight {
            problems: vec![
                Problem::PortInUse {
                    node: "Demo".into(),
                    address: "127.0.0.1:8090".into(),
                },
                Problem::GpuNotReady {
                    node: "FLUX".into(),
                    reason: "could not select device driver".into(),
                    fix: budgetguard::install::GpuFix::Toolkit,
                },
            ],
        });
        assert_eq!(message.lines.len(), 2);
        assert!(message.lines[0].starts_with("Port 8090 is already in use"));
        assert!(message.lines[1].starts_with("Node “FLUX” needs an NVIDIA GPU"));
    }
}
