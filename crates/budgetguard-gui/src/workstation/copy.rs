//! **Copy to a folder or USB stick**: a package's files (its parts and
//! their list, and the public key a signed one needs) copied to a folder
//! with progress, each written under a temporary name and renamed once
//! whole (never over a file that appeared there meanwhile), then the copy
//! verified entry by entry against its manifest.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use budgetguard::package::Package;
use budgetguard::progress::{Event, Reporter, SharedReporter, Step};
use budgetguard::Cancel;

use crate::jobs::{Copied, Outcome};
use crate::messages::{package_error, Message};

/// The size of one read and write.
const CHUNK: usize = 1 << 20;

/// Copies `files` into `folder` (none may exist there: nothing is
/// replaced), then verifies the copy of the package, whose first file is
/// `files[0]`.
pub(crate) async fn copy_package(
    files: Vec<PathBuf>,
    folder: PathBuf,
    reporter: SharedReporter,
    cancel: Cancel,
) -> Outcome {
    let work = {
        let cancel = cancel.clone();
        tokio::task::spawn_blocking(move || copy_and_check(&files, &folder, &*reporter, &cancel))
    };
    // A cancel stops the copy or its check within a chunk, and what was
    // copied is removed before the job ends.
    match work.await.expect("copying does not panic") {
        Ok(copied) => Outcome::Copied(Box::new(copied)),
        Err(None) => Outcome::Cancelled(
            "Cancelled: the files copied so far were removed; nothing else changed.".to_owned(),
        ),
        Err(Some(message)) => Outcome::Failed(message),
    }
}

/// Copies made by this process so far, naming their partial files apart.
static RUNS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// The copy, on a blocking thread; `Err(None)`: cancelled.
fn copy_and_check(
    files: &[PathBuf],
    folder: &Path,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Copied, Option<Message>> {
    if !folder.is_dir() {
        return Err(Some(Message::new(format!(
            "There is no folder “{}”: plug in the USB stick, or choose another folder.",
            folder.display()
        ))));
    }
    let name = |path: &Path| {
        path.file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    for file in files {
        let target = folder.join(name(file));
        if std::fs::symlink_metadata(&target).is_ok() {
            return Err(Some(Message::new(format!(
                "“{}” already exists: nothing was copied. Choose another folder, or remove that file first.",
                target.display()
            ))));
        }
    }
    let names: Vec<String> = files.iter().map(|file| name(file)).collect();
    remove_stale_partials(folder, &names);
    let total = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    if let Ok(free) = fs4::available_space(folder) {
        if free < total {
            return Err(Some(Message::new(format!(
                "“{}” has {} free and the package needs {}: nothing was copied. Free some space there, or choose another folder.",
                folder.display(),
                budgetguard::size::human(free),
                budgetguard::size::human(total)
            ))));
        }
    }
    reporter.report(Event::Started {
        step: Step::Copy,
        total: Some(total),
    });
    let mut written = Vec::new();
    let mut done = 0u64;
    let cannot_copy = |detail: String| {
        Message::new(format!(
            "Cannot copy to “{}” ({detail}): nothing was left there. Check that the stick is plugged in and has room, then try again.",
            folder.display()
        ))
    };
    let result = files.iter().try_for_each(|file| {
        let target = folder.join(name(file));
        // Named for this run: a partial file another copy (or one a kill
        // left) holds is never this one's.
        let partial = folder.join(format!(
            ".{}.{}-{}.partial",
            name(file),
            std::process::id(),
            RUNS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        copy_one(file, &partial, &mut done, reporter, cancel).map_err(|e| e.map(cannot_copy))?;
        let renamed = rename_new(&partial, &target);
        if renamed.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        match renamed {
            Ok(()) => {
                written.push(target);
                Ok(())
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(Some(Message::new(format!(
                "“{}” appeared while the copy was made, and was left as it is: nothing was copied. Choose another folder, or remove that file first.",
                target.display()
            )))),
            Err(e) => Err(Some(cannot_copy(e.to_string()))),
        }
    });
    if let Err(problem) = result {
        // Nothing half-done stays on the stick.
        for file in &written {
            let _ = std::fs::remove_file(file);
        }
        return Err(problem);
    }
    reporter.report(Event::Finished { step: Step::Copy });
    let verified = Package::open(&written[0])
        .and_then(|package| package.verify(reporter, cancel))
        .map_err(|e| {
            // A copy that is not the package does not stay on the stick
            // (nor would it let the copy be made again).
            for file in &written {
                let _ = std::fs::remove_file(file);
            }
            match e {
                budgetguard::package::PackageError::Cancelled => None,
                other => Some(package_error(&other)),
            }
        })?;
    Ok(Copied {
        folder: folder.to_owned(),
        files: written.iter().map(|f| name(f)).collect(),
        verified,
    })
}

/// Removes the partial files of `names` in `folder` (`.<name>.<pid>-<n>.partial`)
/// whose copy's process is gone: a GUI killed during a copy left them,
/// and no later copy would reuse their names. The folder (a USB stick's,
/// maybe of many parts) is read once.
fn remove_stale_partials(folder: &Path, names: &[String]) {
    let Ok(entries) = std::fs::read_dir(folder) else {
        return;
    };
    let prefixes: Vec<String> = names.iter().map(|name| format!(".{name}.")).collect();
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = prefixes.iter().find_map(|prefix| {
            file.strip_prefix(prefix.as_str())
                .and_then(|rest| rest.strip_suffix(".partial"))
                .and_then(|rest| rest.split_once('-'))
                .filter(|(_, run)| run.parse::<u64>().is_ok())
                .and_then(|(pid, _)| pid.parse::<u32>().ok())
        });
        if pid.is_some_and(|pid| !Path::new("/proc").join(pid.to_string()).exists()) {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Renames `from` to `to` unless something is at `to`, even something that
/// appeared there after the copy checked (`AlreadyExists`, and `from`
/// stays): `RENAME_NOREPLACE`, or where the file system has not got it, a
/// hard link made at `to` (which fails on anything there) and `from`
/// unlinked.
fn rename_new(from: &Path, to: &Path) -> std::io::Result<()> {
    use rustix::fs::{renameat_with, RenameFlags, CWD};
    use rustix::io::Errno;
    match renameat_with(CWD, from, CWD, to, RenameFlags::NOREPLACE) {
        Err(e) if [Errno::INVAL, Errno::NOTSUP, Errno::NOSYS].contains(&e) => {}
        renamed => return renamed.map_err(std::io::Error::from),
    }
    std::fs::hard_link(from, to)?;
    std::fs::remove_file(from).inspect_err(|_| {
        // Not moved: the file stays under its one name.
        let _ = std::fs::remove_file(to);
    })
}

/// Copies one file into `to`, a new file (one there already is another
/// run's, and stays), adding its bytes to `done`; `Err(None)`: cancelled.
/// A copy that fails is removed.
fn copy_one(
    from: &Path,
    to: &Path,
    done: &mut u64,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), Option<String>> {
    let io = |e: std::io::Error| Some(e.to_string());
    let mut source = budgetguard::files::open_regular(from).map_err(io)?;
    let target = std::fs::File::create_new(to).map_err(io)?;
    let copied = write_copy(&mut source, target, done, reporter, cancel);
    if copied.is_err() {
        let _ = std::fs::remove_file(to);
    }
    copied
}

/// Streams `source` into `target`, then syncs it.
fn write_copy(
    source: &mut std::fs::File,
    mut target: std::fs::File,
    done: &mut u64,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<(), Option<String>> {
    let io = |e: std::io::Error| Some(e.to_string());
    let mut buffer = vec![0u8; CHUNK];
    loop {
        if cancel.is_cancelled() {
            return Err(None);
        }
        let n = source.read(&mut buffer).map_err(io)?;
        if n == 0 {
            break;
        }
        target.write_all(&buffer[..n]).map_err(io)?;
        *done += n as u64;
        reporter.report(Event::Advanced {
            step: Step::Copy,
            done: *done,
        });
    }
    // On the stick before it is called copied: it may be pulled out next.
    target.sync_all().map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_files_a_killed_copy_left_are_removed_and_a_running_ones_kept() {
        let folder = tempfile::tempdir().unwrap();
        let ours = format!(".package.zip.{}-7.partial", std::process::id());
        // No process has an ID above the kernel's limit (2^22).
        let killed = ".package.zip.99999999-0.partial";
        let other_file = ".other.zip.99999999-0.partial";
        let not_ours = ".package.zip.notes.partial";
        for file in [ours.as_str(), killed, other_file, not_ours] {
            std::fs::write(folder.path().join(file), b"half").unwrap();
        }
        remove_stale_partials(folder.path(), &["package.zip".to_owned()]);
        let mut left: Vec<String> = std::fs::read_dir(folder.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        let mut expected = vec![ours, other_file.to_owned(), not_ours.to_owned()];
        expected.sort();
        assert_eq!(left, expected);
    }

    /// Puts a file of its own at `at` once the copy has begun: one that
    /// appears after the copy checked the folder.
    struct Interloper {
        at: PathBuf,
    }

    impl Reporter for Interloper {
        fn report(&self, event: Event) {
            if matches!(event, Event::Advanced { .. }) && !self.at.exists() {
                std::fs::write(&self.at, b"theirs").unwrap();
            }
        }
    }

    #[test]
    fn a_file_that_appears_while_copying_is_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let source = dir.path().join("demo.zip");
        std::fs::write(&source, vec![7u8; 3 * CHUNK]).unwrap();
        let stick = dir.path().join("stick");
        std::fs::create_dir(&stick).unwrap();
        let target = stick.join("demo.zip");
        let reporter = Interloper { at: target.clone() };
        let refused = copy_and_check(
            std::slice::from_ref(&source),
            &stick,
            &reporter,
            &Cancel::new(),
        )
        .unwrap_err()
        .expect("a failure, not a cancel");
        assert!(
            refused.text.contains("appeared while the copy was made"),
            "{}",
            refused.text
        );
        assert_eq!(std::fs::read(&target).unwrap(), b"theirs");
        let left: Vec<_> = std::fs::read_dir(&stick).unwrap().collect();
        assert_eq!(left.len(), 1, "no partial file stays");
    }

    #[test]
    fn a_rename_to_a_free_name_moves_and_to_a_taken_one_refuses() {
        let dir = tempfile::tempdir().unwrap();
        let (from, to) = (dir.path().join("a.partial"), dir.path().join("a"));
        std::fs::write(&from, b"ours").unwrap();
        std::fs::write(&to, b"theirs").unwrap();
        let taken = rename_new(&from, &to).unwrap_err();
        assert_eq!(taken.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&to).unwrap(), b"theirs");
        assert!(from.exists());
        std::fs::remove_file(&to).unwrap();
        rename_new(&from, &to).unwrap();
        assert_eq!(std::fs::read(&to).unwrap(), b"ours");
        assert!(!from.exists());
    }
}
