//! Hostile but consistent packages: a real package taken apart, changed, and
//! put back together with every digest, size, checksum list and manifest
//! entry made to agree again, as an attacker who can re-hash would do.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::Read;
use std::path::Path;

use budgetguard::package::zip::{Compression, DosTime, ZipReader, ZipWriter};
use sha2::{Digest, Sha256};

const MANIFEST: &str = "budgetguard-package.json";
const SIGNATURE: &str = "budgetguard-package.json.minisig";
const BLOBS: &str = "images/blobs/sha256/";

/// A package's entries and manifest, open for changes.
pub struct Repack {
    /// Every entry but the manifest, by name.
    pub entries: BTreeMap<String, Vec<u8>>,
    /// The manifest.
    pub manifest: serde_json::Value,
    /// The manifest's signature, kept as it was (it no longer matches once
    /// anything changed).
    pub signature: Option<Vec<u8>>,
    /// How the entries other than the manifest are written.
    pub compression: Compression,
}

impl Repack {
    /// Reads `package` whole (test packages are small).
    pub fn open(package: &Path) -> Self {
        let reader = ZipReader::open(package).unwrap();
        let mut entries = BTreeMap::new();
        let mut manifest = serde_json::Value::Null;
        let mut signature = None;
        for entry in reader.entries() {
            let mut data = Vec::new();
            reader
                .open_entry(entry)
                .unwrap()
                .read_to_end(&mut data)
                .unwrap();
            if entry.name == MANIFEST {
                manifest = serde_json::from_slice(&data).unwrap();
            } else if entry.name == SIGNATURE {
                signature = Some(data);
            } else {
                entries.insert(entry.name.clone(), data);
            }
        }
        Self {
            entries,
            manifest,
            signature,
            compression: Compression::None,
        }
    }

    /// The hex digest of the `n`th layer of image `image`.
    pub fn layer(&self, image: usize, n: usize) -> String {
        self.manifest["images"][image]["layers"][n]["digest"]
            .as_str()
            .unwrap()
            .trim_start_matches("sha256:")
            .to_owned()
    }

    /// Replaces the bytes of the blob `hex` (same length, so that only
    /// digests change, never sizes).
    pub fn replace_blob(&mut self, hex: &str, data: Vec<u8>) {
        let name = format!("{BLOBS}{hex}");
        assert_eq!(self.entries[&name].len(), data.len(), "same length");
        self.entries.insert(name, data);
    }

    /// Makes everything agree again and writes the package to `to`: a blob
    /// whose content no longer matches its name is renamed, and its old
    /// digest replaced by the new one everywhere it is named (configs, OCI
    /// manifests, the layout files, the manifest), until nothing changes;
    /// then `SHA256SUMS` and the manifest's entry list are written anew.
    pub fn write(mut self, to: &Path) {
        loop {
            let stale = self.entries.iter().find_map(|(name, data)| {
                let hex = name.strip_prefix(BLOBS)?;
                let actual = hex::encode(Sha256::digest(data));
                (actual != hex).then(|| (hex.to_owned(), actual))
            });
            let Some((old, new)) = stale else { break };
            let data = self.entries.remove(&format!("{BLOBS}{old}")).unwrap();
            self.entries.insert(format!("{BLOBS}{new}"), data);
            for data in self.entries.values_mut() {
                if data.len() < 1 << 20 {
                    if let Ok(text) = std::str::from_utf8(data) {
                        *data = text.replace(&old, &new).into_bytes();
                    }
                }
            }
            let text = self.manifest.to_string().replace(&old, &new);
            self.manifest = serde_json::from_str(&text).unwrap();
            for image in self.manifest["images"].as_array_mut().unwrap() {
                image["id"] = image["config"]["digest"].clone();
            }
        }
        self.entries.remove("SHA256SUMS");
        let sums: String = self
            .entries
            .iter()
            .map(|(name, data)| format!("{}  {name}\n", hex::encode(Sha256::digest(data))))
            .collect();
        self.entries.insert("SHA256SUMS".into(), sums.into_bytes());
        self.manifest["entries"] = self
            .entries
            .iter()
            .map(|(name, data)| {
                serde_json::json!({
                    "name": name,
                    "size": data.len(),
                    "sha256": hex::encode(Sha256::digest(data)),
                })
            })
            .collect();
        let mut zip = ZipWriter::new(
            File::create(to).unwrap(),
            DosTime::from_utc(time::OffsetDateTime::now_utc()),
        );
        zip.write_entry(
            MANIFEST,
            Compression::None,
            &serde_json::to_vec_pretty(&self.manifest).unwrap(),
        )
        .unwrap();
        for (name, data) in &self.entries {
            zip.write_entry(name, self.compression, data).unwrap();
        }
        if let Some(signature) = &self.signature {
            zip.write_entry(SIGNATURE, Compression::None, signature)
                .unwrap();
        }
        zip.finish().unwrap();
    }
}
