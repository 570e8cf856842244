//! Opening a package: its ZIP structure and manifest are checked before any
//! entry is read, and entries are read straight from the file, each checked
//! against its SHA-256 as it streams.

mod fallback;
mod structure;

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::error::{ChecksumError, EntryProblem, Structure};
use super::http::{is_url, redacted, HttpError, HttpOptions, HttpSource};
use super::layout;
use super::manifest::{EntryDigest, Manifest};
use super::oci::{is_oci, OciAddress, OciError, OciSource};
use super::split::{PartError, SplitParts};
use super::zip::{DataError, FileSource, PackageSource, ZipError, ZipReader};
use super::PackageError;
use crate::progress::{Event, Reporter, Step, Throttle};
use crate::registry::RegistryError;
use crate::signing::{Signer, TrustedKey, MAX_SIGNATURE, SIGNATURE_ENTRY};
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
    /// The package id: the SHA-256 of the manifest entry, in hex.
    id: String,
    /// The manifest as stored (what a signature covers).
    manifest_bytes: Vec<u8>,
    /// The manifest's minisign signature, when the package is signed.
    signature: Option<Vec<u8>>,
    /// The manifest's entries by name.
    listed: HashMap<String, usize>,
    /// The parts, when the package is split.
    parts: Option<Arc<SplitParts>>,
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
    /// Opens the package at `path` and checks its structure: a ZIP file that
    /// every reader reads alike (see [`ZipReader::open`]), whose first entry is
    /// a manifest of a known format version; every other entry is listed in
    /// the manifest with its size, none is missing, and the manifest agrees
    /// with itself.
    /// A part of a split package, its part list or its name beside them
    /// opens the parts (see [`Package::open_parts`]).
    pub fn open(path: &Path) -> Result<Self, PackageError> {
        if SplitParts::is_split(path) {
            return Self::open_parts(&[path.to_owned()]);
        }
        let source = FileSource::open(path).map_err(|source| PackageError::Io {
            action: "open",
            path: path.to_owned(),
            source,
        })?;
        Self::open_source(Arc::new(source))
    }

    /// Opens the package in `source` and checks it as [`Package::open`]
    /// checks a file; messages name it by its description.
    pub fn open_source(source: Arc<dyn PackageSource>) -> Result<Self, PackageError> {
        let path = &source.description().to_owned();
        let not_a_package = |problem| PackageError::NotAPackage {
            path: path.to_owned(),
            problem,
        };
        let file_size = source.size();
        let zip = ZipReader::from_source(source).map_err(|e| zip_error(path, e))?;
        let first = zip
            .entries()
            .first()
            .ok_or_else(|| not_a_package(Structure::Empty))?;
        if first.name != layout::MANIFEST {
            return Err(not_a_package(Structure::ManifestNotFirst(
                first.name.clone(),
            )));
        }
        let bytes = zip
            .read_small(first, MAX_MANIFEST)
            .map_err(|e| zip_error(path, e))?;
        let manifest = structure::parse_manifest(path, &bytes)?;
        let mut listed = HashMap::with_capacity(manifest.entries.len());
        for (i, entry) in manifest.entries.iter().enumerate() {
            if listed.insert(entry.name.clone(), i).is_some() {
                return Err(mismatch(path, &entry.name, EntryProblem::ListedTwice));
            }
        }
        let signature = match zip.entry(SIGNATURE_ENTRY) {
            Some(entry) => Some(
                zip.read_small(entry, MAX_SIGNATURE)
                    .map_err(|e| zip_error(path, e))?,
            ),
            None => None,
        };
        let package = Self {
            path: path.to_owned(),
            zip,
            manifest,
            file_size,
            id: hex::encode(Sha256::digest(&bytes)),
            manifest_bytes: bytes,
            signature,
            listed,
            parts: None,
        };
        package.check_entries()?;
        package.check_contents()?;
        Ok(package)
    }

    /// Opens the package `given`: one file (see [`Package::open`]), or the
    /// parts of a split package given one by one.
    pub fn open_given(given: &[PathBuf]) -> Result<Self, PackageError> {
        match given {
            [one] => Self::open(one),
            parts => Self::open_parts(parts),
        }
    }

    /// Opens the package `given` as [`Package::open_given`] does, or, when
    /// it is one URL, on its server (see [`Package::open_url`]) or its
    /// registry (`oci://`, see [`Package::open_oci`]). Call it from a
    /// blocking thread.
    pub fn open_given_with(given: &[PathBuf], http: &HttpOptions) -> Result<Self, PackageError> {
        fn url(path: &Path) -> Option<&str> {
            path.to_str().filter(|s| is_url(s))
        }
        match given {
            [one] => match url(one) {
                Some(address) if is_oci(address) => Self::open_oci(address, http),
                Some(address) => Self::open_url(address, http),
                None => Self::open(one),
            },
            parts => match parts.iter().find_map(|part| url(part)) {
                // Parts are read from files; a package on a server is one file.
                Some(address) => Err(HttpError::BadAddress {
                    given: redacted(address),
                    detail: "parts of a split package are read from files only".into(),
                }
                .into()),
                None => Self::open_parts(parts),
            },
        }
    }

    /// Opens the package at `url` in place, on a server that answers range
    /// requests: only its end, directory and headers are fetched here, and
    /// each entry read later is one range request. Checked as
    /// [`Package::open`] checks a file. Call it from a blocking thread.
    pub fn open_url(url: &str, http: &HttpOptions) -> Result<Self, PackageError> {
        let source = HttpSource::open(url, http)?;
        Self::open_source(Arc::new(source))
    }

    /// Opens the package published to a registry at `address`
    /// (`oci://registry/repository:tag`) in place: its skeleton is fetched
    /// here, and each large entry read later is its blob. Checked as
    /// [`Package::open`] checks a file, and must be the package its
    /// publication names. Call it from a blocking thread.
    pub fn open_oci(address: &str, http: &HttpOptions) -> Result<Self, PackageError> {
        let address = OciAddress::parse(address)?;
        let source = Arc::new(OciSource::open(&address, http)?);
        let package = Self::open_source(source.clone())?;
        if package.id != source.package_id() {
            return Err(OciError::OtherPackage {
                reference: address.to_string(),
                expected: source.package_id().to_owned(),
                actual: package.id,
            }
            .into());
        }
        Ok(package)
    }

    /// Opens a split package in place from its parts `given` (one part,
    /// its list or its name, the others beside it; or every part): each
    /// part is there with its listed size, then the joined parts are
    /// checked as [`Package::open`] checks a file, and must be the package
    /// their list names. A joined package that is no package is checked
    /// part by part, so the damaged part is named.
    pub fn open_parts(given: &[PathBuf]) -> Result<Self, PackageError> {
        let parts = Arc::new(SplitParts::open(given)?);
        let mut package = Self::open_source(parts.clone()).map_err(|e| {
            match parts.check(&crate::progress::Silent, &Cancel::default()) {
                Ok(()) => e,
                Err(part) => part,
            }
        })?;
        parts.check_package(&package.id)?;
        package.parts = Some(parts);
        Ok(package)
    }

    /// For a split package, reads every part and checks it against its
    /// part list; the first part that differs is the error, named by its
    /// number. Nothing for a package in one file.
    pub fn check_parts(
        &self,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<(), PackageError> {
        match &self.parts {
            Some(parts) => parts.check(reporter, cancel),
            None => Ok(()),
        }
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

    /// The package id: the SHA-256 of its manifest, which lists the SHA-256
    /// of every other entry (the same id `create-install-package` prints).
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Who signed the package, checked against the keys `trusted`.
    pub fn signer(&self, trusted: &[TrustedKey]) -> Signer {
        crate::signing::check(
            self.signature.as_deref(),
            &self.manifest_bytes,
            &self.id,
            trusted,
        )
    }

    /// For a split package, who signed its part list, of the keys
    /// `trusted` (a list whose signature does not match it is refused);
    /// `None` for a package in one file.
    pub fn parts_signer(&self, trusted: &[TrustedKey]) -> Result<Option<Signer>, PackageError> {
        match &self.parts {
            Some(parts) => Ok(Some(parts.list_signer(trusted)?)),
            None => Ok(None),
        }
    }

    /// Whether the package carries the entry `name` (an update package
    /// leaves out what its base holds).
    pub fn carries(&self, name: &str) -> bool {
        self.listed.contains_key(name)
    }

    /// The ZIP directory.
    pub(crate) fn zip(&self) -> &ZipReader {
        &self.zip
    }

    /// The SHA-256 (hex) of the entry `name`'s data, as the manifest lists
    /// it.
    pub(crate) fn listed_sha256(&self, name: &str) -> Option<&str> {
        self.listed(name).map(|e| e.sha256.as_str())
    }

    /// The bytes of an entry the manifest cannot list: the manifest itself
    /// and its signature.
    pub(crate) fn unlisted_entry(&self, name: &str) -> Option<&[u8]> {
        match name {
            layout::MANIFEST => Some(&self.manifest_bytes),
            SIGNATURE_ENTRY => self.signature.as_deref(),
            _ => None,
        }
    }

    /// The manifest's record of the entry `name`.
    fn listed(&self, name: &str) -> Option<&EntryDigest> {
        self.listed.get(name).map(|&i| &self.manifest.entries[i])
    }

    /// An entry that differs from the manifest; in a split package, named
    /// with the parts its bytes are in.
    fn mismatch(&self, entry: &str, problem: EntryProblem) -> PackageError {
        let in_parts = self
            .parts
            .as_ref()
            .zip(self.zip.entry(entry))
            .map(|(parts, info)| parts.holding(info.data_start, info.compressed_size));
        match in_parts {
            Some(parts) => PartError::Entry {
                entry: entry.to_owned(),
                problem: problem.to_string(),
                parts,
            }
            .into(),
            None => mismatch(&self.path, entry, problem),
        }
    }

    /// Opens a listed entry's data. The reader fails with an error that
    /// [`Package::read_error`] turns into the package error it stands for:
    /// data beyond or short of the recorded size, not matching its CRC-32
    /// or, when it reaches the end, its SHA-256.
    pub fn open_entry(&self, name: &str) -> Result<VerifiedReader, PackageError> {
        let listed = self
            .listed(name)
            .ok_or_else(|| self.mismatch(name, EntryProblem::NotListed))?;
        let info = self
            .zip
            .entry(name)
            .ok_or_else(|| self.mismatch(name, EntryProblem::Missing))?;
        let inner = self.zip.open_entry(info).map_err(|e| self.read_error(e))?;
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
            return Err(self.mismatch(name, EntryProblem::TooLarge { size, max }));
        }
        let mut data = Vec::with_capacity(size as usize);
        self.open_entry(name)?
            .read_to_end(&mut data)
            .map_err(|e| self.read_error(e))?;
        Ok(data)
    }

    /// Checks that the files the fallback installer trusts agree with the
    /// manifest, then reads every entry and checks it against the manifest;
    /// the first mismatch is the error.
    pub fn verify(
        &self,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<VerifyReport, PackageError> {
        self.check_parts(reporter, cancel)?;
        self.check_fallback_files()?;
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

    /// Turns an error of a reader from [`Package::open_entry`] into the
    /// package error it stands for: the entry and its problem travel inside
    /// the `io::Error` as typed errors; anything else is a read error of the
    /// file.
    pub fn read_error(&self, error: io::Error) -> PackageError {
        let error = match error.downcast::<DataError>() {
            Ok(data) => return self.mismatch(&data.entry, EntryProblem::Data(data.problem)),
            Err(other) => other,
        };
        match error.downcast::<ChecksumError>() {
            Ok(checksum) => self.mismatch(&checksum.entry, EntryProblem::Sha256),
            Err(source) => io_error(&self.path, source),
        }
    }
}

fn mismatch(path: &Path, entry: &str, problem: EntryProblem) -> PackageError {
    PackageError::Mismatch {
        path: path.to_owned(),
        entry: entry.to_owned(),
        problem,
    }
}

/// A read error of the package: the server's own error when it is read over
/// HTTP, the registry's when it is read from one (`oci://`), else a file's.
fn io_error(path: &Path, source: io::Error) -> PackageError {
    match source.downcast::<HttpError>() {
        Ok(http) => PackageError::Http(http),
        Err(source) => match source.downcast::<RegistryError>() {
            Ok(registry) => PackageError::Registry(registry),
            Err(source) => PackageError::Io {
                action: "read",
                path: path.to_owned(),
                source,
            },
        },
    }
}

/// Whether an I/O error of a package's reader is its remote source's (a
/// server's or a registry's), not this machine's.
pub(crate) fn is_remote_error(error: &io::Error) -> bool {
    error
        .get_ref()
        .is_some_and(|e| e.is::<HttpError>() || e.is::<RegistryError>())
}

/// The package error a refusal of the ZIP reader stands for.
fn zip_error(path: &Path, error: ZipError) -> PackageError {
    match error {
        ZipError::Io(source) => io_error(path, source),
        ZipError::Data(data) => mismatch(path, &data.entry, EntryProblem::Data(data.problem)),
        ZipError::TooLarge { entry, size, max } => {
            mismatch(path, &entry, EntryProblem::TooLarge { size, max })
        }
        other => PackageError::NotAPackage {
            path: path.to_owned(),
            problem: Structure::Zip(other),
        },
    }
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
                    ChecksumError {
                        entry: self.name.clone(),
                    },
                ));
            }
        }
        Ok(n)
    }
}
