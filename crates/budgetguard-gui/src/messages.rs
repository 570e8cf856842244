//! The GUI's words for what went wrong: typed library errors mapped to text
//! that names the GUI's controls (never a command-line flag) and to the
//! field they concern, so the page can show them beside it. The mapping is
//! on the error's variant, never on its message text; variants without a
//! GUI wording keep the library's words.

use std::path::Path;

use budgetguard::engine::EngineError;
use budgetguard::error_text;
use budgetguard::install::{InstallError, Problem};
use budgetguard::package::PackageError;
use budgetguard::size::human;
use serde::Serialize;

/// The control names the messages use, as the page labels them.
pub(crate) mod controls {
    /// The create form's `force` checkbox.
    pub const FORCE: &str = "Replace the file if it exists";
    /// The create form's `no_pull` checkbox.
    pub const NO_PULL: &str = "Use only images already in Docker, never pull";
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
    pub(crate) fn new(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
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
    format!("`{}`", path.display())
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
        PackageError::DiskFull {
            dir,
            needed,
            available,
        } => Message::at(
            Field::Output,
            format!(
                "Not enough free space in {}: the package needs about {}, {} is free. Free some space, or choose an output file in another folder.",
                shown(dir),
                human(*needed),
                human(*available)
            ),
        ),
        PackageError::Io { path, source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Message::new(format!(
                "{} does not exist: check the path. ({})",
                shown(path),
                error_text(error)
            ))
        }
        PackageError::Engine(engine) => engine_error(engine),
        PackageError::Cancelled => Message::new("Cancelled: no package was written."),
        other => Message::new(error_text(other)),
    }
}

/// What the engine said, in the GUI's words where they differ.
pub(crate) fn engine_error(error: &EngineError) -> Message {
    match error {
        EngineError::ImageMissing { image } => Message::at(
            Field::NoPull,
            format!(
                "Image `{image}` is not in Docker, and “{}” is ticked: untick it to pull the image, or pull it first.",
                controls::NO_PULL
            ),
        ),
        EngineError::NoNetwork {
            image,
            registry,
            detail,
        } => Message::at(
            Field::NoPull,
            format!(
                "Pulling `{image}`: cannot reach {registry} ({detail}). Connect this machine to the network, or pull the image beforehand and tick “{}”.",
                controls::NO_PULL
            ),
        ),
        EngineError::Unauthorized { image, registry } if registry == "nvcr.io" => Message::new(format!(
            "Pulling `{image}`: {registry} refused the credentials. Store a valid NGC API key with `budgetguard-techops install-credentials` (or set `NGC_API_KEY`), then restart the GUI."
        )),
        EngineError::Unauthorized { image, registry } => Message::new(format!(
            "Pulling `{image}`: {registry} refused the credentials. Log in with `docker login {registry}` and try again."
        )),
        other => Message::new(error_text(other)),
    }
}

/// Why an install, uninstall, start or stop failed.
pub(crate) fn install_error(error: &InstallError) -> Message {
    match error {
        InstallError::Package(package) => package_error(package).or_at(Field::Package),
        InstallError::Engine(engine) => engine_error(engine),
        InstallError::Preflight { problems } => Message {
            text: "Nothing was changed, because:".to_owned(),
            lines: problems.iter().map(problem).collect(),
            field: None,
        },
        InstallError::NotReady {
            node, url, seconds, ..
        } => Message::new(format!(
            "Node “{node}” did not answer ready at {url} within {seconds} s. It may still be loading its model: see its log on the Installed nodes page."
        )),
        InstallError::Cancelled => Message::new("Cancelled: run it again to complete it."),
        other => Message::new(error_text(other)),
    }
}

/// One problem found before anything changed, in plain words.
pub(crate) fn problem(problem: &Problem) -> String {
    match problem {
        Problem::ComposeMissing => "Docker Compose is not installed on this workstation: install the Compose plugin (package docker-compose-plugin), then try again.".to_owned(),
        Problem::CredentialsUnreadable { path, detail } => format!(
            "The credentials file {} cannot be read ({detail}): fix its permissions, or store the credentials again with `budgetguard-techops install-credentials`.",
            shown(path)
        ),
        Problem::CredentialsMissing { node, missing, .. } => format!(
            "Node “{node}” needs {} {}, which {} not stored on this workstation: run `budgetguard-techops install-credentials` in a terminal, then try again.",
            if missing.len() == 1 { "the credential" } else { "the credentials" },
            missing.join(" and "),
            if missing.len() == 1 { "is" } else { "are" }
        ),
        Problem::EngineDisk {
            path,
            available,
            needed,
        } => format!(
            "Docker's folder {} has {} free, but loading the images needs about {}: free some space (for example with `docker system prune`) and try again.",
            shown(path),
            human(*available),
            human(*needed)
        ),
        Problem::ModelDisk {
            path,
            available,
            needed,
        } => format!(
            "The install folder {} has {} free, but the package's models need about {}: free some space, or choose another install folder, and try again.",
            shown(path),
            human(*available),
            human(*needed)
        ),
        Problem::PortClash {
            first,
            second,
            port,
        } => format!(
            "Nodes “{first}” and “{second}” both use port {port}: only one of them can be installed on this workstation."
        ),
        Problem::NoGpuRuntime { node } => format!(
            "Node “{node}” needs an NVIDIA GPU, but Docker on this workstation has no NVIDIA runtime: install the NVIDIA Container Toolkit, run `sudo nvidia-ctk runtime configure --runtime=docker` and restart Docker."
        ),
        Problem::PortInUse { node, address } => {
            let port = address.rsplit(':').next().unwrap_or(address);
            format!(
                "Port {port} is already in use by another program ({address}), so node “{node}” cannot start: stop that program, then try again."
            )
        }
        Problem::InstallFolder { detail } => detail.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn preflight_problems_become_lines() {
        let message = install_error(&InstallError::Preflight {
            problems: vec![
                Problem::PortInUse {
                    node: "Demo".into(),
                    address: "127.0.0.1:8090".into(),
                },
                Problem::NoGpuRuntime {
                    node: "FLUX".into(),
                },
            ],
        });
        assert_eq!(message.lines.len(), 2);
        assert!(message.lines[0].starts_with("Port 8090 is already in use"));
        assert!(message.lines[1].starts_with("Node “FLUX” needs an NVIDIA GPU"));
    }
}
