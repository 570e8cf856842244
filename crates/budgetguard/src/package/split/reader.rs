//! Reading a split package in place: its parts, found from the first part,
//! any part, the package's own name or the parts given one by one, are read
//! as one package of their joined size, by position or as independent
//! readers of a byte range that cross from part to part.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use super::disk::DiskTurns;
use super::error::{PartError, PartsHolding};
use super::list::{list_name, list_signature_name, part_name, part_number, PartHasher, PartList};
use crate::package::zip::PackageSource;
use crate::progress::{Event, Reporter, Step, Throttle};
use crate::signing::{Signer, TrustedKey};
use crate::Cancel;

/// The parts of a split package, each of the size its list gives.
#[derive(Debug)]
pub struct SplitParts {
    list_path: PathBuf,
    list: PartList,
    /// The list's bytes, and its signature file when one is beside it.
    list_bytes: Vec<u8>,
    list_signature: Option<Vec<u8>>,
    paths: Vec<PathBuf>,
    files: Vec<File>,
}

impl SplitParts {
    /// Whether `given` names a split package: a part (`flux.zip.001`), a
    /// part list (`flux.zip.parts`), or a package name that has a part
    /// list beside it but is no file itself.
    pub fn is_split(given: &Path) -> bool {
        let Some(name) = given.file_name().and_then(|n| n.to_str()) else {
            return false;
        };
        part_number(name).is_some()
            || name.ends_with(".parts")
            || !given.exists() && given.with_file_name(list_name(name)).exists()
    }

    /// Opens the parts `given`: one path (a part, the part list or the
    /// package's name, the other parts beside it), or every part, in any
    /// folders. Refuses a missing part, one of the wrong size, one of
    /// another package and a file named as a part the list lacks.
    pub fn open(given: &[PathBuf]) -> Result<Self, PartError> {
        let (package, dir) = package_of(&given[0])?;
        let mut named: Vec<(usize, &PathBuf)> = Vec::new();
        if given.len() > 1 {
            for path in given {
                match path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(part_number)
                {
                    Some((of, number)) if of == package => named.push((number, path)),
                    _ => {
                        return Err(PartError::Foreign {
                            path: path.clone(),
                            package,
                        })
                    }
                }
            }
        }
        let list_dirs = std::iter::once(dir.clone()).chain(
            named
                .iter()
                .filter_map(|(_, p)| p.parent().map(Path::to_owned)),
        );
        let mut list_path = dir.join(list_name(&package));
        for candidate in list_dirs.map(|d| d.join(list_name(&package))) {
            if candidate.exists() {
                list_path = candidate;
                break;
            }
        }
        let (list, list_bytes) = PartList::read(&list_path)?;
        let list_signature =
            read_signature(&list_path.with_file_name(list_signature_name(&package)))?;
        let count = list.count();
        let mut paths = Vec::with_capacity(count);
        for number in 1..=count {
            let path = named.iter().find(|(n, _)| *n == number).map_or_else(
                || dir.join(part_name(&package, number)),
                |(_, path)| (*path).clone(),
            );
            paths.push(path);
        }
        for (number, path) in &named {
            if *number > count {
                return Err(PartError::Extra {
                    path: (*path).clone(),
                    count,
                });
            }
        }
        let extra = dir.join(part_name(&package, count + 1));
        if named.is_empty() && extra.exists() {
            return Err(PartError::Extra { path: extra, count });
        }
        let mut files = Vec::with_capacity(count);
        for (i, (path, record)) in paths.iter().zip(&list.parts).enumerate() {
            let number = i + 1;
            let file = crate::files::open_regular(path).map_err(|source| {
                if source.kind() == io::ErrorKind::NotFound {
                    PartError::Missing {
                        number,
                        count,
                        path: path.clone(),
                    }
                } else {
                    PartError::Unreadable {
                        number,
                        count,
                        path: path.clone(),
                        source,
                    }
                }
            })?;
            let size = file
                .metadata()
                .map_err(|source| PartError::Unreadable {
                    number,
                    count,
                    path: path.clone(),
                    source,
                })?
                .len();
            if size != record.size {
                return Err(PartError::Damaged {
                    number,
                    count,
                    path: path.clone(),
                    detail: format!("is {size} bytes, not {}", record.size),
                });
            }
            files.push(file);
        }
        Ok(Self {
            list_path,
            list,
            list_bytes,
            list_signature,
            paths,
            files,
        })
    }

    /// The part list.
    pub fn list(&self) -> &PartList {
        &self.list
    }

    /// Who signed the part list, of the keys `trusted`: unsigned when no
    /// signature is beside it. A signature that does not match the list
    /// is refused.
    pub fn list_signer(&self, trusted: &[TrustedKey]) -> Result<Signer, PartError> {
        let signer = crate::signing::check(
            self.list_signature.as_deref(),
            &self.list_bytes,
            &self.list.package_id,
            trusted,
        );
        match signer {
            Signer::Invalid { key_id } => Err(PartError::ListSignature {
                path: self.list_path.clone(),
                key_id,
            }),
            signer => Ok(signer),
        }
    }

    /// Refuses parts whose list names another package than `package_id`
    /// (the id of the package they join into).
    pub fn check_package(&self, package_id: &str) -> Result<(), PartError> {
        if self.list.package_id == package_id {
            return Ok(());
        }
        Err(PartError::OtherPackage {
            path: self.list_path.clone(),
            listed: self.list.package_id.clone(),
            actual: package_id.to_owned(),
        })
    }

    /// Reads every part whole and checks it against its list (its CRC-32,
    /// or its SHA-256 in a list without one), several parts at once (one
    /// per core; on a spinning disk, whose heads would seek between them,
    /// one at a time from the disk and the rest from the page cache); the lowest-numbered part that
    /// differs is the error, named by its number (and the part it holds
    /// instead, when it is another part of the package).
    pub fn check(
        &self,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<(), crate::package::PackageError> {
        let count = self.list.count();
        reporter.report(Event::Started {
            step: Step::CheckParts,
            total: Some(self.list.size),
        });
        let progress = Mutex::new(Throttle::new(Step::CheckParts));
        let next = AtomicUsize::new(0);
        // The lowest part found to differ so far: parts after it need no
        // more reading.
        let failed = AtomicUsize::new(usize::MAX);
        let workers = std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(count);
        // On a spinning disk parts are read at once only from the page
        // cache (see `DiskTurns`).
        let turns = super::disk::any_spinning(&self.files).then(DiskTurns::default);
        let mut errors: Vec<(usize, crate::package::PackageError)> = std::thread::scope(|scope| {
            let worker = || {
                let mut errors = Vec::new();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count || i > failed.load(Ordering::Relaxed) {
                        return errors;
                    }
                    let outcome =
                        self.check_part(i, turns.as_ref(), &failed, &progress, reporter, cancel);
                    if let Err(e) = outcome {
                        failed.fetch_min(i, Ordering::Relaxed);
                        errors.push((i, e));
                    }
                }
            };
            let handles: Vec<_> = (0..workers).map(|_| scope.spawn(worker)).collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().expect("checking a part does not panic"))
                .collect()
        });
        errors.sort_by_key(|(i, _)| *i);
        if let Some((_, e)) = errors.into_iter().next() {
            return Err(e);
        }
        reporter.report(Event::Finished {
            step: Step::CheckParts,
        });
        Ok(())
    }

    /// Hashes part `i` (from 0) and compares it with its list; stops early,
    /// with `Ok`, once a part before it is found to differ (`failed`).
    fn check_part(
        &self,
        i: usize,
        turns: Option<&DiskTurns>,
        failed: &AtomicUsize,
        progress: &Mutex<Throttle>,
        reporter: &dyn Reporter,
        cancel: &Cancel,
    ) -> Result<(), crate::package::PackageError> {
        let (count, number, path) = (self.list.count(), i + 1, &self.paths[i]);
        let mut hasher = PartHasher::like(&self.list.parts[i]);
        let mut buffer = vec![0; 1 << 20];
        let mut offset = 0;
        let mut reads = turns.map(DiskTurns::part);
        loop {
            let file = &self.files[i];
            let n = match &mut reads {
                Some(reads) => reads.read_at(file, &mut buffer, offset),
                None => file.read_at(&mut buffer, offset),
            }
            .map_err(|source| PartError::Unreadable {
                number,
                count,
                path: path.clone(),
                source,
            })?;
            if n == 0 {
                break;
            }
            hasher.update(&buffer[..n]);
            offset += n as u64;
            progress
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .add(n as u64, reporter);
            if cancel.is_cancelled() {
                return Err(crate::package::PackageError::Cancelled);
            }
            if failed.load(Ordering::Relaxed) < i {
                return Ok(());
            }
        }
        let actual = hasher.finish();
        if self.list.parts[i].is(&actual) {
            return Ok(());
        }
        let holds = self.list.parts.iter().position(|p| p.is(&actual));
        Err(match holds {
            Some(j) => PartError::Misplaced {
                number,
                count,
                path: path.clone(),
                holds: j + 1,
            },
            None => PartError::Damaged {
                number,
                count,
                path: path.clone(),
                detail: "differs from the part TechOps made".to_owned(),
            },
        }
        .into())
    }

    /// The parts that hold the `len` bytes from `offset`.
    pub(crate) fn holding(&self, offset: u64, len: u64) -> PartsHolding {
        let first = self.locate(offset).0;
        let last = self.locate(offset + len.saturating_sub(1)).0.max(first);
        PartsHolding {
            first: first + 1,
            last: last.min(self.paths.len() - 1) + 1,
            count: self.list.count(),
            path: self.paths[first].clone(),
        }
    }

    /// The part holding byte `offset`, and the offset in it.
    fn locate(&self, offset: u64) -> (usize, u64) {
        let part = (offset / self.list.part_size) as usize;
        (part, offset - part as u64 * self.list.part_size)
    }
}

/// The signature file at `path`, if there is one (one larger than a
/// signature can be is unreadable).
fn read_signature(path: &Path) -> Result<Option<Vec<u8>>, PartError> {
    match crate::files::read_small(path, crate::signing::MAX_SIGNATURE) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(PartError::ListUnreadable {
            path: path.to_owned(),
            source,
        }),
    }
}

/// The package's file name and folder of a given path.
fn package_of(given: &Path) -> Result<(String, PathBuf), PartError> {
    let dir = given.parent().map(Path::to_owned).unwrap_or_default();
    let name = given
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let package = match (part_number(name), name.strip_suffix(".parts")) {
        (Some((package, _)), _) => package,
        (None, Some(package)) => package,
        (None, None) => name,
    };
    Ok((package.to_owned(), dir))
}

impl PackageSource for SplitParts {
    fn size(&self) -> u64 {
        self.list.size
    }

    fn description(&self) -> &Path {
        &self.paths[0]
    }

    fn read_at(&self, offset: u64, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() && offset + (done as u64) < self.size() {
            let (part, at) = self.locate(offset + done as u64);
            let n = self.files[part].read_at(&mut buf[done..], at)?;
            if n == 0 {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    format!("part {} ended early", part + 1),
                ));
            }
            done += n;
        }
        Ok(done)
    }

    fn open_range(&self, start: u64, len: u64) -> io::Result<Box<dyn BufRead + Send>> {
        let end = start.saturating_add(len).min(self.size());
        let mut reader: Box<dyn Read + Send> = Box::new(io::empty());
        let mut at = start;
        while at < end {
            let (part, offset) = self.locate(at);
            let n = (self.list.part_size - offset).min(end - at);
            let mut file = crate::files::open_regular(&self.paths[part])?;
            file.seek(SeekFrom::Start(offset))?;
            reader = Box::new(reader.chain(file.take(n)));
            at += n;
        }
        Ok(Box::new(BufReader::with_capacity(1 << 20, reader)))
    }
}
