//! The package as it is written: the ZIP writer and the one list of the
//! entries written so far, each with its size and SHA-256. The sources of a
//! package (the engine's export, registry blobs, model caches) hand it
//! entries; nothing flows back from them. An update package's writer also
//! knows what the base package holds: such a blob is left out, and recorded
//! as left out. [`PackageWriter::finish`] adds `SHA256SUMS` and the
//! manifest, which lists every entry.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::hasher::ThreadedHasher;
use super::layout;
use super::manifest::{Blob, EntryDigest, Manifest, PackageBase, PackagedImage};
use super::zip::{Compression, DosTime, EntryWriter, ZipOutput, ZipWriter};
use super::PackageError;
use crate::signing::{SigningKey, SIGNATURE_ENTRY};
use crate::Cancel;

/// The chunk size of the blob copy loop.
const CHUNK: usize = 1 << 20;

/// Where a package is written: its file, or the parts of a split package.
type Output = Box<dyn ZipOutput + Send>;

/// Writes the entries of one package.
pub(crate) struct PackageWriter {
    zip: ZipWriter<Output>,
    path: PathBuf,
    compression: Compression,
    entries: Vec<EntryDigest>,
    names: HashSet<String>,
    /// Hashes blobs beside the copy loop; started with the first blob.
    hasher: Option<ThreadedHasher>,
    base: Option<BaseHolds>,
    /// Blobs left out because the base holds them, by entry name.
    left_out: BTreeMap<String, Blob>,
}

/// What the base of an update package holds that this package may leave
/// out (see `since.rs`, which decides it).
#[derive(Debug, Clone)]
pub(crate) struct BaseHolds {
    /// The base's package id.
    pub package_id: String,
    /// The base's file name.
    pub file_name: Option<String>,
    /// The entry names (`images/blobs/sha256/<hex>`,
    /// `models/blobs/sha256/<hex>`) this package leaves out when it comes
    /// to them.
    pub entries: HashSet<String>,
    /// Layers of the engine's export the base holds at every place the
    /// package uses them: the base's blob, by the layer's chain ID. The
    /// package names that blob for the layer, whatever blob the export
    /// streams for it.
    pub layers: HashMap<String, Blob>,
    /// The diff IDs of those layers: a blob of the export that decompresses
    /// to one of them is left out.
    pub diff_ids: HashSet<String>,
}

/// A finished package.
pub(crate) struct Written {
    /// The manifest, listing every entry.
    pub manifest: Manifest,
    /// The manifest's bytes as stored: their SHA-256 is the package id.
    pub manifest_bytes: Vec<u8>,
    /// The size of the file.
    pub size: u64,
}

impl PackageWriter {
    /// Starts a package in `file` (a file, or the parts of a split
    /// package); `path` names it in messages; every entry gets the time
    /// `time`; `base`, for an update package, says what it leaves out.
    pub(crate) fn new(
        file: impl ZipOutput + Send + 'static,
        path: &Path,
        compression: Compression,
        time: DosTime,
        base: Option<BaseHolds>,
    ) -> Self {
        Self {
            zip: ZipWriter::new(Box::new(file) as Output, time),
            path: path.to_owned(),
            compression,
            entries: Vec::new(),
            names: HashSet::new(),
            hasher: None,
            base,
            left_out: BTreeMap::new(),
        }
    }

    /// Writes a small entry from memory.
    pub(crate) fn add(&mut self, name: &str, data: &[u8]) -> Result<(), PackageError> {
        self.zip
            .write_entry(name, self.compression, data)
            .map_err(|e| self.write_error(e))?;
        self.list(EntryDigest {
            name: name.to_owned(),
            size: data.len() as u64,
            sha256: hex::encode(Sha256::digest(data)),
        });
        Ok(())
    }

    /// Whether the package carries the entry `name` (written so far).
    pub(crate) fn carries(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// Whether the package needs nothing more of `blob` in `folder`: it is
    /// written already, or the base holds it (it is then recorded as left
    /// out). Ask before fetching a blob whose digest is known.
    pub(crate) fn has(&mut self, folder: &str, blob: &Blob) -> bool {
        let name = format!("{folder}{}", layout::hex_of(&blob.digest));
        let known = known(&self.names, self.base.as_ref(), &name);
        if known && !self.names.contains(&name) && !self.left_out.contains_key(&name) {
            tracing::debug!(entry = %name, size = blob.size, why = "the base package holds it", "left out");
            self.left_out.insert(name, blob.clone());
        }
        known
    }

    /// What the base of an update package holds, if it is one.
    pub(crate) fn base(&self) -> Option<&BaseHolds> {
        self.base.as_ref()
    }

    /// Streams `data` into an entry of `folder` named by its SHA-256, once:
    /// a blob already written, or held by the base, is dropped again.
    /// Errors reading `data` are turned into package errors by `read_error`.
    pub(crate) fn add_blob(
        &mut self,
        folder: &str,
        data: &mut dyn Read,
        cancel: &Cancel,
        read_error: &dyn Fn(io::Error) -> PackageError,
    ) -> Result<Blob, PackageError> {
        self.add_layer_blob(folder, data, None, cancel, read_error, &|_| None)
    }

    /// As [`PackageWriter::add_blob`], for a blob that may be a layer of
    /// the engine's export, of `media_type` (a compressed layer's): also
    /// dropped when the base holds its diff ID (see [`BaseHolds::diff_ids`]),
    /// which `diff_id` gives once `data` is read, from the blob's SHA-256 in
    /// hex.
    pub(crate) fn add_layer_blob(
        &mut self,
        folder: &str,
        data: &mut dyn Read,
        media_type: Option<&str>,
        cancel: &Cancel,
        read_error: &dyn Fn(io::Error) -> PackageError,
        diff_id: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Blob, PackageError> {
        let placeholder = format!("{folder}{}", "0".repeat(64));
        let mut entry = self
            .zip
            .start_entry(&placeholder, self.compression)
            .map_err(|e| write_error(&self.path, e))?;
        let hasher = started(&mut self.hasher, &self.path)?;
        let hex = copy(&mut entry, data, hasher, cancel, read_error)
            .map_err(|e| e.into_package_error(&self.path))?;
        let blob = Blob {
            digest: format!("sha256:{hex}"),
            size: entry.size(),
            media_type: media_type.map(str::to_owned),
        };
        let name = format!("{folder}{hex}");
        let held_layer = self
            .base
            .as_ref()
            .and_then(|base| diff_id(&hex).filter(|d| base.diff_ids.contains(d)));
        if known(&self.names, self.base.as_ref(), &name) || held_layer.is_some() {
            entry.discard().map_err(|e| write_error(&self.path, e))?;
            if let Some(diff_id) = held_layer {
                tracing::debug!(blob = %blob.digest, %diff_id, why = "the base package holds this layer (as another blob)", "left out");
            }
            self.has(folder, &blob);
        } else {
            entry
                .finish(Some(&name))
                .map_err(|e| write_error(&self.path, e))?;
            self.list(EntryDigest {
                name,
                size: blob.size,
                sha256: hex,
            });
        }
        Ok(blob)
    }

    /// Streams `data`, whose digest and size `blob` gives beforehand, into
    /// the entry of `folder` named by that digest, checking both as it
    /// passes: a blob that turns out otherwise fails, and the package is not
    /// finished. A blob the package [has](PackageWriter::has) is not read.
    pub(crate) fn add_known_blob(
        &mut self,
        folder: &str,
        blob: &Blob,
        data: &mut dyn Read,
        cancel: &Cancel,
        read_error: &dyn Fn(io::Error) -> PackageError,
    ) -> Result<(), PackageError> {
        if self.has(folder, blob) {
            return Ok(());
        }
        let name = format!("{folder}{}", layout::hex_of(&blob.digest));
        let hasher = started(&mut self.hasher, &self.path)?;
        let mut entry = self
            .zip
            .start_entry(&name, self.compression)
            .map_err(|e| write_error(&self.path, e))?;
        let hex = copy(
            &mut entry,
            &mut data.take(blob.size.saturating_add(1)),
            hasher,
            cancel,
            read_error,
        )
        .map_err(|e| e.into_package_error(&self.path))?;
        if hex != layout::hex_of(&blob.digest) || entry.size() != blob.size {
            return Err(PackageError::SourceDiffers {
                digest: blob.digest.clone(),
                size: blob.size,
                actual: format!("sha256:{hex}"),
                actual_size: entry.size(),
            });
        }
        entry.finish(None).map_err(|e| write_error(&self.path, e))?;
        self.list(EntryDigest {
            name,
            size: blob.size,
            sha256: hex,
        });
        Ok(())
    }

    /// Writes the image layout's documents for `images`, whose blobs are
    /// written (or left out for the base): `oci-layout`, the OCI index and
    /// Docker's `manifest.json`.
    pub(crate) fn add_image_layout(
        &mut self,
        images: &[PackagedImage],
    ) -> Result<(), PackageError> {
        for (name, data) in [
            (layout::OCI_LAYOUT, layout::oci_layout()),
            (layout::OCI_INDEX, layout::oci_index(images)),
            (layout::DOCKER_MANIFEST, layout::docker_manifest(images)),
        ] {
            self.add(name, &data)?;
        }
        Ok(())
    }

    fn list(&mut self, entry: EntryDigest) {
        self.names.insert(entry.name.clone());
        self.entries.push(entry);
    }

    fn write_error(&self, source: io::Error) -> PackageError {
        write_error(&self.path, source)
    }

    /// Writes `SHA256SUMS`, then `manifest` with every entry listed, what
    /// was left out for the base, and the lowest format version that reads
    /// it, as the last entry of the file and the first of its central
    /// directory; then, when a key is given, the manifest's signature.
    pub(crate) fn finish(
        mut self,
        mut manifest: Manifest,
        key: Option<&SigningKey>,
    ) -> Result<Written, PackageError> {
        let sums: String = self
            .entries
            .iter()
            .map(|e| format!("{}  {}\n", e.sha256, e.name))
            .collect();
        self.add(layout::SHA256SUMS, sums.as_bytes())?;
        manifest.entries = std::mem::take(&mut self.entries);
        manifest.base = self.base.take().map(|base| {
            let of = |folder: &str| -> Vec<Blob> {
                self.left_out
                    .iter()
                    .filter(|(name, _)| name.starts_with(folder))
                    .map(|(_, blob)| blob.clone())
                    .collect()
            };
            PackageBase {
                package_id: base.package_id,
                file_name: base.file_name,
                blobs: of(layout::BLOBS_DIR),
                model_files: of(layout::MODEL_BLOBS_DIR),
            }
        });
        if let Some(base) = &manifest.base {
            tracing::info!(
                base = %base.package_id,
                blobs = base.blobs.len(),
                model_files = base.model_files.len(),
                bytes = base.savings(),
                "update package: left out what the base holds"
            );
        }
        manifest.format_version = manifest.version_needed();
        let mut manifest_bytes =
            serde_json::to_vec_pretty(&manifest).expect("the manifest serializes");
        manifest_bytes.push(b'\n');
        self.zip
            .write_entry(layout::MANIFEST, Compression::None, &manifest_bytes)
            .map_err(|e| write_error(&self.path, e))?;
        self.zip.list_first(layout::MANIFEST);
        if let Some(key) = key {
            let id = hex::encode(Sha256::digest(&manifest_bytes));
            let signature = key.sign(&manifest_bytes, &id)?;
            self.zip
                .write_entry(SIGNATURE_ENTRY, Compression::None, &signature)
                .map_err(|e| write_error(&self.path, e))?;
        }
        let finished = self.zip.finish().map_err(|e| write_error(&self.path, e))?;
        Ok(Written {
            manifest,
            manifest_bytes,
            size: finished.size,
        })
    }
}

/// Whether the entry `name` is written already (one of `names`) or held
/// by the base.
fn known(names: &HashSet<String>, base: Option<&BaseHolds>, name: &str) -> bool {
    names.contains(name) || base.is_some_and(|base| base.entries.contains(name))
}

/// Why a copy into an entry stopped.
enum CopyError {
    /// Reading the source failed (already a package error).
    Read(PackageError),
    /// Writing the package failed.
    Write(io::Error),
}

impl CopyError {
    fn into_package_error(self, path: &Path) -> PackageError {
        match self {
            CopyError::Read(e) => e,
            CopyError::Write(e) => write_error(path, e),
        }
    }
}

/// The writer's hashing thread, started now if it is not yet.
fn started<'a>(
    hasher: &'a mut Option<ThreadedHasher>,
    path: &Path,
) -> Result<&'a mut ThreadedHasher, PackageError> {
    match hasher {
        Some(running) => Ok(running),
        None => Ok(hasher.insert(ThreadedHasher::start(CHUNK).map_err(|e| write_error(path, e))?)),
    }
}

/// Copies `data` into `entry`, hashed on `hasher`'s thread as it passes;
/// returns the SHA-256 in hex.
fn copy(
    entry: &mut EntryWriter<'_, Output>,
    data: &mut dyn Read,
    hasher: &mut ThreadedHasher,
    cancel: &Cancel,
    read_error: &dyn Fn(io::Error) -> PackageError,
) -> Result<String, CopyError> {
    let copied = copy_chunks(entry, data, hasher, cancel, read_error);
    // Always finished, so that a failed copy leaves nothing for the next.
    let digest = hasher.finish().map_err(CopyError::Write)?;
    copied.map(|()| digest)
}

fn copy_chunks(
    entry: &mut EntryWriter<'_, Output>,
    data: &mut dyn Read,
    hasher: &mut ThreadedHasher,
    cancel: &Cancel,
    read_error: &dyn Fn(io::Error) -> PackageError,
) -> Result<(), CopyError> {
    loop {
        let mut buffer = hasher.buffer().map_err(CopyError::Write)?;
        // Sources hand out small pieces (an engine's stream, 32 KiB): the
        // buffer is filled, so writes and hand-overs stay few.
        let mut n = 0;
        while n < buffer.len() {
            match data.read(&mut buffer[n..]) {
                Ok(0) => break,
                Ok(read) => n += read,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    hasher.give_back(buffer);
                    return Err(CopyError::Read(read_error(e)));
                }
            }
        }
        if n == 0 {
            hasher.give_back(buffer);
            return Ok(());
        }
        if let Err(e) = entry.write_all(&buffer[..n]) {
            hasher.give_back(buffer);
            return Err(CopyError::Write(e));
        }
        hasher.hash(buffer, n).map_err(CopyError::Write)?;
        if cancel.is_cancelled() {
            return Err(CopyError::Read(PackageError::Cancelled));
        }
    }
}

/// A write error of the package file at `path`.
pub(crate) fn write_error(path: &Path, source: io::Error) -> PackageError {
    PackageError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writer(dir: &Path, base: Option<BaseHolds>) -> PackageWriter {
        let path = dir.join("p.zip");
        let file = std::fs::File::create(&path).unwrap();
        let time = DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH);
        PackageWriter::new(file, &path, Compression::None, time, base)
    }

    fn blob_of(data: &[u8]) -> Blob {
        Blob::plain(
            format!("sha256:{}", hex::encode(Sha256::digest(data))),
            data.len() as u64,
        )
    }

    fn unreadable(e: io::Error) -> PackageError {
        PackageError::Io {
            action: "read",
            path: "source".into(),
            source: e,
        }
    }

    #[test]
    fn a_known_blob_that_arrives_otherwise_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut package = writer(dir.path(), None);
        let cancel = Cancel::new();
        let expected = blob_of(b"the layer");
        let error = package
            .add_known_blob(
                layout::BLOBS_DIR,
                &expected,
                &mut b"the layeR".as_slice(),
                &cancel,
                &unreadable,
            )
            .unwrap_err();
        assert!(
            matches!(error, PackageError::SourceDiffers { .. }),
            "{error}"
        );
        let longer = blob_of(b"the");
        let error = package
            .add_known_blob(
                layout::BLOBS_DIR,
                &longer,
                &mut b"the layer".as_slice(),
                &cancel,
                &unreadable,
            )
            .unwrap_err();
        assert!(
            error.to_string().contains("(3 bytes) arrived as"),
            "{error}"
        );
    }

    #[test]
    fn what_the_base_holds_is_left_out_and_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let held = blob_of(b"held by the base");
        let base = BaseHolds {
            package_id: "ab".repeat(32),
            file_name: Some("old.zip".into()),
            entries: HashSet::from([
                layout::blob_entry(layout::hex_of(&held.digest)),
                layout::model_blob_entry(layout::hex_of(&blob_of(b"model").digest)),
            ]),
            layers: HashMap::new(),
            diff_ids: HashSet::new(),
        };
        let mut package = writer(dir.path(), Some(base));
        let cancel = Cancel::new();
        let streamed = package
            .add_blob(
                layout::BLOBS_DIR,
                &mut b"held by the base".as_slice(),
                &cancel,
                &unreadable,
            )
            .unwrap();
        assert_eq!(streamed, held);
        assert!(package.has(layout::BLOBS_DIR, &held));
        package
            .add_blob(
                layout::MODEL_BLOBS_DIR,
                &mut b"model".as_slice(),
                &cancel,
                &unreadable,
            )
            .unwrap();
        let new = blob_of(b"new");
        assert!(!package.has(layout::BLOBS_DIR, &new));
        package
            .add_known_blob(
                layout::BLOBS_DIR,
                &new,
                &mut b"new".as_slice(),
                &cancel,
                &unreadable,
            )
            .unwrap();
        let manifest: Manifest = serde_json::from_value(serde_json::json!({
            "format": "budgetguard-install-package", "format_version": 0,
            "tool_version": "0", "created": "", "source_engine": "", "compression": "none",
            "nodes": [], "images": [], "entries": [],
        }))
        .unwrap();
        let written = package.finish(manifest, None).unwrap();
        let base = written.manifest.base.unwrap();
        assert_eq!(base.blobs, [held]);
        assert_eq!(base.model_files, [blob_of(b"model")]);
        assert_eq!(written.manifest.format_version, 3);
        let names: Vec<&str> = written
            .manifest
            .entries
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(
            names,
            [
                layout::blob_entry(layout::hex_of(&new.digest)).as_str(),
                layout::SHA256SUMS
            ]
        );
    }
}
