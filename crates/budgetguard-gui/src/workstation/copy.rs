//! **Copy to a folder or USB stick**: a package's files (its parts and
//! their list, and the public key a signed one needs) copied to a folder
//! with progress, each written under a temporary name and renamed once
//! whole, then the copy verified entry by entry against its manifest.

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
    let total = files
        .iter()
        .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
        .sum();
    reporter.report(Event::Started {
        step: Step::Copy,
        total: Some(total),
    });
    let mut written = Vec::new();
    let mut done = 0u64;
    let result = files.iter().try_for_each(|file| {
        let target = folder.join(name(file));
        let partial = folder.join(format!(".{}.partial", name(file)));
        copy_one(file, &partial, &mut done, reporter, cancel)?;
        let renamed = std::fs::rename(&partial, &target).map_err(|e| Some(e.to_string()));
        if renamed.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        renamed.map(|()| written.push(target))
    });
    if let Err(problem) = result {
        // Nothing half-done stays on the stick.
        for file in &written {
            let _ = std::fs::remove_file(file);
        }
        return Err(problem.map(|detail| {
            Message::new(format!(
                "Cannot copy to “{}” ({detail}): nothing was left there. Check that the stick is plugged in and has room, then try again.",
                folder.display()
            ))
        }));
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
