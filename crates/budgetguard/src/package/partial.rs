//! The hidden partial file a create writes the package into, beside the
//! output: `.<output name>.<6 random letters>.partial`, renamed to the
//! output when it is finished. The create that writes it holds an advisory
//! lock (`flock`) on it for as long as it runs; the kernel drops the lock
//! when that process ends, however it ends. So a partial nobody holds was
//! left by a create that was killed, and the next create into the folder
//! removes it.

use std::io;
use std::path::Path;

use tempfile::NamedTempFile;

/// The end of every partial file's name.
const SUFFIX: &str = ".partial";

/// Whether `name` is the name of a partial file.
fn is_partial(name: &str) -> bool {
    let Some(rest) = name.strip_suffix(SUFFIX) else {
        return false;
    };
    match rest.rsplit_once('.') {
        Some((output, random)) => {
            output.len() > 1
                && output.starts_with('.')
                && random.len() == 6
                && random.bytes().all(|b| b.is_ascii_alphanumeric())
        }
        None => false,
    }
}

/// Whether `path` still names the file `file` is open on.
fn still_names(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(at_path), Ok(open)) => at_path.dev() == open.dev() && at_path.ino() == open.ino(),
        _ => false,
    }
}

/// Makes the partial file of the output `file_name` in `dir`, locked for
/// as long as it is open.
pub(crate) fn create(dir: &Path, file_name: &str) -> io::Result<NamedTempFile> {
    loop {
        let temp = tempfile::Builder::new()
            .prefix(&format!(".{file_name}."))
            .suffix(SUFFIX)
            .tempfile_in(dir)?;
        temp.as_file().lock()?;
        // A create sweeping the folder may have taken the lock between the
        // file's making and ours, and removed it: then make another.
        if still_names(temp.path(), temp.as_file()) {
            return Ok(temp);
        }
    }
}

/// Removes the partial files in `dir` that no running create holds (those
/// of creates that were killed). Best effort: a file that cannot be
/// checked or removed is left.
pub(crate) fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let is_file = entry.file_type().is_ok_and(|t| t.is_file());
        if !is_file || !entry.file_name().to_str().is_some_and(is_partial) {
            continue;
        }
        let path = entry.path();
        let Ok(file) = crate::files::open_regular(&path) else {
            continue;
        };
        if file.try_lock().is_ok() && still_names(&path, &file) {
            match std::fs::remove_file(&path) {
                Ok(()) => tracing::info!(
                    path = %path.display(),
                    why = "a create that was stopped left it, and no running create holds it",
                    "removed a partial package file"
                ),
                Err(e) => {
                    tracing::debug!(path = %path.display(), error = %e, "cannot remove a partial package file")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_partials_nobody_holds_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let held = create(dir.path(), "p.zip").unwrap();
        let left = create(dir.path(), "p.zip").unwrap();
        let (_, left_path) = left.keep().unwrap();
        let other = dir.path().join(".notes.partial");
        std::fs::write(&other, b"mine").unwrap();
        remove_stale(dir.path());
        assert!(held.path().exists(), "a held partial stays");
        assert!(!left_path.exists(), "an abandoned partial goes");
        assert!(other.exists(), "a file not named as a partial stays");
        assert!(is_partial(".p.zip.a1B2c3.partial"));
        assert!(!is_partial("p.zip.a1B2c3.partial"));
        assert!(!is_partial(".p.zip.a1-2c3.partial"));
    }
}
