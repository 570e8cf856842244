//! The ZIP container of a package: a streaming writer of our own and a strict
//! reader that hands out each entry's bytes straight from the package's
//! [`PackageSource`] (a file today), without extracting anything. The
//! names a package may hold (entries, model cache files and links) are
//! decided here, for the writer and the reader alike.

mod data;
mod directory;
mod error;
mod fields;
mod local;
mod names;
mod reader;
mod records;
mod source;
mod writer;

pub use error::{
    DataError, DataProblem, FileKind, HeaderField, NameProblem, ZipError, MAX_DIRECTORY,
    MAX_ENTRIES,
};
pub use names::{
    cache_path_problem, is_cache_link, resolve_link, CachePathProblem, MAX_CACHE_DEPTH,
    MAX_CACHE_PATH, MAX_NAME,
};
pub use reader::{EntryInfo, ZipReader};
pub use source::{FileSource, PackageSource};
pub use writer::{EntryWriter, Finished, ZipOutput, ZipWriter};

use serde::{Deserialize, Serialize};

/// How the entries of a package are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Stored as they are: the fastest, and every ZIP reader takes it.
    #[default]
    None,
    /// Deflate at its fastest level: every ZIP reader takes it.
    Deflate,
    /// Zstandard, multi-threaded: the smallest, but `unzip` and older Python
    /// versions cannot read it.
    Zstd,
}

impl Compression {
    /// The ZIP compression method number.
    pub fn method(self) -> u16 {
        match self {
            Compression::None => 0,
            Compression::Deflate => 8,
            Compression::Zstd => 93,
        }
    }

    /// The setting that a ZIP compression method number stands for.
    pub fn from_method(method: u16) -> Option<Self> {
        [Compression::None, Compression::Deflate, Compression::Zstd]
            .into_iter()
            .find(|c| c.method() == method)
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::None => "none",
            Compression::Deflate => "deflate",
            Compression::Zstd => "zstd",
        })
    }
}

impl std::str::FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Compression::None),
            "deflate" => Ok(Compression::Deflate),
            "zstd" => Ok(Compression::Zstd),
            other => Err(format!(
                "unknown compression `{other}`: use none, deflate or zstd"
            )),
        }
    }
}

/// A time in the MS-DOS format ZIP headers use (2-second steps, 1980 to 2107).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DosTime {
    /// Hours, minutes and seconds / 2.
    pub time: u16,
    /// Years since 1980, month and day.
    pub date: u16,
}

impl DosTime {
    /// Converts a UTC time, clamped to the range a ZIP header can hold.
    pub fn from_utc(t: time::OffsetDateTime) -> Self {
        let t = t.to_offset(time::UtcOffset::UTC);
        let year = t.year().clamp(1980, 2107);
        let (month, day, hour, minute, second) = if year == t.year() {
            (
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second(),
            )
        } else if t.year() < 1980 {
            (1, 1, 0, 0, 0)
        } else {
            (12, 31, 23, 59, 58)
        };
        DosTime {
            time: (u16::from(hour) << 11) | (u16::from(minute) << 5) | (u16::from(second) / 2),
            date: (((year - 1980) as u16) << 9) | (u16::from(month) << 5) | u16::from(day),
        }
    }
}
