//! The package as it is written: the ZIP writer and the one list of the
//! entries written so far, each with its size and SHA-256. The sources of a
//! package (the engine's export, model caches) hand it entries; nothing flows
//! back from them. [`PackageWriter::finish`] adds `SHA256SUMS` and the
//! manifest, which lists every entry.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::layout;
use super::manifest::{Blob, EntryDigest, Manifest};
use super::zip::{Compression, DosTime, ZipWriter};
use super::PackageError;
use crate::signing::{SigningKey, SIGNATURE_ENTRY};
use crate::Cancel;

/// The chunk size of the blob copy loop.
const CHUNK: usize = 1 << 20;

/// Writes the entries of one package.
pub(crate) struct PackageWriter {
    zip: ZipWriter,
    path: PathBuf,
    compression: Compression,
    entries: Vec<EntryDigest>,
    names: HashSet<String>,
    buffer: Vec<u8>,
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
    /// Starts a package in `file`; `path` names it in messages.
    pub(crate) fn new(file: File, path: &Path, compression: Compression, time: DosTime) -> Self {
        Self {
            zip: ZipWriter::new(file, time),
            path: path.to_owned(),
            compression,
            entries: Vec::new(),
            names: HashSet::new(),
            buffer: vec![0; CHUNK],
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

    /// Streams `data` into an entry of `folder` named by its SHA-256, once:
    /// a blob already written is dropped again. Errors reading `data` are
    /// turned into package errors by `read_error`.
    pub(crate) fn add_blob(
        &mut self,
        folder: &str,
        data: &mut dyn Read,
        cancel: &Cancel,
        read_error: &dyn Fn(io::Error) -> PackageError,
    ) -> Result<Blob, PackageError> {
        let placeholder = format!("{folder}{}", "0".repeat(64));
        let mut entry = self
            .zip
            .start_entry(&placeholder, self.compression)
            .map_err(|e| write_error(&self.path, e))?;
        let mut hasher = Sha256::new();
        loop {
            let n = match data.read(&mut self.buffer) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_error(e)),
            };
            hasher.update(&self.buffer[..n]);
            entry
                .write_all(&self.buffer[..n])
                .map_err(|e| write_error(&self.path, e))?;
            if cancel.is_cancelled() {
                return Err(PackageError::Cancelled);
            }
        }
        let hex = hex::encode(hasher.finalize());
        let size = entry.size();
        let name = format!("{folder}{hex}");
        if self.names.contains(&name) {
            entry.discard().map_err(|e| write_error(&self.path, e))?;
        } else {
            entry
                .finish(Some(&name))
                .map_err(|e| write_error(&self.path, e))?;
            self.list(EntryDigest {
                name,
                size,
                sha256: hex.clone(),
            });
        }
        Ok(Blob {
            digest: format!("sha256:{hex}"),
            size,
        })
    }

    fn list(&mut self, entry: EntryDigest) {
        self.names.insert(entry.name.clone());
        self.entries.push(entry);
    }

    fn write_error(&self, source: io::Error) -> PackageError {
        write_error(&self.path, source)
    }

    /// Writes `SHA256SUMS`, then `manifest` with every entry listed, as the
    /// last entry of the file and the first of its central directory; then,
    /// when a key is given, the manifest's signature.
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
        manifest.entries = self.entries;
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

/// A write error of the package file at `path`.
pub(crate) fn write_error(path: &Path, source: io::Error) -> PackageError {
    PackageError::Io {
        action: "write",
        path: path.to_owned(),
        source,
    }
}
