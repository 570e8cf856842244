//! The entry names a package may have: ones that every ZIP reader decodes
//! the same way and that stay inside the folder they are extracted to.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;

use budgetguard_base::quote::has_unsafe;

use super::directory::CentralRecord;
use super::error::{NameProblem, ZipError};

/// The longest entry name, in bytes.
pub const MAX_NAME: usize = 512;

/// Checks the raw name of an entry; `utf8_flag` is general purpose flag bit
/// 11. Returns the name, or the problem with the name shown lossily.
pub(super) fn check_name(raw: &[u8], utf8_flag: bool) -> Result<String, (String, NameProblem)> {
    let name = match std::str::from_utf8(raw) {
        Ok(name) => name,
        Err(_) => {
            return Err((
                String::from_utf8_lossy(raw).into_owned(),
                NameProblem::NotUtf8,
            ))
        }
    };
    let problem = if has_unsafe(name) {
        Some(NameProblem::Control)
    } else if name.len() > MAX_NAME {
        Some(NameProblem::TooLong(name.len()))
    } else if !name.is_ascii() && !utf8_flag {
        Some(NameProblem::NotFlaggedUtf8)
    } else if name.ends_with('/') {
        Some(NameProblem::Folder)
    } else if !stays_inside(name) {
        Some(NameProblem::Leaves)
    } else if name.split('/').any(|part| part.ends_with(['.', ' '])) {
        Some(NameProblem::WindowsTrailing)
    } else {
        None
    };
    match problem {
        Some(problem) => Err((name.to_owned(), problem)),
        None => Ok(name.to_owned()),
    }
}

/// Indexes the records by name, refusing names that would be one file when
/// extracted: the same name twice, names that differ only in case (one file
/// on Windows and macOS), and a name that is also the folder of another.
pub(super) fn index_names(records: &[CentralRecord]) -> Result<HashMap<String, usize>, ZipError> {
    let mut index = HashMap::with_capacity(records.len());
    let mut folded = HashMap::with_capacity(records.len());
    for (i, record) in records.iter().enumerate() {
        if index.insert(record.name.clone(), i).is_some() {
            return Err(ZipError::Duplicate {
                entry: record.name.clone(),
            });
        }
        let folds = |b: u8| b.is_ascii_uppercase() || !b.is_ascii();
        let lower = match record.name.bytes().any(folds) {
            true => Cow::Owned(record.name.to_lowercase()),
            false => Cow::Borrowed(record.name.as_str()),
        };
        if let Some(other) = folded.insert(lower, i) {
            return Err(ZipError::CaseDuplicate {
                entry: record.name.clone(),
                other: records[other].name.clone(),
            });
        }
    }
    // In byte order, the names inside folder `f/` follow `f/` at once: one
    // binary search per name, whatever the names' depth.
    let mut sorted: Vec<&str> = records.iter().map(|r| r.name.as_str()).collect();
    sorted.sort_unstable();
    for file in &sorted {
        let folder = format!("{file}/");
        let first = sorted.partition_point(|name| *name < folder.as_str());
        if let Some(inside) = sorted.get(first).filter(|name| name.starts_with(&folder)) {
            return Err(ZipError::FileAndFolder {
                entry: (*inside).to_owned(),
                file: (*file).to_owned(),
            });
        }
    }
    Ok(index)
}

/// The longest path inside a model cache, in bytes.
pub const MAX_CACHE_PATH: usize = 1024;

/// The most parts a path inside a model cache has.
pub const MAX_CACHE_DEPTH: usize = 64;

/// Why a path inside a model cache cannot be in a package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CachePathProblem {
    /// It leaves the cache, or holds `\`, `:`, a control or invisible
    /// format character.
    Name,
    /// More than [`MAX_CACHE_DEPTH`] parts or [`MAX_CACHE_PATH`] bytes.
    TooDeep,
}

/// Checks a path inside a model cache (a file, link or folder), for the
/// writer and the reader alike: whatever one packages, the other installs.
pub fn cache_path_problem(path: &str) -> Option<CachePathProblem> {
    if !stays_inside(path) || has_unsafe(path) {
        Some(CachePathProblem::Name)
    } else if path.len() > MAX_CACHE_PATH || path.split('/').count() > MAX_CACHE_DEPTH {
        Some(CachePathProblem::TooDeep)
    } else {
        None
    }
}

/// Whether the link at `path` inside a model cache may point at `target`:
/// relative, without `\` or NUL, and resolving inside the cache.
pub fn is_cache_link(path: &str, target: &str) -> bool {
    !target.is_empty()
        && !target.starts_with('/')
        && !target.contains(['\\', '\0'])
        && !has_unsafe(target)
        && resolve_link(path, target).is_some()
}

/// Where the link at `inside` (a path in the cache) points, as a path in
/// the cache; `None` when it leaves the cache.
pub fn resolve_link(inside: &str, target: &str) -> Option<PathBuf> {
    let mut parts: Vec<&str> = inside.split('/').collect();
    parts.pop();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.iter().collect())
}

/// Relative, `/`-separated, without empty, `.` or `..` parts, backslashes,
/// drive letters or NUL: a name that stays inside its folder (checked byte
/// by byte: a package may list a hundred thousand).
fn stays_inside(name: &str) -> bool {
    let name = name.as_bytes();
    !name.is_empty()
        && !name.iter().any(|b| matches!(b, b'\\' | b':' | 0))
        && name
            .split(|&b| b == b'/')
            .all(|part| !matches!(part, b"" | b"." | b".."))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(name: &str) -> Option<NameProblem> {
        check_name(name.as_bytes(), true).err().map(|(_, p)| p)
    }

    #[test]
    fn names_outside_the_package_are_refused() {
        assert_eq!(problem("images/blobs/sha256/abc"), None);
        assert_eq!(problem("compose/flux-dev/docker-compose.yml"), None);
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
            assert_eq!(problem(bad), Some(NameProblem::Leaves), "{bad}");
        }
    }

    #[test]
    fn cache_paths_the_reader_refuses_are_refused() {
        assert_eq!(cache_path_problem("hub/models--a--b/blobs/x"), None);
        for bad in [
            "a\\b",
            "c:x",
            "a/../..",
            "a\u{1b}b",
            "a\u{202e}b",
            "a\u{200b}",
            "/etc",
        ] {
            assert_eq!(
                cache_path_problem(bad),
                Some(CachePathProblem::Name),
                "{bad}"
            );
        }
        let deep = vec!["d"; MAX_CACHE_DEPTH + 1].join("/");
        assert_eq!(cache_path_problem(&deep), Some(CachePathProblem::TooDeep));
        let long = "a".repeat(MAX_CACHE_PATH + 1);
        assert_eq!(cache_path_problem(&long), Some(CachePathProblem::TooDeep));
        assert!(is_cache_link("a/b", "../c"));
        assert!(!is_cache_link("a/b", "../../c"));
        assert!(!is_cache_link("a/b", "x\\y"));
        assert!(!is_cache_link("a/b", "/etc/passwd"));
    }

    #[test]
    fn names_other_readers_see_differently_are_refused() {
        assert_eq!(problem("a\u{1b}[2Jb"), Some(NameProblem::Control));
        assert_eq!(problem("a\u{85}b"), Some(NameProblem::Control));
        assert_eq!(problem("a\0b"), Some(NameProblem::Control));
        assert_eq!(problem("dir/"), Some(NameProblem::Folder));
        assert_eq!(problem("readme.txt."), Some(NameProblem::WindowsTrailing));
        assert_eq!(problem("a /b"), Some(NameProblem::WindowsTrailing));
        assert_eq!(
            problem(&"a".repeat(MAX_NAME + 1)),
            Some(NameProblem::TooLong(MAX_NAME + 1))
        );
        assert_eq!(problem("café"), None);
        assert_eq!(
            check_name("café".as_bytes(), false).unwrap_err().1,
            NameProblem::NotFlaggedUtf8
        );
        assert_eq!(
            check_name(b"a\xffb", true).unwrap_err(),
            ("a\u{fffd}b".to_owned(), NameProblem::NotUtf8)
        );
    }

    #[test]
    fn links_resolve_from_their_folder() {
        assert_eq!(
            resolve_link("a/s/rev/w", "../../blobs/x"),
            Some(PathBuf::from("a/blobs/x"))
        );
        assert_eq!(resolve_link("w", "../x"), None);
        assert_eq!(resolve_link("a/w", "./b/../c"), Some(PathBuf::from("a/c")));
    }
}
