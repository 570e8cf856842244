//! What the writer's thread writes, in this order: each node's Compose
//! file, the fallback installers, the images (from the engine's export or
//! from their registries), the model caches, `README.txt`, for an update
//! package `install/base.txt`, then `SHA256SUMS` and the manifest. The
//! order depends on the inputs only, so the same inputs make the same file.

use super::created::format_time;
use super::layout;
use super::manifest::{Manifest, PackagedImage, PackagedNode, FORMAT};
use super::models::{fallback_script, write_caches, CacheSource};
use super::plan::ImageInput;
use super::writer::{BaseHolds, PackageWriter, Written};
use super::zip::{Compression, DosTime, ZipOutput};
use super::PackageError;
use crate::catalog::Node;
use crate::compose::compose_file;
use crate::progress::Reporter;
use crate::signing::SigningKey;
use crate::Cancel;

/// Everything the writer's thread needs.
pub(crate) struct PackageJob {
    /// The nodes, in the order asked for.
    pub nodes: Vec<Node>,
    /// The images.
    pub images: Box<dyn ImageInput>,
    /// How entries are compressed.
    pub compression: Compression,
    /// The output path, for messages.
    pub output: std::path::PathBuf,
    /// Where the images come from, for the manifest.
    pub source_engine: String,
    /// Whether the nodes start after install.
    pub start_after_install: bool,
    /// The model caches.
    pub caches: Vec<CacheSource>,
    /// The key that signs the package.
    pub sign: Option<std::sync::Arc<SigningKey>>,
    /// The package's time (`created`, and every entry's time).
    pub time: time::OffsetDateTime,
    /// What the base holds, for an update package.
    pub base: Option<BaseHolds>,
}

impl PackageJob {
    /// Writes the whole ZIP into `file` (a file, or the parts of a split
    /// package).
    pub(crate) fn write(
        self,
        file: impl ZipOutput + Send + 'static,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<Written, PackageError> {
        let base_line = self.base.as_ref().map(|base| {
            format!(
                "{} {}\n",
                base.package_id,
                base.file_name.as_deref().unwrap_or("")
            )
        });
        let base_name = self.base.as_ref().map(|base| {
            let short = base.package_id.get(..12).unwrap_or(&base.package_id);
            match &base.file_name {
                Some(name) => format!("{name}, package id {short}"),
                None => format!("package id {short}"),
            }
        });
        let mut package = PackageWriter::new(
            file,
            &self.output,
            self.compression,
            DosTime::from_utc(self.time),
            self.base,
        );
        let packaged = |node: &Node| {
            node.model
                .as_ref()
                .map(|m| m.cache.clone())
                .filter(|cache| self.caches.iter().any(|c| &c.ready.name == cache))
        };
        let mut nodes = Vec::new();
        for node in &self.nodes {
            let name = layout::compose_entry(&node.service_name());
            let offline = packaged(node).is_some();
            package.add(&name, compose_file(node, offline).to_yaml().as_bytes())?;
            nodes.push(PackagedNode {
                node: node.clone(),
                compose_file: name,
                model_cache: packaged(node),
            });
        }
        package.add(
            layout::INSTALL_SH,
            include_str!("scripts/install.sh").as_bytes(),
        )?;
        package.add(
            layout::INSTALL_PS1,
            include_str!("scripts/install.ps1").as_bytes(),
        )?;
        let images = self.images.write(&mut package, reporter, cancel)?;
        let caches = write_caches(&mut package, &self.caches, reporter, cancel)?;
        if !caches.is_empty() {
            let script = fallback_script(
                &caches,
                |file| package.carries(&layout::model_blob_entry(&file.sha256)),
                base_name.as_deref(),
            );
            package.add(layout::MODELS_SH, script.as_bytes())?;
        }
        package.add(
            layout::README,
            readme_text(&nodes, &images, base_line.is_some()).as_bytes(),
        )?;
        if let Some(line) = base_line {
            package.add(layout::BASE_TXT, line.as_bytes())?;
        }
        package.finish(
            Manifest {
                format: FORMAT.to_owned(),
                format_version: 0,
                tool_version: env!("CARGO_PKG_VERSION").to_owned(),
                created: format_time(self.time),
                source_engine: self.source_engine,
                compression: self.compression,
                start_after_install: self.start_after_install,
                nodes,
                images,
                caches,
                base: None,
                entries: Vec::new(),
            },
            self.sign.as_deref(),
        )
    }
}

/// The package's `README.txt`.
fn readme_text(nodes: &[PackagedNode], images: &[PackagedImage], update: bool) -> String {
    let mut text = String::from(
        "BudgetGuard TechOps install package\n===================================\n\nNodes:\n",
    );
    for n in nodes {
        text.push_str(&format!(
            "  - {} ({}), http://localhost:{}{}\n",
            n.node.name, n.node.image, n.node.host_port, n.node.infer_path
        ));
    }
    text.push_str("\nImages:\n");
    for image in images {
        text.push_str(&format!(
            "  - {} ({})\n",
            image.references.join(", "),
            image.id
        ));
    }
    if update {
        text.push_str(
            "\nThis is an update package: it leaves out what the package named in\n\
             install/base.txt holds. Install that package first (or have it installed).\n",
        );
    }
    text.push_str(
        "\nInstall on the workstation (no need to unzip):\n\n    \
         budgetguard-techops install-package --package <this file> [--start]\n\n\
         Without budgetguard-techops, with Docker and Docker Compose only: unzip this file,\n\
         then run `sh install/install.sh [--start]` (Linux) or\n\
         `powershell -ExecutionPolicy Bypass -File install\\install.ps1 [-Start]` (Windows)\n\
         from the unzipped folder.\n\n\
         Credentials (NGC API key, Hugging Face token) are not in this package: install them\n\
         on the workstation with `budgetguard-techops install-credentials`.\n",
    );
    text
}
