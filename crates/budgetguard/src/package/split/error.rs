//! Why the parts of a split package cannot be read: each message names the
//! part by its number, so the right file is copied again.

use std::path::PathBuf;

use crate::package::quote::quote_path;

/// The parts that hold a range of a split package's bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsHolding {
    /// The first, from 1.
    pub first: usize,
    /// The last, from 1.
    pub last: usize,
    /// How many parts there are.
    pub count: usize,
    /// The first one's file.
    pub path: PathBuf,
}

impl PartsHolding {
    /// `it` for one part, `them` for several.
    fn them(&self) -> &'static str {
        if self.first == self.last {
            "it"
        } else {
            "them"
        }
    }
}

impl std::fmt::Display for PartsHolding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Self {
            first, last, count, ..
        } = self;
        if first == last {
            write!(f, "part {first} of {count} (`{}`)", quote_path(&self.path))
        } else {
            write!(
                f,
                "parts {first} to {last} of {count} (from `{}`)",
                quote_path(&self.path)
            )
        }
    }
}

/// A problem with the parts of a split package, found before the package
/// is read.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    /// The part list cannot be read.
    #[error(
        "cannot read the part list `{}`: {source}; copy it again from TechOps with the parts",
        quote_path(path)
    )]
    ListUnreadable {
        /// The list.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The part list is not one.
    #[error(
        "the part list `{}` is damaged ({detail}); copy it again from TechOps",
        quote_path(path)
    )]
    BadList {
        /// The list.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// The part list's signature does not match it (or is no signature).
    #[error(
        "the part list `{}` does not match its signature by key {key_id}: it was changed after TechOps signed it; copy it and `{}.minisig` again from TechOps",
        quote_path(path), quote_path(path)
    )]
    ListSignature {
        /// The list.
        path: PathBuf,
        /// The key the signature names (`?` when it is no signature).
        key_id: String,
    },
    /// An entry read from the parts differs from the manifest: a part
    /// changed after it was checked, or its list was made for other parts.
    #[error("entry `{entry}` {problem}: it is in {parts}, changed since checked or not as TechOps made {}; copy {} again from TechOps", parts.them(), parts.them())]
    Entry {
        /// The entry.
        entry: String,
        /// How it differs.
        problem: String,
        /// The parts its bytes are in.
        parts: PartsHolding,
    },
    /// A part is not there.
    #[error(
        "part {number} of {count} is missing: `{}` not found; copy it again from TechOps",
        quote_path(path)
    )]
    Missing {
        /// Its number, from 1.
        number: usize,
        /// How many parts there are.
        count: usize,
        /// Where it was looked for.
        path: PathBuf,
    },
    /// A part's size or content is not the listed one.
    #[error(
        "part {number} of {count} is damaged: `{}` {detail}; copy it again from TechOps",
        quote_path(path)
    )]
    Damaged {
        /// Its number, from 1.
        number: usize,
        /// How many parts there are.
        count: usize,
        /// The part.
        path: PathBuf,
        /// What differs.
        detail: String,
    },
    /// A part holds another part of the package.
    #[error("part {number} of {count} holds part {holds}: `{}` was renamed or the parts were mixed up; copy part {number} again from TechOps", quote_path(path))]
    Misplaced {
        /// Its number, from 1.
        number: usize,
        /// How many parts there are.
        count: usize,
        /// The part.
        path: PathBuf,
        /// The number of the part it holds.
        holds: usize,
    },
    /// A file is named as a part the list does not have.
    #[error(
        "`{}` is not a part of this package, which has {count} parts; move it away",
        quote_path(path)
    )]
    Extra {
        /// The file.
        path: PathBuf,
        /// How many parts there are.
        count: usize,
    },
    /// Parts of different packages were given.
    #[error(
        "`{}` is not a part of `{package}`; give the parts of one package",
        quote_path(path)
    )]
    Foreign {
        /// The file.
        path: PathBuf,
        /// The package the other parts join into.
        package: String,
    },
    /// The parts join into another package than their list names.
    #[error("the parts join into package id {actual}, but their list `{}` names {listed}; copy the parts and their list again from TechOps", quote_path(path))]
    OtherPackage {
        /// The list.
        path: PathBuf,
        /// The package id it names.
        listed: String,
        /// The package id of the joined parts.
        actual: String,
    },
    /// A part cannot be read.
    #[error(
        "cannot read part {number} of {count} `{}`: {source}",
        quote_path(path)
    )]
    Unreadable {
        /// Its number, from 1.
        number: usize,
        /// How many parts there are.
        count: usize,
        /// The part.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}
