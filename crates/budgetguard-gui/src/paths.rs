//! Paths typed into the page: `~` expanded, relative paths made absolute
//! (from the folder the GUI was started in), package files that must end
//! in `.zip`, and packages given by their address on a server.

use std::path::{Path, PathBuf};

use budgetguard::package::http::{is_url, HttpOptions, TokenSource};

use crate::messages::{Field, Message};

/// A package to read, as typed: a file here, or its address on a server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Given {
    /// A package file (or the first part of one in parts).
    File(PathBuf),
    /// An address the library reads the package at (`https://…`), as typed.
    Address(String),
}

impl Given {
    /// What the library's opener takes: the file, or the address.
    pub(crate) fn path(&self) -> PathBuf {
        match self {
            Self::File(path) => path.clone(),
            Self::Address(address) => PathBuf::from(address),
        }
    }
}

/// A package to read typed into `field`: an address, which the library
/// checks when it opens it (whether it names a package by address is the
/// library's call, so every scheme it reads is taken here), else a package
/// file (see [`package_file`]).
pub(crate) fn package_given(input: &str, field: Field) -> Result<Given, Message> {
    let trimmed = input.trim();
    if is_url(trimmed) {
        return Ok(Given::Address(trimmed.to_owned()));
    }
    package_file(input, field).map(Given::File)
}

/// How a package given by address is read: plain HTTP to another machine
/// only when `allow_http`, and the bearer token in the file `token_file`
/// (as typed; empty: the server's login in `~/.netrc`, if any). The token
/// itself is read only when a request is made, and never kept.
pub(crate) fn http_options(allow_http: bool, token_file: &str) -> HttpOptions {
    HttpOptions {
        allow_http,
        token: (!token_file.trim().is_empty()).then(|| TokenSource::File(expand(token_file))),
        ..HttpOptions::default()
    }
}

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

    #[test]
    fn an_address_is_given_as_typed_and_a_file_expanded() {
        assert_eq!(
            package_given(" https://example.com/p.zip ", Field::Package),
            Ok(Given::Address("https://example.com/p.zip".to_owned()))
        );
        // Any scheme is the library's to read or refuse, with its words.
        assert_eq!(
            package_given("oci://registry/repo:tag", Field::Package)
                .unwrap()
                .path(),
            PathBuf::from("oci://registry/repo:tag")
        );
        assert_eq!(
            package_given("/tmp/p.zip", Field::Package),
            Ok(Given::File(PathBuf::from("/tmp/p.zip")))
        );
        assert!(package_given("/tmp/p.tar", Field::Package).is_err());
        let home = PathBuf::from(std::env::var_os("HOME").unwrap());
        let options = http_options(true, "~/token");
        assert!(options.allow_http);
        assert_eq!(options.token, Some(TokenSource::File(home.join("token"))));
        assert_eq!(http_options(false, " ").token, None);
    }
}
