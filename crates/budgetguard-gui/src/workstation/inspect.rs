//! What a package holds, before installing it: its manifest, and how it
//! compares with this workstation (nodes installed already, images Docker
//! has, whether its models fit the GPU). Every text here comes from the
//! package and is shown escaped.

use budgetguard::catalog::Node;
use budgetguard::engine::Engine;
use budgetguard::install::{judge_signature, InstallDir};
use budgetguard::models::GpuFit;
use budgetguard::package::http::HttpOptions;
use budgetguard::package::Package;
use budgetguard::signing::{Signer, TrustStore};
use budgetguard::size::human;
use budgetguard::Cancel;

use super::models::{fit_view, FitView};
use crate::format::{base_text, shell_word, utc_time_text};
use crate::messages::{package_error, signature_refusal, Field, Message};
use crate::paths::Given;

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
    /// For an update package, its base and what it leaves out.
    pub base: Option<String>,
    /// Who signed it; `None`: unsigned.
    pub signer: Option<String>,
    /// Why this workstation would refuse to install it for its signature.
    pub refusal: Option<String>,
    /// Its nodes.
    pub nodes: Vec<InspectedNode>,
    /// Its images.
    pub images: Vec<InspectedImage>,
    /// Its model caches.
    pub caches: Vec<InspectedCache>,
    /// The bytes of all its images' layers.
    pub images_size: String,
    /// The command that installs it on a workstation.
    pub install_command: String,
    /// Why the comparison with this workstation is missing, if it is.
    pub here_unknown: Option<String>,
    /// The install folder's free space against what the package writes
    /// there (its models), when the folder is known.
    pub space: Option<String>,
    /// Why it will not fit in the install folder, if it will not: Install
    /// says so before it is pressed.
    pub no_room: Option<String>,
}

/// A node of a package.
#[derive(Debug, Clone)]
pub(crate) struct InspectedNode {
    /// Its name.
    pub name: String,
    /// Its host port.
    pub port: u16,
    /// The address its package asks it to listen on.
    pub listen: std::net::IpAddr,
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
    /// Where its model comes from.
    pub model: NodeModel,
}

impl InspectedNode {
    /// Whether its package asks to publish it beyond loopback (it listens
    /// on 127.0.0.1 unless the user consents).
    pub(crate) fn asks_network(&self) -> bool {
        !self.listen.is_loopback()
    }
}

/// Where a packaged node's model comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum NodeModel {
    /// The node has no model section.
    None,
    /// The package carries its cache: it starts offline.
    Packaged(String),
    /// It downloads its model at first start.
    Download,
}

/// A model cache of a package.
#[derive(Debug, Clone)]
pub(crate) struct InspectedCache {
    /// Its name.
    pub name: String,
    /// Its profiles: id, description, the GPUs it is built for.
    pub profiles: Vec<(String, String, String)>,
    /// Its files' bytes.
    pub size: String,
    /// How many files it has.
    pub files: usize,
    /// The nodes that start offline with it.
    pub nodes: Vec<String>,
    /// Whether it fits this workstation's GPU, for a cache of GPU nodes
    /// (on the Install page).
    pub fit: Option<FitView>,
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
/// `dir` trusts (`None`: unsigned), and why an install would be refused
/// for it, as the installer decides: once a key is trusted, only packages
/// with a valid signature by a trusted key install; a signature that does
/// not match is refused always.
fn signature(package: &Package, dir: Option<&InstallDir>) -> (Option<String>, Option<String>) {
    let trusted = dir
        .and_then(|dir| TrustStore::new(dir.root()).keys().ok())
        .unwrap_or_default();
    let signer = package.signer(&trusted);
    let refusal = judge_signature(&signer, &trusted).err();
    let shown = (signer != Signer::Unsigned).then(|| signer.to_string());
    (shown, refusal.as_ref().and_then(signature_refusal))
}

impl Inspection {
    /// Opens the package `given` (a file, or an address read as `http`
    /// says) and compares it with the install folder `dir` and `engine`,
    /// when there are (`gpus`: and its model caches with this
    /// workstation's GPUs).
    pub(crate) async fn open(
        given: &Given,
        http: &HttpOptions,
        engine: Option<&Engine>,
        dir: Option<&InstallDir>,
        gpus: bool,
    ) -> Result<Self, Message> {
        let (path, options) = (given.path(), http.clone());
        let installed = dir.cloned();
        let (package, to_write) = tokio::task::spawn_blocking(move || {
            let package = Package::open_given_with(&[path], &options)?;
            // What the install writes into the folder: an upgrade links the
            // files its live version has. It reads the caches' logs, and
            // hashes a file found there unlogged: off the async threads.
            let to_write = installed
                .and_then(|dir| budgetguard::install::model_bytes_to_write(&dir, &package).ok());
            Ok((package, to_write))
        })
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
                    Ok(Some(info)) => Some(
                        info.id.as_str() == image.id || info.id.as_str() == image.manifest.digest,
                    ),
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
        let gpu_nodes: Vec<_> = manifest
            .nodes
            .iter()
            .filter(|n| n.node.gpu)
            .map(|n| n.node.clone())
            .collect();
        let readiness = match engine {
            Some(engine) if gpus && !gpu_nodes.is_empty() => {
                budgetguard::install::gpu_readiness(engine, &gpu_nodes, &Cancel::new())
                    .await
                    .ok()
                    .flatten()
            }
            _ => None,
        };
        let mut caches = Vec::new();
        for cache in &manifest.caches {
            let users: Vec<_> = manifest
                .nodes
                .iter()
                .filter(|n| n.model_cache.as_deref() == Some(cache.name.as_str()))
                .collect();
            let fit = (gpus && users.iter().any(|n| n.node.gpu)).then(|| {
                let fit = match &readiness {
                    Some(readiness) => budgetguard::models::gpu_fit(&cache.profiles, readiness.gpus()),
                    None => GpuFit::Unknown {
                        reason: "Docker has not got the node's image yet, so no GPU container was tried: the install checks the GPU once the image is in".to_owned(),
                    },
                };
                fit_view(&cache.name, &fit)
            });
            caches.push(InspectedCache {
                name: cache.name.clone(),
                profiles: cache
                    .profiles
                    .iter()
                    .map(|p| (p.id.clone(), p.description.clone(), p.gpus.join(", ")))
                    .collect(),
                size: human(cache.size()),
                files: cache.files.len(),
                nodes: users.iter().map(|n| n.node.name.clone()).collect(),
                fit,
            });
        }
        let path = package.path().display().to_string();
        let (signer, refusal) = signature(&package, dir);
        // The whole size where the folder's logs cannot be read.
        let models = to_write.unwrap_or_else(|| manifest.caches.iter().map(|c| c.size()).sum());
        let (space, no_room) = match dir.map(|dir| install_space(dir.root(), models)) {
            Some((space, no_room)) => (Some(space), no_room),
            None => (None, None),
        };
        // Plain HTTP to another machine, as allowed here.
        let allow_http = if matches!(given, Given::Address(_)) && http.allow_http {
            " --allow-http"
        } else {
            ""
        };
        Ok(Self {
            install_command: format!(
                "budgetguard-techops install-package --package {}{allow_http}",
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
            base: manifest.base.as_ref().map(base_text),
            signer,
            refusal,
            nodes: manifest
                .nodes
                .iter()
                .map(|packaged| {
                    // As the installer records it: a node whose models come
                    // in the package needs no credentials.
                    let mut node = packaged.node.clone();
                    if packaged.model_cache.is_some() {
                        node.credentials.clear();
                    }
                    let node = &node;
                    InspectedNode {
                        name: node.name.clone(),
                        port: node.host_port,
                        listen: node.listen_address(),
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
                                // Where it listens is this workstation's choice.
                                .map(|n| {
                                    n.node
                                        == Node {
                                            listen: n.node.listen,
                                            ..node.clone()
                                        }
                                })
                        }),
                        model: match (&packaged.model_cache, &node.model) {
                            (Some(cache), _) => NodeModel::Packaged(cache.clone()),
                            (None, Some(_)) => NodeModel::Download,
                            (None, None) => NodeModel::None,
                        },
                    }
                })
                .collect(),
            caches,
            images_size: human(manifest.images.iter().map(|i| i.size()).sum()),
            images,
            here_unknown,
            space,
            no_room,
        })
    }
}

/// The free space of the install folder `root` (or of the folder it will
/// be made in) against `models` bytes to write there, in words, and why it
/// does not fit, if it does not.
pub(crate) fn install_space(root: &std::path::Path, models: u64) -> (String, Option<String>) {
    let existing = root.ancestors().find(|folder| folder.is_dir());
    let Some(free) = existing.and_then(|folder| fs4::available_space(folder).ok()) else {
        return (format!("Free space in “{}” unknown", root.display()), None);
    };
    let needs = if models == 0 {
        "no models to write there".to_owned()
    } else {
        format!("its models need {}", human(models))
    };
    let text = format!("{} free in “{}”; {needs}", human(free), root.display());
    let no_room = (free < models).then(|| {
        format!(
            "The models need {} and the install folder “{}” has {} free: choose another install folder above, or free some space.",
            human(models),
            root.display(),
            human(free)
        )
    });
    (text, no_room)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_install_folders_room_is_compared_with_the_models() {
        let dir = tempfile::tempdir().unwrap();
        let later = dir.path().join("not/made/yet");
        let (text, no_room) = install_space(&later, 1 << 20);
        assert!(text.contains("free in “"), "{text}");
        assert!(text.ends_with("its models need 1.0 MiB"), "{text}");
        assert_eq!(no_room, None);
        let (_, no_room) = install_space(&later, u64::MAX);
        let no_room = no_room.unwrap();
        assert!(
            no_room.contains("choose another install folder"),
            "{no_room}"
        );
        assert!(install_space(dir.path(), 0)
            .0
            .ends_with("no models to write there"));
    }
}
