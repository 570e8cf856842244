//! Paths typed into the page: `~` expanded, relative paths made absolute
//! (from the folder the GUI was started in), and package files that must
//! end in `.zip`.

use std::path::{Path, PathBuf};

use crate::messages::{Field, Message};

/// `input` trimmed, with a leading `~` or `~/` expanded to the home folder
/// and made absolute.
pub(crate) fn expand(input: &str) -> PathBuf {
    let input = input.trim();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let path = match (input.strip_prefix('~'), home) {
        (Some(""), Some(home)) => home,
        (Some(rest), Some(home)) if rest.starts_with('/') => {
            home.join(rest.trim_start_matches('/'))
        }
        _ => PathBuf::from(input),
    };
    std::path::absolute(&path).unwrap_or(path)
}

/// A package file typed into `field`: not empty, ending in `.zip`.
pub(crate) fn zip_file(input: &str, field: Field) -> Result<PathBuf, Message> {
    named(
        input,
        field,
        is_zip,
        "The file name must end in .zip: a package is one ZIP file.",
    )
}

/// A package to read typed into `field`: a `.zip` file, or a part of a
/// split package (`.zip.001`).
pub(crate) fn package_file(input: &str, field: Field) -> Result<PathBuf, Message> {
    named(
        input,
        field,
        |path| is_zip(path) || is_zip(&path.with_extension("")) && is_part(path),
        "The file name must end in .zip, or .zip.001 for a package in parts.",
    )
}

/// `input` expanded, if not empty and a name `fits`; else `problem`.
fn named(
    input: &str,
    field: Field,
    fits: impl Fn(&Path) -> bool,
    problem: &str,
) -> Result<PathBuf, Message> {
    if input.trim().is_empty() {
        return Err(Message::at(field, "Enter the path of the package file."));
    }
    let path = expand(input);
    if !fits(&path) {
        return Err(Message::at(field, problem.to_owned()));
    }
    Ok(path)
}

/// Whether the file name ends in a part number (`.001`).
fn is_part(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.len() == 3 && e.bytes().all(|b| b.is_ascii_digit()))
}

/// Whether the file name ends in `.zip.001` (in any case): the first part
/// of a package in parts, which Install and Verify take.
pub(crate) fn is_first_part(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() > 8 && n.to_ascii_lowercase().ends_with(".zip.001"))
}

/// Whether the file name ends in `.zip` (in any case).
pub(crate) fn is_zip(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.len() > 4 && n.to_ascii_lowercase().ends_with(".zip"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tilde_is_the_home_folder() {
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        assert_eq!(expand("~/p.zip"), home.join("p.zip"));
        assert_eq!(expand(" ~ "), home);
        assert_eq!(expand("/a/~b.zip"), PathBuf::from("/a/~b.zip"));
        assert!(expand("p.zip").is_absolute());
    }

    #[test]
    fn only_zip_files_are_packages() {
        assert!(zip_file("/tmp/p.zip", Field::Output).is_ok());
        assert!(zip_file("/tmp/P.ZIP", Field::Output).is_ok());
        let refused = zip_file("/tmp/p.tar", Field::Output).unwrap_err();
        assert_eq!(refused.field, Some(Field::Output));
        assert!(zip_file("/tmp/.zip", Field::Output).is_err());
        assert!(zip_file("  ", Field::Package).is_err());
        assert!(package_file("/tmp/p.zip.001", Field::Package).is_ok());
        assert!(package_file("/tmp/p.zip", Field::Package).is_ok());
        assert!(package_file("/tmp/p.tar.001", Field::Package).is_err());
        assert!(zip_file("/tmp/p.zip.001", Field::Package).is_err());
    }
}
