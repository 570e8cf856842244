//! The part list: `<package>.parts`, a small JSON file beside the parts
//! that names each part with its size and SHA-256, and the package id of
//! the package they join into. A reader checks every part against it
//! before it reads the package (see `docs/package-format.md`, "Split
//! packages").

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::PartError;

/// The `format` of every part list.
pub const FORMAT: &str = "budgetguard-package-parts";

/// The largest part list a reader reads.
const MAX_LIST: u64 = 1 << 20;

/// The list of a split package's parts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartList {
    /// Always [`FORMAT`].
    pub format: String,
    /// The joined package's file name (`flux.zip`).
    pub package: String,
    /// The joined package's package id.
    pub package_id: String,
    /// The joined package's size in bytes.
    pub size: u64,
    /// The size of every part but the last.
    pub part_size: u64,
    /// The parts, in order.
    pub parts: Vec<PartRecord>,
}

/// One part of a split package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartRecord {
    /// Its file name (`flux.zip.001`).
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256, in hex.
    pub sha256: String,
    /// Its CRC-32 (IEEE), which readers check it with: a damaged copy is
    /// found at the speed of reading it, and a changed entry still cannot
    /// pass, since every entry is checked against the signed manifest as it
    /// is read. (Lists written before it had only the SHA-256, which is then
    /// checked.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crc32: Option<u32>,
}

/// What a part's bytes are checked by: its CRC-32 where its list records
/// one, else its SHA-256.
pub(crate) enum PartHasher {
    /// By CRC-32.
    Crc32(crc32fast::Hasher),
    /// By SHA-256.
    Sha256(Sha256),
}

impl PartHasher {
    /// The hasher that checks parts like `record`.
    pub(crate) fn like(record: &PartRecord) -> Self {
        match record.crc32 {
            Some(_) => Self::Crc32(crc32fast::Hasher::new()),
            None => Self::Sha256(Sha256::new()),
        }
    }

    /// Adds the next bytes.
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        match self {
            Self::Crc32(h) => h.update(bytes),
            Self::Sha256(h) => h.update(bytes),
        }
    }

    /// The part's value, to compare with records by [`PartRecord::is`].
    pub(crate) fn finish(self) -> PartValue {
        match self {
            Self::Crc32(h) => PartValue::Crc32(h.finalize()),
            Self::Sha256(h) => PartValue::Sha256(hex::encode(h.finalize())),
        }
    }
}

/// A part's checked value.
pub(crate) enum PartValue {
    /// Its CRC-32.
    Crc32(u32),
    /// Its SHA-256, in hex.
    Sha256(String),
}

impl PartRecord {
    /// Whether the part with `value` is this one.
    pub(crate) fn is(&self, value: &PartValue) -> bool {
        match value {
            PartValue::Crc32(crc) => self.crc32 == Some(*crc),
            PartValue::Sha256(sha) => self.sha256 == *sha,
        }
    }
}

/// The name of the part list of the package `package` (a file name).
pub fn list_name(package: &str) -> String {
    format!("{package}.parts")
}

/// The name of the signature of the part list of the package `package`:
/// beside the list, written when the package is signed.
pub fn list_signature_name(package: &str) -> String {
    format!("{package}.parts.minisig")
}

/// The name of part `number` (from 1) of the package `package`.
pub fn part_name(package: &str, number: usize) -> String {
    format!("{package}.{number:03}")
}

/// The package name and part number of a part's file name
/// (`flux.zip.003` gives `flux.zip` and 3).
pub fn part_number(name: &str) -> Option<(&str, usize)> {
    let (package, digits) = name.rsplit_once('.')?;
    let number = (digits.len() == 3 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then(|| digits.parse::<usize>().ok())??;
    (number > 0 && !package.is_empty()).then_some((package, number))
}

impl PartList {
    /// The bytes of the list as written.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut bytes = serde_json::to_vec_pretty(self).expect("the part list serializes");
        bytes.push(b'\n');
        bytes
    }

    /// Reads the part list at `path` and checks that it agrees with itself:
    /// parts named as its package's, every part but the last of the part
    /// size, the sizes adding up to the package's. Returns it with the
    /// bytes read (which its signature covers).
    pub fn read(path: &Path) -> Result<(Self, Vec<u8>), PartError> {
        let bad = |detail: String| PartError::BadList {
            path: path.to_owned(),
            detail,
        };
        let bytes = crate::files::read_small(path, MAX_LIST).map_err(|source| {
            match source
                .get_ref()
                .is_some_and(|e| e.is::<crate::files::TooLarge>())
            {
                true => bad("it is larger than 1 MiB".into()),
                false => PartError::ListUnreadable {
                    path: path.to_owned(),
                    source,
                },
            }
        })?;
        let list: PartList = serde_json::from_slice(&bytes)
            .map_err(|e| bad(format!("it is not a part list: {e}")))?;
        if list.format != FORMAT {
            return Err(bad("it is not a part list".into()));
        }
        let count = list.parts.len();
        if count == 0 || count as u64 > super::MAX_PARTS {
            return Err(bad(format!("it lists {count} parts")));
        }
        for (i, part) in list.parts.iter().enumerate() {
            let last = i + 1 == count;
            if part.name != part_name(&list.package, i + 1)
                || part.size == 0
                || part.size > list.part_size
                || !last && part.size != list.part_size
                || part.sha256.len() != 64
            {
                return Err(bad(format!(
                    "its part {} is not listed as a part of it",
                    i + 1
                )));
            }
        }
        if crate::size::total(list.parts.iter().map(|p| p.size)) != Some(list.size) {
            return Err(bad("its parts do not add up to the package".into()));
        }
        Ok((list, bytes))
    }

    /// The number of parts.
    pub fn count(&self) -> usize {
        self.parts.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_named_and_numbered() {
        assert_eq!(part_name("flux.zip", 9), "flux.zip.009");
        assert_eq!(part_number("flux.zip.009"), Some(("flux.zip", 9)));
        assert_eq!(part_number("flux.zip"), None);
        assert_eq!(part_number("flux.zip.000"), None);
        assert_eq!(part_number("flux.zip.0009"), None);
        assert_eq!(list_name("flux.zip"), "flux.zip.parts");
    }

    #[test]
    fn a_list_that_disagrees_with_itself_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("p.zip.parts");
        let record = |n: usize, size| PartRecord {
            name: part_name("p.zip", n),
            size,
            sha256: "0".repeat(64),
            crc32: Some(0),
        };
        let list = PartList {
            format: FORMAT.into(),
            package: "p.zip".into(),
            package_id: "1".repeat(64),
            size: 15,
            part_size: 10,
            parts: vec![record(1, 10), record(2, 5)],
        };
        std::fs::write(&path, list.to_bytes()).unwrap();
        assert_eq!(PartList::read(&path).unwrap().0, list);
        let mut short = list.clone();
        short.parts[0].size = 9;
        std::fs::write(&path, short.to_bytes()).unwrap();
        assert!(PartList::read(&path).is_err());
        let mut renamed = list;
        renamed.parts[1].name = "../x.002".into();
        std::fs::write(&path, renamed.to_bytes()).unwrap();
        assert!(PartList::read(&path).is_err());
    }
}
