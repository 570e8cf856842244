//! Writing a package's model caches into the install folder,
//! `<install dir>/models/<cache>/`, shared by the nodes of each cache.
//!
//! A cache changes version by version, never in place: the new version is
//! written beside the live one, in `models/.staging/<cache>/`, and switched
//! with it in one rename (an exchange of the two folders) only once every
//! image and file of the run is in place and checked. A file the live
//! version has already is hard-linked into the new one, neither copied nor
//! moved, so an upgrade needs the disk of the changed files only. Until
//! the switch the live version is untouched, byte for byte, and a running
//! node keeps serving from it (its container holds the folder, not the
//! name); after it, the node's container is made anew and the previous
//! version, with the files the new one no longer has, is removed. Where the
//! file system cannot exchange two names in one rename (NFS, CIFS, OpenZFS
//! before 2.2), the switch takes three, and a run stopped between them is
//! completed or undone by what is on disk.
//!
//! Each new file streams from its entry into a temporary name beside its
//! place, its SHA-256 checked on the way, and is renamed into place only
//! when it matches. A log beside each version (`<cache>.files`) records
//! each file, with its size, times and inode: a file the log vouches for is
//! not read again, so a second install (or one that resumes an interrupted
//! one, from its staged files) is fast. A file already there that the log
//! does not know is hashed once and kept if it matches. Nothing is ever
//! written through a link, and nothing is made world-writable: the folders
//! and files belong to the container's user when the tool runs as root.

use std::collections::{HashMap, HashSet};
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::dir::{remove_any, write_atomic, InstallDir};
use super::InstallError;
use crate::digest::HashWriter;
use crate::package::layout;
use crate::package::manifest::{CacheFile, PackagedCache};
use crate::package::Package;
use crate::progress::{Counted, Event, Reporter, Step, Throttle, Warning};
use crate::Cancel;

/// The user NIM containers run as: it owns the caches.
pub(crate) const CONTAINER_UID: u32 = 1000;

/// What placing the caches did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ModelsReport {
    /// Files written.
    pub written: usize,
    /// Bytes written.
    pub written_bytes: u64,
    /// Files already in place.
    pub present: usize,
}

/// One line of a cache's log: a file this tool put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Logged {
    sha256: String,
    size: u64,
    mtime: i128,
    ino: u64,
    /// The inode's change time, which no program can set back (a container
    /// that rewrites a file and resets its modification time changes it).
    ctime: i128,
}

impl Logged {
    /// The line a log would hold for `file`, found as `meta` says.
    fn of(meta: &std::fs::Metadata, file: &CacheFile) -> Self {
        Self {
            sha256: file.sha256.clone(),
            size: meta.len(),
            mtime: mtime_of(meta),
            ino: meta.ino(),
            ctime: ctime_of(meta),
        }
    }
}

/// The caches of a package and what is in place already.
pub(crate) struct ModelPlan {
    caches: Vec<CachePlan>,
    /// The first file the package leaves out (its base holds it) that is
    /// nowhere on this workstation.
    missing: Option<String>,
}

struct CachePlan {
    cache: PackagedCache,
    /// The live version's log.
    log: HashMap<String, Logged>,
    /// The staged version's log (a run that was interrupted).
    staged: HashMap<String, Logged>,
    /// Files in place in the live version that its log does not know
    /// (hashed once, here).
    unlogged: HashMap<String, Logged>,
    /// Files the package leaves out that are at another place here: copied
    /// from there, by path.
    copies: HashMap<String, PathBuf>,
    /// Whether the live version differs from the package's: a new version
    /// is staged and switched.
    changes: bool,
}

/// The bytes an install of `package` writes into the install folder `dir`:
/// the model files of each cache that changes which neither its live nor a
/// staged version holds (the others are linked). What the install's own
/// free-space check asks of the folder.
pub fn model_bytes_to_write(dir: &InstallDir, package: &Package) -> Result<u64, InstallError> {
    Ok(ModelPlan::new(dir, package)?.bytes_to_write(dir))
}

impl ModelPlan {
    /// Reads each cache's logs: what the install can skip, and whether the
    /// cache changes at all. For an update package, finds each file it
    /// leaves out: in place already, or at a place a log vouches for (to
    /// copy from), or missing.
    pub(crate) fn new(dir: &InstallDir, package: &Package) -> Result<Self, InstallError> {
        let mut caches = Vec::new();
        for cache in &package.manifest().caches {
            let root = dir.models_dir(&cache.name);
            let log = read_log(&dir.models_log(&cache.name))?;
            let mut unlogged = HashMap::new();
            let mut changes = !root.is_dir();
            for file in &cache.files {
                if vouched(&log, &root, file) {
                    continue;
                }
                // The log vouches for other content at that place: no need
                // to read the file to know it changes.
                if log
                    .get(&file.path)
                    .is_some_and(|logged| unchanged(logged, &root.join(&file.path)))
                {
                    changes = true;
                    continue;
                }
                // Hashed even when the cache changes anyway: a staged
                // version links it, and an update package may not carry it.
                if let Some(found) = holds_file(&root, &file.path, file)? {
                    unlogged.insert(file.path.clone(), found);
                } else {
                    changes = true;
                }
            }
            changes = changes
                || cache.links.iter().any(|link| {
                    std::fs::read_link(root.join(&link.path)).ok().as_deref()
                        != Some(Path::new(&link.target))
                })
                || cache.dirs.iter().any(|d| !root.join(d).is_dir());
            caches.push(CachePlan {
                cache: cache.clone(),
                log,
                staged: read_log(&dir.staged_log(&cache.name))?,
                unlogged,
                copies: HashMap::new(),
                changes,
            });
        }
        // Where this workstation has each content, as the logs of its
        // caches (this package's and any other) vouch for it.
        let mut vouched_content: HashMap<String, PathBuf> = HashMap::new();
        let mut logs: Vec<(String, HashMap<String, Logged>)> = caches
            .iter()
            .map(|plan| (plan.cache.name.clone(), plan.log.clone()))
            .collect();
        if package.manifest().base.is_some() {
            for name in other_caches(dir, &caches)? {
                let log = read_log(&dir.models_log(&name))?;
                logs.push((name, log));
            }
        }
        for (name, log) in &logs {
            let root = dir.models_dir(name);
            for (path, logged) in log {
                let at = root.join(path);
                if unchanged(logged, &at) {
                    vouched_content.entry(logged.sha256.clone()).or_insert(at);
                }
            }
        }
        let mut missing = None;
        for plan in &mut caches {
            let root = dir.models_dir(&plan.cache.name);
            let staged = dir.staged_dir(&plan.cache.name);
            for file in &plan.cache.files {
                if package.carries(&layout::model_blob_entry(&file.sha256))
                    || vouched(&plan.log, &root, file)
                    || plan.unlogged.contains_key(&file.path)
                    || vouched(&plan.staged, &staged, file)
                {
                    continue;
                }
                match vouched_content.get(&file.sha256) {
                    Some(source) => {
                        plan.copies.insert(file.path.clone(), source.clone());
                    }
                    None => {
                        missing.get_or_insert_with(|| {
                            format!(
                                "the model file `{}` of cache `{}`",
                                file.path, plan.cache.name
                            )
                        });
                    }
                }
            }
        }
        Ok(Self { caches, missing })
    }

    /// The first file the package leaves out that this workstation lacks,
    /// named for a message.
    pub(crate) fn missing(&self) -> Option<&str> {
        self.missing.as_deref()
    }

    /// The caches whose new version is staged and switched.
    pub(crate) fn changing(&self) -> impl Iterator<Item = &str> {
        self.caches
            .iter()
            .filter(|plan| plan.changes)
            .map(|plan| plan.cache.name.as_str())
    }

    /// The bytes still to write: files neither version's log vouches for
    /// (a file of the live version is linked, not written).
    pub(crate) fn bytes_to_write(&self, dir: &InstallDir) -> u64 {
        self.caches
            .iter()
            .filter(|plan| plan.changes)
            .flat_map(|plan| {
                let root = dir.models_dir(&plan.cache.name);
                let staged = dir.staged_dir(&plan.cache.name);
                plan.cache.files.iter().filter(move |f| {
                    !vouched(&plan.log, &root, f)
                        && !plan.unlogged.contains_key(&f.path)
                        && !vouched(&plan.staged, &staged, f)
                })
            })
            .map(|f| f.size)
            .sum()
    }

    /// Stages the new version of every cache that changes (the live one
    /// stays as it is until [`switch`]), and logs the files found in place
    /// unlogged in the others.
    pub(crate) fn place(
        &self,
        dir: &InstallDir,
        package: &Package,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<ModelsReport, InstallError> {
        let mut report = ModelsReport::default();
        if self.caches.is_empty() {
            return Ok(report);
        }
        reporter.report(Event::Started {
            step: Step::PlaceModels,
            total: Some(self.bytes_to_write(dir)),
        });
        let mut progress = Throttle::new(Step::PlaceModels);
        let mut run = Placing {
            dir,
            package,
            reporter,
            cancel,
            progress: &mut progress,
            report: &mut report,
            placed: HashMap::new(),
            buffer: vec![0; 1 << 20],
        };
        for plan in &self.caches {
            match plan.changes {
                true => run.stage(plan)?,
                false => run.log_unlogged(plan)?,
            }
        }
        reporter.report(Event::Finished {
            step: Step::PlaceModels,
        });
        Ok(report)
    }
}

/// One run writing caches.
struct Placing<'a> {
    dir: &'a InstallDir,
    package: &'a Package,
    reporter: &'a dyn Reporter,
    cancel: &'a Cancel,
    progress: &'a mut Throttle,
    report: &'a mut ModelsReport,
    /// Where this run put each content, by SHA-256.
    placed: HashMap<String, PathBuf>,
    buffer: Vec<u8>,
}

impl Placing<'_> {
    /// A cache that does not change: its files are all in place; those its
    /// log did not know are added to it.
    fn log_unlogged(&mut self, plan: &CachePlan) -> Result<(), InstallError> {
        self.report.present += plan.cache.files.len();
        if plan.unlogged.is_empty() {
            return Ok(());
        }
        let root = self.dir.models_dir(&plan.cache.name);
        let mut log = open_log(&self.dir.models_log(&plan.cache.name))?;
        for file in plan
            .cache
            .files
            .iter()
            .filter(|f| plan.unlogged.contains_key(&f.path))
        {
            log_line(&mut log, &root.join(&file.path), file)?;
        }
        Ok(())
    }

    /// Writes the cache's new version into its staging folder: files the
    /// live version has are linked, the others written; whatever else an
    /// earlier, interrupted run left there goes.
    fn stage(&mut self, plan: &CachePlan) -> Result<(), InstallError> {
        let cache = &plan.cache;
        let relative = InstallDir::staging_relative().join(&cache.name);
        self.folder(&relative)?;
        let root = self.dir.staged_dir(&cache.name);
        let live = self.dir.models_dir(&cache.name);
        prune(&root, cache)?;
        let log_path = self.dir.staged_log(&cache.name);
        let listed: HashSet<&str> = cache.files.iter().map(|f| f.path.as_str()).collect();
        keep_in_log(&log_path, &root, |path| listed.contains(path))?;
        let mut log = open_log(&log_path)?;
        for folder in &cache.dirs {
            self.folder(&relative.join(folder))?;
        }
        for file in &cache.files {
            if self.cancel.is_cancelled() {
                return Err(InstallError::Cancelled);
            }
            if let Some(parent) = Path::new(&file.path).parent() {
                self.folder(&relative.join(parent))?;
            }
            let target = root.join(&file.path);
            if vouched(&plan.staged, &root, file) {
                self.report.present += 1;
                continue;
            }
            let in_live = match vouched(&plan.log, &live, file) {
                true => plan.log.get(&file.path),
                false => plan.unlogged.get(&file.path),
            };
            if let Some(found) = in_live {
                link_or_copy(&live, &file.path, &target, found)?;
                self.report.present += 1;
            } else if holds_file(&root, &file.path, file)?.is_some() {
                self.report.present += 1;
            } else {
                self.write(&target, file, plan.copies.get(&file.path))?;
            }
            log_line(&mut log, &target, file)?;
        }
        for link in &cache.links {
            if let Some(parent) = Path::new(&link.path).parent() {
                self.folder(&relative.join(parent))?;
            }
            let path = root.join(&link.path);
            match std::fs::symlink_metadata(&path) {
                Ok(meta) if meta.file_type().is_symlink() => {
                    if std::fs::read_link(&path).ok().as_deref() == Some(Path::new(&link.target)) {
                        continue;
                    }
                    std::fs::remove_file(&path).map_err(InstallError::io("replace", &path))?;
                }
                Ok(meta) if meta.is_file() => {
                    std::fs::remove_file(&path).map_err(InstallError::io("replace", &path))?;
                }
                Ok(_) => {
                    return Err(InstallError::io("make the link", &path)(io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "a folder is in the way",
                    )))
                }
                Err(_) => {}
            }
            std::os::unix::fs::symlink(&link.target, &path)
                .map_err(InstallError::io("make the link", &path))?;
            if is_root(&root) {
                let _ = std::os::unix::fs::lchown(&path, Some(CONTAINER_UID), Some(CONTAINER_UID));
            }
        }
        Ok(())
    }

    /// Creates the folders of `relative` (below the install folder) that
    /// are missing, never through a link, for the container's user.
    fn folder(&mut self, relative: &Path) -> Result<(), InstallError> {
        for made in self.dir.make_dirs(relative)? {
            give_to_container(&made, 0o2775)?;
        }
        Ok(())
    }

    /// Streams the file's entry, or the same content from `copy` (a file
    /// the package leaves out, found elsewhere here), into a temporary name
    /// beside `target`, then renames it into place once its SHA-256
    /// matched.
    fn write(
        &mut self,
        target: &Path,
        file: &CacheFile,
        copy: Option<&PathBuf>,
    ) -> Result<(), InstallError> {
        let temp = partial_name(target);
        // Content this run already put in place (a file two caches share)
        // is copied from there, inside the kernel, not read and hashed again.
        if let Some(placed) = self
            .placed
            .get(&file.sha256)
            .filter(|p| vouched_here(p, file))
        {
            std::fs::copy(placed, &temp).map_err(InstallError::io("write", &temp))?;
            self.progress.add(file.size, self.reporter);
            return self.finish_file(&temp, target, file);
        }
        let entry: Box<dyn io::Read> = match copy {
            Some(source) => Box::new(Checked::open(source, &file.sha256)?),
            None => Box::new(
                self.package
                    .open_entry(&layout::model_blob_entry(&file.sha256))?,
            ),
        };
        let mut out = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .custom_flags(libc::O_NOFOLLOW)
            .mode(0o600)
            .open(&temp)
            .map_err(InstallError::io("write", &temp))?;
        let mut reader = Counted {
            inner: entry,
            progress: self.progress,
            reporter: self.reporter,
            cancel: self.cancel,
        };
        let copied = copy_chunks(&mut reader, &mut out, &mut self.buffer);
        if let Err(e) = copied {
            drop(out);
            let _ = std::fs::remove_file(&temp);
            return Err(if self.cancel.is_cancelled() {
                InstallError::Cancelled
            } else if let Some(source) = copy {
                InstallError::io("copy", source)(e)
            } else if e.kind() == io::ErrorKind::InvalidData
                || e.kind() == io::ErrorKind::UnexpectedEof
                || crate::package::is_remote_error(&e)
            {
                InstallError::Package(self.package.read_error(e))
            } else {
                InstallError::io("write", &temp)(e)
            });
        }
        drop(out);
        self.finish_file(&temp, target, file)
    }

    /// Gives the written file its mode and owner and renames it into place.
    fn finish_file(
        &mut self,
        temp: &Path,
        target: &Path,
        file: &CacheFile,
    ) -> Result<(), InstallError> {
        let mode = if file.mode & 0o111 != 0 { 0o775 } else { 0o664 };
        give_to_container(temp, mode)?;
        std::fs::rename(temp, target).map_err(InstallError::io("put in place", target))?;
        self.placed
            .entry(file.sha256.clone())
            .or_insert_with(|| target.to_owned());
        self.report.written += 1;
        self.report.written_bytes += file.size;
        Ok(())
    }
}

/// Whether the file at `placed` still is what this run put there.
fn vouched_here(placed: &Path, file: &CacheFile) -> bool {
    std::fs::symlink_metadata(placed).is_ok_and(|m| m.is_file() && m.len() == file.size)
}

/// Copies `reader` into `out` in 1 MiB chunks.
fn copy_chunks(reader: &mut impl Read, out: &mut File, buffer: &mut [u8]) -> io::Result<()> {
    loop {
        let n = match reader.read(buffer) {
            Ok(0) => return Ok(()),
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        out.write_all(&buffer[..n])?;
    }
}

/// The caches of the install folder other than `caches`, by their logs
/// (`models/<cache>.files`).
fn other_caches(dir: &InstallDir, caches: &[CachePlan]) -> Result<Vec<String>, InstallError> {
    let folder = dir.root().join("models");
    let entries = match std::fs::read_dir(&folder) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(InstallError::io("read", &folder)(e)),
    };
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.map_err(InstallError::io("read", &folder))?;
        let file_name = entry.file_name();
        let Some(name) = file_name.to_str().and_then(|n| n.strip_suffix(".files")) else {
            continue;
        };
        let cache_name = !name.is_empty()
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if cache_name && !caches.iter().any(|c| c.cache.name == name) {
            names.push(name.to_owned());
        }
    }
    names.sort();
    Ok(names)
}

/// Whether the log vouches for the file at its place: same content, and
/// the file there has not changed since (size, time and inode).
fn vouched(log: &HashMap<String, Logged>, root: &Path, file: &CacheFile) -> bool {
    log.get(&file.path).is_some_and(|logged| {
        logged.sha256 == file.sha256
            && logged.size == file.size
            && unchanged(logged, &root.join(&file.path))
    })
}

/// Whether the file at `path` is still the one a log line recorded (size,
/// times and inode).
fn unchanged(logged: &Logged, path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| {
        meta.is_file()
            && meta.len() == logged.size
            && logged.ino == meta.ino()
            && logged.mtime == mtime_of(&meta)
            && logged.ctime == ctime_of(&meta)
    })
}

/// The file `relative` below `root`, hashed (no log vouches for it), as
/// found when it holds `file`'s content. It is reached through real
/// folders only: one swapped for a link holds nothing.
fn holds_file(
    root: &Path,
    relative: &str,
    file: &CacheFile,
) -> Result<Option<Logged>, InstallError> {
    let path = root.join(relative);
    let mut source = match crate::files::open_beneath(root, Path::new(relative)) {
        Ok(source) => source,
        Err(e) if not_reached(&e) => return Ok(None),
        Err(e) => return Err(InstallError::io("read", &path)(e)),
    };
    let meta = source.metadata().map_err(InstallError::io("read", &path))?;
    if meta.len() != file.size {
        return Ok(None);
    }
    let mut hasher = HashWriter::default();
    io::copy(&mut source, &mut hasher).map_err(InstallError::io("read", &path))?;
    Ok((hasher.hex() == file.sha256).then(|| Logged::of(&meta, file)))
}

/// Whether opening a file below a folder failed for want of a file there:
/// none, something else (a pipe, a folder), or a link on the way.
fn not_reached(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::InvalidInput
    ) || matches!(
        error.raw_os_error(),
        Some(libc::ELOOP | libc::EXDEV | libc::ENOTDIR)
    )
}

/// A model file of this workstation read to be copied, checked against
/// the SHA-256 it should have when it ends.
struct Checked {
    file: File,
    hasher: Sha256,
    expected: String,
}

impl Checked {
    fn open(path: &Path, sha256: &str) -> Result<Self, InstallError> {
        Ok(Self {
            file: crate::files::open_own(path).map_err(InstallError::io("read", path))?,
            hasher: Sha256::new(),
            expected: sha256.to_owned(),
        })
    }
}

impl io::Read for Checked {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.file.read(buf)?;
        self.hasher.update(&buf[..n]);
        if n == 0 && !buf.is_empty() && hex::encode(self.hasher.clone().finalize()) != self.expected
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "it changed since it was installed",
            ));
        }
        Ok(n)
    }
}

fn mtime_of(meta: &std::fs::Metadata) -> i128 {
    i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec())
}

/// The change time in nanoseconds.
fn ctime_of(meta: &std::fs::Metadata) -> i128 {
    i128::from(meta.ctime()) * 1_000_000_000 + i128::from(meta.ctime_nsec())
}

/// Appends `sha256 size mtime inode ctime path` for the file now at
/// `target`.
fn log_line(log: &mut File, target: &Path, file: &CacheFile) -> Result<(), InstallError> {
    let meta = std::fs::symlink_metadata(target).map_err(InstallError::io("read", target))?;
    writeln!(
        log,
        "{} {} {} {} {} {}",
        file.sha256,
        file.size,
        mtime_of(&meta),
        meta.ino(),
        ctime_of(&meta),
        file.path
    )
    .map_err(InstallError::io("write", target))
}

/// Reads a cache's log; a missing log is empty, a damaged line is skipped.
fn read_log(path: &Path) -> Result<HashMap<String, Logged>, InstallError> {
    let file = match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {
            return Err(InstallError::Symlink {
                path: path.to_owned(),
            })
        }
        Ok(_) => crate::files::open_own(path).map_err(InstallError::io("read", path))?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(InstallError::io("read", path)(e)),
    };
    let mut log = HashMap::new();
    for line in io::BufReader::new(file).lines() {
        let line = line.map_err(InstallError::io("read", path))?;
        let mut parts = line.splitn(6, ' ');
        let (Some(sha256), Some(size), Some(mtime), Some(ino), Some(ctime), Some(name)) = (
            parts.next(),
            parts.next().and_then(|s| s.parse().ok()),
            parts.next().and_then(|s| s.parse().ok()),
            parts.next().and_then(|s| s.parse().ok()),
            parts.next().and_then(|s| s.parse().ok()),
            parts.next(),
        ) else {
            continue;
        };
        log.insert(
            name.to_owned(),
            Logged {
                sha256: sha256.to_owned(),
                size,
                mtime,
                ino,
                ctime,
            },
        );
    }
    Ok(log)
}

/// Opens a log to append to, never through a link.
fn open_log(path: &Path) -> Result<File, InstallError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(InstallError::io("write", path))
}

/// Puts the live version's file `relative` (below `root`) at `target` in
/// the staged one: a hard link (the same bytes, no disk), or a copy where
/// the file system refuses the link. The file is opened through real
/// folders only and must still be the one `found` describes (inode, size,
/// modification time): that very file is linked, never one a container
/// swapped in meanwhile, or reached through a link it planted.
fn link_or_copy(
    root: &Path,
    relative: &str,
    target: &Path,
    found: &Logged,
) -> Result<(), InstallError> {
    let path = root.join(relative);
    let source = crate::files::open_beneath(root, Path::new(relative))
        .map_err(InstallError::io("read", &path))?;
    let meta = source.metadata().map_err(InstallError::io("read", &path))?;
    if (meta.ino(), meta.len(), mtime_of(&meta)) != (found.ino, found.size, found.mtime) {
        return Err(InstallError::io("read", &path)(io::Error::other(
            "it changed while the install read it; run the install again",
        )));
    }
    // Already a link of it (a staged version an earlier run left, whose log
    // line is out of date): renaming a second link of the same file over
    // it would do nothing and leave the temporary name behind.
    if std::fs::symlink_metadata(target)
        .is_ok_and(|t| (t.dev(), t.ino()) == (meta.dev(), meta.ino()))
    {
        return Ok(());
    }
    let temp = partial_name(target);
    let _ = std::fs::remove_file(&temp);
    // The opened file itself, by its descriptor's name in /proc.
    let opened = format!("/proc/self/fd/{}", source.as_raw_fd());
    let cwd = rustix::fs::CWD;
    if rustix::fs::linkat(
        cwd,
        &opened,
        cwd,
        &temp,
        rustix::fs::AtFlags::SYMLINK_FOLLOW,
    )
    .is_err()
    {
        copy_opened(&source, &meta, &temp).map_err(InstallError::io("copy", &path))?;
    }
    std::fs::rename(&temp, target).map_err(InstallError::io("put in place", target))
}

/// Copies the opened file `source` (as `meta` describes it) to a new file
/// at `temp`, with its permissions.
fn copy_opened(source: &File, meta: &std::fs::Metadata, temp: &Path) -> io::Result<()> {
    let mut out = OpenOptions::new()
        .write(true)
        .create_new(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(temp)?;
    io::copy(&mut &*source, &mut out)?;
    out.set_permissions(meta.permissions())
}

/// Removes from a staged version what its cache does not list: files of
/// another package an interrupted run left, and temporary files.
fn prune(root: &Path, cache: &PackagedCache) -> Result<(), InstallError> {
    let listed: HashSet<&str> = cache
        .files
        .iter()
        .map(|f| f.path.as_str())
        .chain(cache.links.iter().map(|l| l.path.as_str()))
        .collect();
    let mut folders = vec![PathBuf::new()];
    while let Some(relative) = folders.pop() {
        let folder = root.join(&relative);
        let entries = std::fs::read_dir(&folder).map_err(InstallError::io("read", &folder))?;
        for entry in entries {
            let entry = entry.map_err(InstallError::io("read", &folder))?;
            let path = relative.join(entry.file_name());
            let kind = entry
                .file_type()
                .map_err(InstallError::io("inspect", &entry.path()))?;
            if kind.is_dir() {
                folders.push(path);
            } else if !path.to_str().is_some_and(|p| listed.contains(p)) {
                let at = root.join(&path);
                std::fs::remove_file(&at).map_err(InstallError::io("remove", &at))?;
            }
        }
    }
    Ok(())
}

/// The environment variable that makes switches do without
/// `RENAME_EXCHANGE` (`1`), as on a file system that lacks it: for tests.
const NO_EXCHANGE_VARIABLE: &str = "BUDGETGUARD_TEST_NO_EXCHANGE";

/// The inodes of the cache's staged version and of its log, which
/// [`switch`] makes live.
pub(crate) fn staged_inodes(dir: &InstallDir, cache: &str) -> Result<(u64, u64), InstallError> {
    let inode = |path: PathBuf| {
        std::fs::symlink_metadata(&path)
            .map(|m| m.ino())
            .map_err(InstallError::io("inspect", &path))
    };
    Ok((inode(dir.staged_dir(cache))?, inode(dir.staged_log(cache))?))
}

/// Makes the staged version of `cache` the live one, in one rename that
/// exchanges the two folders (the previous version is then under the
/// staging name), then does the same with their logs.
pub(crate) fn switch(dir: &InstallDir, cache: &str) -> Result<(), InstallError> {
    let (staged, live) = (dir.staged_dir(cache), dir.models_dir(cache));
    exchange(&staged, &live, &parked(&staged), Some("cache"))?;
    let (staged, live) = (dir.staged_log(cache), dir.models_log(cache));
    exchange(&staged, &live, &parked(&staged), Some("log"))
}

/// Puts the previous version of `cache` and its log back where [`switch`]
/// made the staged ones (inodes `staged`) live; what was not switched
/// stays. A switch stopped half-way without `RENAME_EXCHANGE` is first
/// completed or undone (see [`unpark`]).
pub(crate) fn switch_back(
    dir: &InstallDir,
    cache: &str,
    staged: (u64, u64),
) -> Result<(), InstallError> {
    let is =
        |path: &Path, inode: u64| std::fs::symlink_metadata(path).is_ok_and(|m| m.ino() == inode);
    for (staged_name, live, inode) in [
        (dir.staged_dir(cache), dir.models_dir(cache), staged.0),
        (dir.staged_log(cache), dir.models_log(cache), staged.1),
    ] {
        let parked = parked(&staged_name);
        unpark(&staged_name, &live, &parked)?;
        // A move of the staged file between the two names (the switch,
        // or an earlier switch back) stopped between its link and unlink:
        // it belongs at the staged name.
        if is(&staged_name, inode) {
            finish_move(&staged_name, &live)?;
        }
        if is(&live, inode) {
            exchange(&live, &staged_name, &parked, None)?;
        }
    }
    refresh_linked(dir, cache)
}

/// Where a switch without `RENAME_EXCHANGE` parks one of the two versions
/// between its renames: beside the staged name, `<staged>.previous`.
fn parked(staged: &Path) -> PathBuf {
    let mut name = staged.as_os_str().to_owned();
    name.push(".previous");
    PathBuf::from(name)
}

/// Swaps what is at `from` and `to` in one rename; when nothing is at
/// `to`, moves `from` there. Where the file system has no
/// `RENAME_EXCHANGE` (NFS, CIFS, OpenZFS before 2.2), or
/// [`NO_EXCHANGE_VARIABLE`] says so, in three renames: `to` to `parked`,
/// `from` to `to`, `parked` to `from`; a run stopped between them leaves
/// what [`unpark`] completes or undoes. `fault`: the name of the
/// boundaries between them for the fault hook (`<fault>_parked`,
/// `<fault>_moved`).
fn exchange(
    from: &Path,
    to: &Path,
    parked: &Path,
    fault: Option<&str>,
) -> Result<(), InstallError> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    let occupied = std::fs::symlink_metadata(to).is_ok();
    if std::env::var(NO_EXCHANGE_VARIABLE).as_deref() != Ok("1") {
        let flags = if occupied {
            RenameFlags::EXCHANGE
        } else {
            RenameFlags::NOREPLACE
        };
        match renameat_with(CWD, from, CWD, to, flags) {
            Ok(()) => return Ok(()),
            Err(e) if [Errno::INVAL, Errno::NOTSUP, Errno::NOSYS].contains(&e) => {
                tracing::debug!(path = %to.display(), error = %e, "no RENAME_EXCHANGE here: switching in three renames");
            }
            Err(e) => return Err(InstallError::io("switch to", to)(e.into())),
        }
    }
    // The install folder's lock is held: nothing else renames here.
    if !occupied {
        return move_to_free(from, to);
    }
    let boundary = |name: &str| match fault {
        Some(fault) => super::journal::fault(&format!("{fault}_{name}")),
        None => Ok(()),
    };
    rename(to, parked)?;
    boundary("parked")?;
    rename(from, to)?;
    boundary("moved")?;
    rename(parked, from)
}

/// Completes or undoes a switch without `RENAME_EXCHANGE` that stopped
/// between its renames, from what is on disk: the version at `parked`
/// goes back to whichever of `staged` and `live` is free (the other one
/// has moved, or not yet).
fn unpark(staged: &Path, live: &Path, parked: &Path) -> Result<(), InstallError> {
    let exists = |path: &Path| std::fs::symlink_metadata(path).is_ok();
    // A move of the parked version stopped between its link and unlink.
    finish_move(live, parked)?;
    finish_move(staged, parked)?;
    if !exists(parked) {
        return Ok(());
    }
    if !exists(live) {
        move_to_free(parked, live)
    } else if !exists(staged) {
        move_to_free(parked, staged)
    } else {
        Err(InstallError::io("switch back", parked)(io::Error::other(
            "both the live and the staged version are there too: move one of them away",
        )))
    }
}

/// Moves `from` to `to`, where nothing is, without replacing what may have
/// appeared there since (what `RENAME_NOREPLACE` does where it exists): a
/// file is linked at `to` (which fails on anything there) and then
/// unlinked at `from` (a failed unlink takes the link back); a folder is renamed, which fails on anything but an
/// empty folder at `to`, and replacing that loses nothing.
fn move_to_free(from: &Path, to: &Path) -> Result<(), InstallError> {
    if std::fs::symlink_metadata(from).is_ok_and(|m| m.is_dir()) {
        return rename(from, to);
    }
    std::fs::hard_link(from, to).map_err(InstallError::io("switch to", to))?;
    let unlinked = super::journal::fault("moved_linked")
        .and_then(|()| std::fs::remove_file(from).map_err(InstallError::io("switch from", from)));
    if unlinked.is_err() {
        // Not moved: the file stays under its one name (a stop right here
        // leaves both, which `finish_move` completes).
        let _ = std::fs::remove_file(to);
    }
    unlinked
}

/// Completes a [`move_to_free`] of a file that stopped between its link
/// and its unlink, which left one file under both names: `kept` stays,
/// `extra` goes. Anything else at the two names is left as it is.
fn finish_move(kept: &Path, extra: &Path) -> Result<(), InstallError> {
    let (Ok(a), Ok(b)) = (
        std::fs::symlink_metadata(kept),
        std::fs::symlink_metadata(extra),
    ) else {
        return Ok(());
    };
    if a.is_file() && (a.dev(), a.ino()) == (b.dev(), b.ino()) {
        std::fs::remove_file(extra).map_err(InstallError::io("switch back", extra))?;
    }
    Ok(())
}

/// Renames `from` to `to`, as part of a switch.
fn rename(from: &Path, to: &Path) -> Result<(), InstallError> {
    std::fs::rename(from, to).map_err(InstallError::io("switch to", to))
}

/// What takes back the staged version of `cache`: its files stay, for the
/// next run to resume from, unless the package was `damaged`.
pub(crate) fn take_back_staged(
    dir: &InstallDir,
    cache: &str,
    damaged: bool,
) -> Result<(), InstallError> {
    refresh_linked(dir, cache)?;
    if damaged {
        remove_staged(dir, cache)?;
        let _ = std::fs::remove_dir(dir.root().join("models"));
    }
    Ok(())
}

/// Removes the previous version of `cache` once the new one is live and
/// its nodes use it, with the files the new version no longer has.
pub(crate) fn remove_old_version(dir: &InstallDir, cache: &str) -> Result<(), InstallError> {
    let linked = staged_log_inodes(dir, cache)?;
    remove_staged(dir, cache)?;
    refresh_log(&dir.models_log(cache), &dir.models_dir(cache), &linked)
}

/// Brings the live log of `cache` up to date for the files the staged
/// version links (linking changed their inodes' change times, and nothing
/// else of them).
fn refresh_linked(dir: &InstallDir, cache: &str) -> Result<(), InstallError> {
    let linked = staged_log_inodes(dir, cache)?;
    refresh_log(&dir.models_log(cache), &dir.models_dir(cache), &linked)
}

/// The inodes the staged version's log records.
fn staged_log_inodes(dir: &InstallDir, cache: &str) -> Result<HashSet<u64>, InstallError> {
    Ok(read_log(&dir.staged_log(cache))?
        .values()
        .map(|logged| logged.ino)
        .collect())
}

/// Removes the cache's staging folder and log, and the staging folder of
/// the install folder once empty.
pub(crate) fn remove_staged(dir: &InstallDir, cache: &str) -> Result<(), InstallError> {
    remove_any(&dir.staged_dir(cache))?;
    remove_any(&dir.staged_log(cache))?;
    let _ = std::fs::remove_dir(dir.root().join(InstallDir::staging_relative()));
    Ok(())
}

/// Rewrites the log at `path` with the change times its files have now,
/// for each file of an inode in `linked` that is still the one it records
/// (same inode, size and modification time): a hard link added or removed
/// changes an inode's change time, and nothing else of it. Any other file
/// keeps its line, so a file changed behind the log is still hashed again.
fn refresh_log(path: &Path, root: &Path, linked: &HashSet<u64>) -> Result<(), InstallError> {
    let mut log = read_log(path)?;
    if log.is_empty() || linked.is_empty() {
        return Ok(());
    }
    for (name, logged) in &mut log {
        if !linked.contains(&logged.ino) {
            continue;
        }
        if let Ok(meta) = std::fs::symlink_metadata(root.join(name)) {
            if meta.is_file()
                && meta.ino() == logged.ino
                && meta.len() == logged.size
                && mtime_of(&meta) == logged.mtime
            {
                logged.ctime = ctime_of(&meta);
            }
        }
    }
    write_log(path, &log)
}

/// Keeps in the log at `path` only the lines of files `listed` says to
/// keep that are still the ones recorded below `root`: a staged version's
/// log after what the package does not list was pruned.
fn keep_in_log(
    path: &Path,
    root: &Path,
    listed: impl Fn(&str) -> bool,
) -> Result<(), InstallError> {
    let mut log = read_log(path)?;
    let before = log.len();
    log.retain(|name, logged| listed(name) && unchanged(logged, &root.join(name)));
    if log.len() == before {
        return Ok(());
    }
    write_log(path, &log)
}

/// Writes a whole log, sorted by path.
fn write_log(path: &Path, log: &HashMap<String, Logged>) -> Result<(), InstallError> {
    let mut entries: Vec<_> = log.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    let mut text = String::new();
    for (name, l) in entries {
        text.push_str(&format!(
            "{} {} {} {} {} {name}\n",
            l.sha256, l.size, l.mtime, l.ino, l.ctime
        ));
    }
    write_atomic(path, text.as_bytes())
}

/// The files of the cache `name` that are not what its log records (their
/// content re-hashed), by path: empty when every file matches.
pub(crate) fn changed_files(dir: &InstallDir, name: &str) -> Result<Vec<String>, InstallError> {
    let root = dir.models_dir(name);
    let mut changed = Vec::new();
    let mut log: Vec<_> = read_log(&dir.models_log(name))?.into_iter().collect();
    log.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, logged) in log {
        let file = CacheFile {
            path: path.clone(),
            size: logged.size,
            sha256: logged.sha256,
            mode: 0,
        };
        if holds_file(&root, &path, &file)?.is_none() {
            changed.push(path);
        }
    }
    Ok(changed)
}

/// `<name>.budgetguard-partial` beside `target`.
fn partial_name(target: &Path) -> PathBuf {
    let mut name = target.file_name().unwrap_or_default().to_os_string();
    name.push(".budgetguard-partial");
    target.with_file_name(name)
}

/// Whether the tool runs as root, judged by who owns what it just made.
fn is_root(made: &Path) -> bool {
    std::fs::symlink_metadata(made).is_ok_and(|m| m.uid() == 0)
}

/// The warning for model caches written by `uid`: only root can give them
/// to the containers' user, unless the tool runs as that user.
pub(crate) fn cache_owner_warning(uid: u32) -> Option<Warning> {
    (uid != 0 && uid != CONTAINER_UID).then_some(Warning::CacheOwner { uid })
}

/// The user this process runs as (the owner of its `/proc` folder).
pub(crate) fn process_uid() -> Option<u32> {
    std::fs::metadata("/proc/self").ok().map(|m| m.uid())
}

/// Sets `mode` on what this run made, and hands it to the container's user
/// when the tool runs as root. It is opened first, never through a link
/// and without waiting, and changed through that handle: a link or pipe
/// swapped in for it meanwhile (by whoever can write the folder) is
/// refused, never changed in its target's place.
pub(crate) fn give_to_container(path: &Path, mode: u32) -> Result<(), InstallError> {
    let made = crate::files::open_made(path).map_err(|e| match e.raw_os_error() {
        Some(libc::ELOOP) => InstallError::Symlink {
            path: path.to_owned(),
        },
        _ => InstallError::io("open", path)(e),
    })?;
    let owner = made
        .metadata()
        .map_err(InstallError::io("read", path))?
        .uid();
    if owner == 0 {
        std::os::unix::fs::fchown(&made, Some(CONTAINER_UID), Some(CONTAINER_UID))
            .map_err(InstallError::io("give to the container's user", path))?;
    }
    made.set_permissions(std::fs::Permissions::from_mode(mode))
        .map_err(InstallError::io("set permissions of", path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_link_swapped_in_for_a_file_made_is_refused_and_its_target_kept() {
        let root = tempfile::tempdir().unwrap();
        let (target, made) = (root.path().join("secret"), root.path().join("made"));
        std::fs::write(&target, b"secret").unwrap();
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).unwrap();
        std::os::unix::fs::symlink(&target, &made).unwrap();
        let error = give_to_container(&made, 0o664).unwrap_err();
        assert!(matches!(error, InstallError::Symlink { .. }), "{error}");
        let mode = std::fs::metadata(&target).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);

        std::fs::remove_file(&made).unwrap();
        std::fs::write(&made, b"model").unwrap();
        give_to_container(&made, 0o664).unwrap();
        let mode = std::fs::metadata(&made).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o664);
    }

    #[test]
    fn linking_a_file_already_linked_there_leaves_no_temporary_name() {
        let root = tempfile::tempdir().unwrap();
        let (live, staged) = (root.path().join("live"), root.path().join("staged"));
        std::fs::write(&live, b"model").unwrap();
        let found = found_at(&live, b"model");
        link_or_copy(root.path(), "live", &staged, &found).unwrap();
        link_or_copy(root.path(), "live", &staged, &found).unwrap();
        let mut names: Vec<_> = std::fs::read_dir(root.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        assert_eq!(names, ["live", "staged"]);
        assert_eq!(
            std::fs::metadata(&live).unwrap().ino(),
            std::fs::metadata(&staged).unwrap().ino()
        );
    }

    /// What a log line would say of the file at `path`, holding `data`.
    fn found_at(path: &Path, data: &[u8]) -> Logged {
        let file = CacheFile {
            path: String::new(),
            size: data.len() as u64,
            mode: 0o644,
            sha256: hex::encode(Sha256::digest(data)),
        };
        Logged::of(&std::fs::metadata(path).unwrap(), &file)
    }

    /// A live cache's folder that its container swaps for a link to a host
    /// folder after the file was checked, or a file it replaces: neither is
    /// ever linked into the staged version, nor hashed as held.
    #[test]
    fn a_live_file_reached_through_a_swapped_folder_or_replaced_is_never_linked() {
        let root = tempfile::tempdir().unwrap();
        let (live, host) = (root.path().join("live"), root.path().join("host"));
        for folder in [&live.join("x"), &host] {
            std::fs::create_dir_all(folder).unwrap();
            std::fs::write(folder.join("shadow"), b"model").unwrap();
        }
        let found = found_at(&live.join("x/shadow"), b"model");
        let file = CacheFile {
            path: "x/shadow".into(),
            size: 5,
            mode: 0o644,
            sha256: found.sha256.clone(),
        };
        assert!(holds_file(&live, "x/shadow", &file).unwrap().is_some());

        std::fs::rename(live.join("x"), root.path().join("moved")).unwrap();
        std::os::unix::fs::symlink(&host, live.join("x")).unwrap();
        let staged = root.path().join("staged");
        let error = link_or_copy(&live, "x/shadow", &staged, &found).unwrap_err();
        assert!(error.to_string().contains("x/shadow"), "{error}");
        assert!(!staged.exists());
        assert!(holds_file(&live, "x/shadow", &file).unwrap().is_none());

        std::fs::remove_file(live.join("x")).unwrap();
        std::fs::create_dir(live.join("x")).unwrap();
        std::fs::write(live.join("x/shadow"), b"model").unwrap();
        let error = link_or_copy(&live, "x/shadow", &staged, &found).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("changed while the install read it"),
            "{error}"
        );
        assert!(!staged.exists());
    }

    #[test]
    fn a_switch_without_exchange_stopped_between_its_renames_is_completed_or_undone() {
        let root = tempfile::tempdir().unwrap();
        let (live, staged) = (root.path().join("cache"), root.path().join("staged"));
        let parked = parked(&staged);
        let version = |path: &Path| std::fs::read_to_string(path.join("v")).unwrap();
        let setup = || {
            for (path, version) in [(&live, "old"), (&staged, "new")] {
                let _ = std::fs::remove_dir_all(path);
                std::fs::create_dir(path).unwrap();
                std::fs::write(path.join("v"), version).unwrap();
            }
        };
        // Stopped once the live version was parked: undone.
        setup();
        std::fs::rename(&live, &parked).unwrap();
        unpark(&staged, &live, &parked).unwrap();
        assert_eq!(
            (version(&live), version(&staged)),
            ("old".into(), "new".into())
        );
        // Stopped once the staged version was moved in: completed.
        std::fs::rename(&live, &parked).unwrap();
        std::fs::rename(&staged, &live).unwrap();
        unpark(&staged, &live, &parked).unwrap();
        assert_eq!(
            (version(&live), version(&staged)),
            ("new".into(), "old".into())
        );
        assert!(!parked.exists());
        // Nothing parked: nothing to do; all three there: said, untouched.
        unpark(&staged, &live, &parked).unwrap();
        setup();
        std::fs::create_dir(&parked).unwrap();
        let error = unpark(&staged, &live, &parked).unwrap_err().to_string();
        assert!(error.contains("move one of them away"), "{error}");
        assert!(parked.exists());
    }

    #[test]
    fn a_move_of_a_file_stopped_between_its_link_and_unlink_is_completed() {
        let root = tempfile::tempdir().unwrap();
        let (live, staged) = (root.path().join("c.files"), root.path().join("s.files"));
        let parked = parked(&staged);
        // The live log parked, the staged one moved in, and the parked
        // one linked back at the staged name but not yet unlinked.
        std::fs::write(&live, "new").unwrap();
        std::fs::write(&staged, "old").unwrap();
        std::fs::hard_link(&staged, &parked).unwrap();
        unpark(&staged, &live, &parked).unwrap();
        assert!(!parked.exists());
        assert_eq!(std::fs::read_to_string(&staged).unwrap(), "old");
        assert_eq!(std::fs::read_to_string(&live).unwrap(), "new");
        // Two different files under the two names are not one moved.
        std::fs::write(&parked, "old").unwrap();
        finish_move(&staged, &parked).unwrap();
        assert!(parked.exists());
    }

    #[test]
    fn a_move_without_exchange_never_replaces_what_appeared_at_its_target() {
        let root = tempfile::tempdir().unwrap();
        let (from, to) = (root.path().join("from.files"), root.path().join("to.files"));
        std::fs::write(&from, "staged").unwrap();
        std::fs::write(&to, "appeared").unwrap();
        assert!(move_to_free(&from, &to).is_err());
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "appeared");
        assert_eq!(std::fs::read_to_string(&from).unwrap(), "staged");
        std::fs::remove_file(&to).unwrap();
        move_to_free(&from, &to).unwrap();
        assert_eq!(std::fs::read_to_string(&to).unwrap(), "staged");
        assert!(!from.exists());
        // A folder moves onto nothing, never onto a folder with files.
        let (from, to) = (root.path().join("from"), root.path().join("to"));
        std::fs::create_dir(&from).unwrap();
        std::fs::create_dir(&to).unwrap();
        std::fs::write(to.join("v"), "appeared").unwrap();
        assert!(move_to_free(&from, &to).is_err());
        assert_eq!(std::fs::read_to_string(to.join("v")).unwrap(), "appeared");
    }

    #[test]
    fn after_linking_only_the_linked_files_are_vouched_for_again() {
        let root = tempfile::tempdir().unwrap();
        let live = root.path().join("live");
        std::fs::create_dir(&live).unwrap();
        let log_path = root.path().join("live.files");
        let mut log = open_log(&log_path).unwrap();
        let mut files = Vec::new();
        for (name, data) in [
            ("linked", b"one".as_slice()),
            ("tampered", b"two".as_slice()),
        ] {
            std::fs::write(live.join(name), data).unwrap();
            let file = CacheFile {
                path: name.to_owned(),
                size: data.len() as u64,
                mode: 0o644,
                sha256: hex::encode(Sha256::digest(data)),
            };
            log_line(&mut log, &live.join(name), &file).unwrap();
            files.push(file);
        }
        drop(log);
        let vouched_now = |file: &CacheFile| vouched(&read_log(&log_path).unwrap(), &live, file);
        assert!(files.iter().all(vouched_now));

        // A staged version links one file; the other is rewritten in place
        // with its modification time set back, as a container could.
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::hard_link(live.join("linked"), root.path().join("staged-link")).unwrap();
        let tampered = live.join("tampered");
        let modified = std::fs::metadata(&tampered).unwrap().modified().unwrap();
        let file = OpenOptions::new().write(true).open(&tampered).unwrap();
        (&file).write_all(b"TWO").unwrap();
        file.set_modified(modified).unwrap();
        drop(file);
        assert!(!files.iter().any(vouched_now), "both inodes changed");

        let linked = HashSet::from([std::fs::metadata(live.join("linked")).unwrap().ino()]);
        refresh_log(&log_path, &live, &linked).unwrap();
        assert!(
            vouched_now(&files[0]),
            "the linked file is vouched for again"
        );
        assert!(!vouched_now(&files[1]), "the tampered one is hashed again");
    }

    #[test]
    fn only_root_or_the_containers_user_writes_caches_the_containers_own() {
        assert!(cache_owner_warning(0).is_none());
        assert!(cache_owner_warning(CONTAINER_UID).is_none());
        let warning = cache_owner_warning(1001).unwrap();
        assert!(
            warning.to_string().contains("belong to user 1001"),
            "{warning}"
        );
        assert!(process_uid().is_some(), "/proc/self is readable");
    }
}
