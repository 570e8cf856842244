//! What a package holds, before installing it: its manifest, and how it
//! compares with this workstation (nodes installed already, images Docker
//! has). Every text here comes from the package and is shown escaped.

use std::path::PathBuf;

use budgetguard::engine::Engine;
use budgetguard::install::InstallDir;
use budgetguard::package::Package;
use budgetguard::size::human;

use crate::messages::{package_error, Field, Message};
use crate::pages::{shell_word, utc_time_text};

/// A package's contents, as the Inspect panel shows them.
#[derive(Debug, Clone)]
pub(crate) struct Inspection {
    /// The file.
    pub path: String,
    /// Its size.
    pub size: String,
    /// Its package id.
    pub package_id: String,
    /// When it was made, in UTC.
    pub created: String,
    /// The tool version that made it.
    pub tool_version: String,
    /// The engine its images came from.
    pub source_engine: String,
    /// Its format version.
    pub format_version: u32,
    /// How its entries are compressed.
    pub compression: String,
    /// Whether its nodes start after install unless told otherwise.
    pub start_after_install: bool,
    /// Who signed it; `None`: unsigned.
    pub signer: Option<String>,
    /// Its nodes.
    pub nodes: Vec<InspectedNode>,
    /// Its images.
    pub images: Vec<InspectedImage>,
    /// The bytes of all its images' layers.
    pub images_size: String,
    /// The command that installs it on a workstation.
    pub install_command: String,
    /// Why the comparison with this workstation is missing, if it is.
    pub here_unknown: Option<String>,
}

/// A node of a package.
#[derive(Debug, Clone)]
pub(crate) struct InspectedNode {
    /// Its name.
    pub name: String,
    /// Its host port.
    pub port: u16,
    /// Its model variant.
    pub variant: Option<String>,
    /// Whether it needs a GPU.
    pub gpu: bool,
    /// Its image.
    pub image: String,
    /// The credentials it needs.
    pub credentials: Vec<String>,
    /// Whether it is installed here: `None` no; `Some(true)` with the same
    /// settings; `Some(false)` with others (an install replaces them).
    pub installed: Option<bool>,
}

/// An image of a package.
#[derive(Debug, Clone)]
pub(crate) struct InspectedImage {
    /// Its references.
    pub references: String,
    /// Its ID.
    pub id: String,
    /// Its layer count.
    pub layers: usize,
    /// Its size.
    pub size: String,
    /// Whether Docker here has it already; `None` when unknown.
    pub present: Option<bool>,
}

/// Who signed a package, checked against the keys the install folder
/// `dir` trusts; `None`: unsigned.
fn signer(package: &Package, dir: Option<&InstallDir>) -> Option<String> {
    let trusted = dir
        .and_then(|dir| {
            budgetguard::signing::TrustStore::new(dir.root())
                .keys()
                .ok()
        })
        .unwrap_or_default();
    match package.signer(&trusted) {
        budgetguard::signing::Signer::Unsigned => None,
        signer => Some(signer.to_string()),
    }
}

impl Inspection {
    /// Opens the package at `path` and compares it with the install folder
    /// `dir` and `engine`, when there are.
    pub(crate) async fn open(
        path: PathBuf,
        engine: Option<&Engine>,
        dir: Option<&InstallDir>,
    ) -> Result<Self, Message> {
        let package = tokio::task::spawn_blocking(move || Package::open(&path))
            .await
            .expect("opening a package does not panic")
            .map_err(|e| {
                let mut message = package_error(&e);
                message.field.get_or_insert(Field::Package);
                message
            })?;
        let manifest = package.manifest();
        let installed = dir.and_then(|dir| dir.endpoints().ok());
        let mut images = Vec::new();
        for image in &manifest.images {
            let present = match engine {
                Some(engine) => match engine.image(&image.references[0]).await {
                    Ok(Some(info)) => Some(info.id == image.id || info.id == image.manifest.digest),
                    Ok(None) => Some(false),
                    Err(_) => None,
                },
                None => None,
            };
            images.push(InspectedImage {
                references: image.references.join(", "),
                id: image.id.clone(),
                layers: image.layers.len(),
                size: human(image.size()),
                present,
            });
        }
        let here_unknown = match (engine, &installed) {
            (Some(_), Some(_)) => None,
            (None, _) => Some(
                "Docker does not answer: what this workstation has already is unknown.".to_owned(),
            ),
            (_, None) => Some(
                "The install folder cannot be read: which nodes are installed already is unknown."
                    .to_owned(),
            ),
        };
        let path = package.path().display().to_string();
        Ok(Self {
            install_command: format!(
                "budgetguard-techops install-package --package {}",
                shell_word(&path)
            ),
            path,
            size: human(package.file_size()),
            package_id: package.id().to_owned(),
            created: utc_time_text(&manifest.created),
            tool_version: manifest.tool_version.clone(),
            source_engine: manifest.source_engine.clone(),
            format_version: manifest.format_version,
            compression: manifest.compression.to_string(),
            start_after_install: manifest.start_after_install,
            signer: signer(&package, dir),
            nodes: manifest
                .nodes
                .iter()
                .map(|packaged| {
                    let node = &packaged.node;
                    InspectedNode {
                        name: node.name.clone(),
                        port: node.host_port,
                        variant: node.variant.clone(),
                        gpu: node.gpu,
                        image: node.image.clone(),
                        credentials: node
                            .credentials
                            .iter()
                            .map(|c| c.env_name().to_owned())
                            .collect(),
                        installed: installed.as_ref().and_then(|endpoints| {
                            endpoints
                                .nodes
                                .iter()
                                .find(|n| n.node.service_name() == node.service_name())
                                .map(|n| &n.node == node)
                        }),
                    }
                })
                .collect(),
            images_size: human(manifest.images.iter().map(|i| i.size()).sum()),
            images,
            here_unknown,
        })
    }
}
