//! Opening a package: its ZIP directory and manifest are checked before any
//! entry is read, and entries are read straight from the file, each checked
//! against its SHA-256 as it streams.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::layout;
use super::manifest::{EntryDigest, Manifest, FORMAT, FORMAT_VERSION};
use super::zip::{EntryInfo, ZipReader};
use super::PackageError;
use crate::progress::{Event, Reporter, Step, Throttle};
use crate::Cancel;

/// The largest manifest a package may have.
const MAX_MANIFEST: u64 = 16 << 20;

/// An opened package whose structure has been checked (not yet its data).
#[derive(Debug)]
pub struct Package {
    path: PathBuf,
    zip: ZipReader,
    manifest: Manifest,
    file_size: u64,
}

/// The outcome of a full verification.
#[derive(Debug, Clone, Serialize)]
pub struct VerifyReport {
    /// The package file.
    pub path: PathBuf,
    /// Entries checked (the manifest included).
    pub entries: usize,
    /// Uncompressed bytes checked.
    pub bytes: u64,
}

impl Package {
    /// Opens the package at `path` and checks its structure: the manifest is
    /// the first entry and of a known format version, every other entry is
    /// listed in it with its size, none is missing, duplicated or named
    /// outside the package's folders.
    pub fn open(path: &Path) -> Result<Self, PackageError> {
        let not_a_package = |detail: String| PackageError::NotAPackage {
            path: path.to_owned(),
            detail,
        };
        let file_size = std::fs::metadata(path)
            .map_err(|source| PackageError::Io {
                action: "open",
                path: path.to_owned(),
                source,
            })?
            .len();
        let zip = ZipReader::open(path).map_err(|e| not_a_package(e.to_string()))?;
        let first = zip
            .entries()
            .first()
            .ok_or_else(|| not_a_package("it is empty".into()))?;
        if first.name != layout::MANIFEST {
            return Err(not_a_package(format!(
                "its first entry is `{}`, not `{}`",
                first.name,
                layout::MANIFEST
            )));
        }
        let bytes = zip
            .read_small(first, MAX_MANIFEST)
            .map_err(|e| not_a_package(e.to_string()))?;
        let value: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| not_a_package(format!("its manifest is not JSON: {e}")))?;
        if value.get("format").and_then(|v| v.as_str()) != Some(FORMAT) {
            return Err(not_a_package("its manifest is of another format".into()));
        }
        let version = value
            .get("format_version")
            .and_then(|v| v.as_u64())
            .ok_or_else(|| not_a_package("its manifest has no format version".into()))?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(PackageError::UnsupportedVersion {
                path: path.to_owned(),
                version: version.min(u64::from(u32::MAX)) as u32,
                supported: FORMAT_VERSION,
            });
        }
        let manifest: Manifest = serde_json::from_value(value)
            .map_err(|e| not_a_package(format!("its manifest is not valid: {e}")))?;
        let package = Self {
            path: path.to_owned(),
            zip,
            manifest,
            file_size,
        };
        package.check_entries()?;
        package.check_contents()?;
        Ok(package)
    }

    /// The manifest agrees with itself: nodes are valid catalog nodes with
    /// their Compose files where the layout puts them, blob entries hold the
    /// digest their name says, and every blob of every image is listed with
    /// its size.
    fn check_contents(&self) -> Result<(), PackageError> {
        let nodes = crate::catalog::Catalog {
            nodes: self.manifest.nodes.iter().map(|n| n.node.clone()).collect(),
        };
        nodes.validate().map_err(|e| PackageError::NotAPackage {
            path: self.path.clone(),
            detail: e.to_string(),
        })?;
        for packaged in &self.manifest.nodes {
            let expected = layout::compose_entry(&packaged.node.service_name());
            if packaged.compose_file != expected || self.listed(&expected).is_none() {
                return Err(self.mismatch(
                    &packaged.compose_file,
                    "is not the Compose file of its node",
                ));
            }
        }
        for entry in &self.manifest.entries {
            if let Some(hex) = entry.name.strip_prefix(layout::BLOBS_DIR) {
                if entry.sha256 != hex {
                    return Err(
                        self.mismatch(&entry.name, "is listed with another digest than its name")
                    );
                }
            }
        }
        for image in &self.manifest.images {
            let blobs = [&image.manifest, &image.config]
                .into_iter()
                .chain(&image.layers);
            for blob in blobs {
                let name = layout::blob_entry(layout::hex_of(&blob.digest));
                if self.listed(&name).map(|e| e.size) != Some(blob.size) {
                    return Err(self.mismatch(
                        &name,
                        "is missing, or differs in size from the image that uses it",
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_entries(&self) -> Result<(), PackageError> {
        let mut seen = HashSet::new();
        for entry in self.zip.entries() {
            if !seen.insert(entry.name.as_str()) {
                return Err(self.mismatch(&entry.name, "appears twice"));
            }
            if !is_safe_name(&entry.name) {
                return Err(self.mismatch(&entry.name, "has a name that leaves the package"));
            }
            if entry.name == layout::MANIFEST {
                continue;
            }
            let listed = self
                .listed(&entry.name)
                .ok_or_else(|| self.mismatch(&entry.name, "is not listed in the manifest"))?;
            if listed.size != entry.size {
                return Err(self.mismatch(
                    &entry.name,
                    &format!("is {} bytes, the manifest says {}", entry.size, listed.size),
                ));
            }
        }
        let mut listed = HashSet::new();
        for digest in &self.manifest.entries {
            if !listed.insert(digest.name.as_str()) {
                return Err(self.mismatch(&digest.name, "is listed twice in the manifest"));
            }
            if self.zip.entry(&digest.name).is_none() {
                return Err(self.mismatch(&digest.name, "is listed in the manifest but missing"));
            }
        }
        Ok(())
    }

    /// The package file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The size of the package file.
    pub fn file_size(&self) -> u64 {
        self.file_size
    }

    /// The manifest.
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    fn listed(&self, name: &str) -> Option<&EntryDigest> {
        self.manifest.entries.iter().find(|e| e.name == name)
    }

    fn mismatch(&self, entry: &str, detail: &str) -> PackageError {
        PackageError::Mismatch {
            path: self.path.clone(),
            entry: entry.to_owned(),
            detail: detail.to_owned(),
        }
    }

    /// Opens a listed entry's data. The reader fails with an `InvalidData`
    /// error naming the entry if the data does not match its SHA-256 when it
    /// reaches the end.
    pub fn open_entry(&self, name: &str) -> Result<VerifiedReader, PackageError> {
        let listed = self
            .listed(name)
            .ok_or_else(|| self.mismatch(name, "is not listed in the manifest"))?;
        let info: &EntryInfo = self
            .zip
            .entry(name)
            .ok_or_else(|| self.mismatch(name, "is missing"))?;
        let inner = self
            .zip
            .open_entry(info)
            .map_err(|source| PackageError::Io {
                action: "read",
                path: self.path.clone(),
                source,
            })?;
        Ok(VerifiedReader {
            inner,
            hasher: Sha256::new(),
            expected: listed.sha256.clone(),
            name: name.to_owned(),
            done: false,
        })
    }

    /// Reads a whole listed entry of at most `max` bytes, checked against its
    /// SHA-256.
    pub fn read_small(&self, name: &str, max: u64) -> Result<Vec<u8>, PackageError> {
        let size = self.listed(name).map_or(0, |e| e.size);
        if size > max {
            return Err(self.mismatch(
                name,
                &format!("is {size} bytes, more than the {max} allowed"),
            ));
        }
        let mut data = Vec::with_capacity(size as usize);
        self.open_entry(name)?
            .read_to_end(&mut data)
            .map_err(|e| self.read_error(e))?;
        Ok(data)
    }

    /// Reads every entry and checks it against the manifest; the first
    /// mismatch is the error.
    pub fn verify(
        &self,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<VerifyReport, PackageError> {
        let total: u64 = self.manifest.entries.iter().map(|e| e.size).sum();
        reporter.report(Event::Started {
            step: Step::Verify,
            total: Some(total),
        });
        let mut progress = Throttle::new(Step::Verify);
        let mut buffer = vec![0; 1 << 20];
        for entry in &self.manifest.entries {
            let mut reader = self.open_entry(&entry.name)?;
            loop {
                let n = reader.read(&mut buffer).map_err(|e| self.read_error(e))?;
                if n == 0 {
                    break;
                }
                progress.add(n as u64, reporter);
                if cancel.is_cancelled() {
                    return Err(PackageError::Cancelled);
                }
            }
        }
        reporter.report(Event::Finished { step: Step::Verify });
        Ok(VerifyReport {
            path: self.path.clone(),
            entries: self.manifest.entries.len() + 1,
            bytes: total,
        })
    }

    /// Turns a read error of an entry into the package error it stands for.
    pub fn read_error(&self, error: io::Error) -> PackageError {
        match error.kind() {
            io::ErrorKind::InvalidData | io::ErrorKind::UnexpectedEof => {
                let text = error.to_string();
                let entry = text.split('`').nth(1).unwrap_or("?").to_owned();
                let detail = text.rsplit('`').next().unwrap_or("").trim().to_owned();
                PackageError::Mismatch {
                    path: self.path.clone(),
                    entry,
                    detail,
                }
            }
            _ => PackageError::Io {
                action: "read",
                path: self.path.clone(),
                source: error,
            },
        }
    }
}

/// Names stay inside the package: relative, `/`-separated, no `..`, `.` or
/// empty parts, no backslashes or drive letters.
fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('/')
        && !name.contains('\\')
        && !name.contains(':')
        && !name.contains('\0')
        && name
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..")
}

/// An entry's data, checked against its SHA-256 when it ends.
pub struct VerifiedReader {
    inner: Box<dyn Read + Send>,
    hasher: Sha256,
    expected: String,
    name: String,
    done: bool,
}

impl Read for VerifiedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.hasher.update(&buf[..n]);
        } else if !buf.is_empty() && !self.done {
            self.done = true;
            let actual = hex::encode(self.hasher.clone().finalize());
            if actual != self.expected {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "entry `{}` does not match its SHA-256 in the manifest",
                        self.name
                    ),
                ));
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::is_safe_name;

    #[test]
    fn names_outside_the_package_are_refused() {
        assert!(is_safe_name("images/blobs/sha256/abc"));
        for bad in [
            "../x",
            "a/../../x",
            "/etc/passwd",
            "a\\b",
            "C:/x",
            "a//b",
            "./a",
            "",
        ] {
            assert!(!is_safe_name(bad), "{bad}");
        }
    }
}
