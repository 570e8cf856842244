//! The size of a split package's parts, as people write it: `4GiB`,
//! `7MiB`, `500MB`, or a number of bytes.

use serde::{Deserialize, Serialize};

/// The smallest part: smaller ones would make thousands of files.
pub const MIN_PART_SIZE: u64 = 1 << 20;

/// The most parts a package may be split into (their numbers have three
/// digits).
pub const MAX_PARTS: u64 = 999;

/// The largest size of each part of a split package, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartSize(u64);

impl PartSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }
}

impl std::fmt::Display for PartSize {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} bytes", self.0)
    }
}

impl std::str::FromStr for PartSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{}` is not a size: write it as a number with a unit, e.g. `4GiB`, `4095MiB` or `700MB`",
                crate::package::quote::quote(s)
            )
        };
        let text = s.trim();
        let digits = text
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len());
        let (number, unit) = text.split_at(digits);
        let number: u64 = number.parse().map_err(|_| bad())?;
        let unit = match unit.trim().to_ascii_lowercase().as_str() {
            "" | "b" => 1,
            "k" | "kib" => 1 << 10,
            "m" | "mib" => 1 << 20,
            "g" | "gib" => 1 << 30,
            "t" | "tib" => 1 << 40,
            "kb" => 1_000,
            "mb" => 1_000_000,
            "gb" => 1_000_000_000,
            "tb" => 1_000_000_000_000,
            _ => return Err(bad()),
        };
        let bytes = number.checked_mul(unit).ok_or_else(bad)?;
        if bytes < MIN_PART_SIZE {
            return Err(format!(
                "parts of `{}` are too small: the smallest is 1MiB",
                crate::package::quote::quote(s)
            ));
        }
        Ok(PartSize(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_as_written() {
        let bytes = |s: &str| s.parse::<PartSize>().map(PartSize::bytes);
        assert_eq!(bytes("4GiB"), Ok(4 << 30));
        assert_eq!(bytes("7MiB"), Ok(7 << 20));
        assert_eq!(bytes("4095MiB"), Ok(4095 << 20));
        assert_eq!(bytes("700MB"), Ok(700_000_000));
        assert_eq!(bytes("2097152"), Ok(2 << 20));
        assert!(bytes("4 parsecs").is_err());
        assert!(bytes("GiB").is_err());
        assert!(bytes("1KiB").unwrap_err().contains("too small"));
        assert!(bytes("99999999999TiB").is_err());
    }
}
