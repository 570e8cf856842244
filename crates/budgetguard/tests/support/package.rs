//! Packages written with the project's own ZIP writer and layout documents,
//! consistent in every part (manifest, `SHA256SUMS`, image documents), for a
//! test to change one part of; the manifest is always re-hashed to match.

use std::fs::File;
use std::path::Path;

use budgetguard::compose::compose_file;
use budgetguard::package::layout;
use budgetguard::package::manifest::{Blob, PackagedImage};
use budgetguard::package::zip::{Compression, DosTime, ZipWriter};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// What goes into a package besides its manifest and `SHA256SUMS`.
pub struct Contents {
    /// The manifest's `nodes`.
    pub nodes: Value,
    /// The manifest's `images`.
    pub images: Vec<PackagedImage>,
    /// Every other entry, in file order.
    pub files: Vec<(String, Vec<u8>)>,
    /// `SHA256SUMS` as written, when not the one that fits.
    pub sums: Option<String>,
}

fn blob(data: &[u8]) -> Blob {
    Blob::plain(
        format!("sha256:{}", hex::encode(Sha256::digest(data))),
        data.len() as u64,
    )
}

/// A package of one node running one image of two layers.
pub fn demo() -> Contents {
    let layers: Vec<Vec<u8>> = vec![b"layer one".repeat(100), b"layer two".repeat(50)];
    let layer_blobs: Vec<Blob> = layers.iter().map(|l| blob(l)).collect();
    let config = serde_json::to_vec(&json!({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": layer_blobs.iter().map(|b| &b.digest).collect::<Vec<_>>()},
    }))
    .unwrap();
    let config_blob = blob(&config);
    let oci_manifest = layout::oci_manifest(&config_blob, &layer_blobs);
    let image = PackagedImage {
        references: vec!["budgetguard/test:1".into()],
        id: config_blob.digest.clone(),
        repo_digests: Vec::new(),
        manifest: blob(&oci_manifest),
        config: config_blob,
        layers: layer_blobs,
        diff_ids: Vec::new(),
    };
    let images = vec![image];
    let compose = "compose/demo/docker-compose.yml";
    let node = json!({"name": "Demo", "image": "budgetguard/test:1", "host_port": 8090});
    let yaml = compose_file(&serde_json::from_value(node.clone()).unwrap(), false).to_yaml();
    let mut files = vec![
        (compose.to_owned(), yaml.into_bytes()),
        (layout::INSTALL_SH.to_owned(), b"#!/bin/sh\n".to_vec()),
        (layout::OCI_LAYOUT.to_owned(), layout::oci_layout()),
        (layout::OCI_INDEX.to_owned(), layout::oci_index(&images)),
        (
            layout::DOCKER_MANIFEST.to_owned(),
            layout::docker_manifest(&images),
        ),
    ];
    for data in layers.into_iter().chain([config, oci_manifest]) {
        let name = layout::blob_entry(layout::hex_of(&blob(&data).digest));
        files.push((name, data));
    }
    files.push((layout::README.to_owned(), b"read me\n".to_vec()));
    Contents {
        nodes: json!([{
            "name": "Demo", "image": "budgetguard/test:1", "host_port": 8090,
            "compose_file": compose,
        }]),
        images,
        files,
        sums: None,
    }
}

impl Contents {
    /// The data of the entry `name`.
    pub fn file_mut(&mut self, name: &str) -> &mut Vec<u8> {
        &mut self
            .files
            .iter_mut()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no entry {name}"))
            .1
    }

    /// Writes the package to `path`, letting `edit` change the manifest last.
    pub fn write(&self, path: &Path, edit: impl FnOnce(&mut Value)) {
        let time = DosTime::from_utc(time::macros::datetime!(2026-11-27 12:00:00 UTC));
        let mut zip = ZipWriter::new(File::create(path).unwrap(), time);
        let mut entries = Vec::new();
        let mut add = |zip: &mut ZipWriter, name: &str, data: &[u8]| {
            zip.write_entry(name, Compression::None, data).unwrap();
            let sha256 = hex::encode(Sha256::digest(data));
            entries.push(json!({"name": name, "size": data.len(), "sha256": sha256}));
        };
        let mut sums = String::new();
        for (name, data) in &self.files {
            add(&mut zip, name, data);
            sums.push_str(&format!("{}  {name}\n", hex::encode(Sha256::digest(data))));
        }
        let sums = self.sums.clone().unwrap_or(sums);
        add(&mut zip, layout::SHA256SUMS, sums.as_bytes());
        let mut manifest = json!({
            "format": "budgetguard-install-package",
            "format_version": 1,
            "tool_version": "0.1.0",
            "created": "2026-11-27T12:00:00Z",
            "source_engine": "Docker test",
            "compression": "none",
            "nodes": self.nodes,
            "images": self.images,
            "entries": entries,
        });
        edit(&mut manifest);
        let bytes = serde_json::to_vec(&manifest).unwrap();
        zip.write_entry(layout::MANIFEST, Compression::None, &bytes)
            .unwrap();
        zip.list_first(layout::MANIFEST);
        zip.finish().unwrap();
    }
}
