//! Content digests and engine image IDs, checked once where they come in
//! (an engine's answer, a state file) instead of passed around as text.

use std::fmt;
use std::io;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::Digest as _;

use crate::reference::is_sha256_digest;

/// The algorithm every digest of this tool uses, as digests spell it.
const SHA256: &str = "sha256:";

/// An OCI content digest: `sha256:` and 64 lowercase hex digits (the only
/// form a package, an engine or a registry is trusted with).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Digest(String);

/// Text that is not a [`Digest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{}` is not a `sha256:` digest of 64 lowercase hex digits", crate::package::quote::quote(.0))]
pub struct NotADigest(pub String);

impl Digest {
    /// The digest as text, `sha256:…`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 64 hex digits after `sha256:`.
    pub fn hex(&self) -> &str {
        &self.0[SHA256.len()..]
    }
}

impl FromStr for Digest {
    type Err = NotADigest;

    fn from_str(text: &str) -> Result<Self, NotADigest> {
        Self::try_from(text.to_owned())
    }
}

impl TryFrom<String> for Digest {
    type Error = NotADigest;

    fn try_from(text: String) -> Result<Self, NotADigest> {
        match is_sha256_digest(&text) {
            true => Ok(Self(text)),
            false => Err(NotADigest(text)),
        }
    }
}

impl From<Digest> for String {
    fn from(digest: Digest) -> String {
        digest.0
    }
}

impl AsRef<str> for Digest {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An image's ID in an engine: the digest of its config on the classic
/// store, of its OCI image manifest (or index) on the containerd store.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ImageId(Digest);

impl ImageId {
    /// The ID as text, `sha256:…`.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The 64 hex digits after `sha256:`.
    pub fn hex(&self) -> &str {
        self.0.hex()
    }

    /// The digest the ID is.
    pub fn digest(&self) -> &Digest {
        &self.0
    }
}

impl From<Digest> for ImageId {
    fn from(digest: Digest) -> Self {
        Self(digest)
    }
}

impl FromStr for ImageId {
    type Err = NotADigest;

    fn from_str(text: &str) -> Result<Self, NotADigest> {
        text.parse().map(Self)
    }
}

impl TryFrom<String> for ImageId {
    type Error = NotADigest;

    fn try_from(text: String) -> Result<Self, NotADigest> {
        Digest::try_from(text).map(Self)
    }
}

impl From<ImageId> for String {
    fn from(id: ImageId) -> String {
        id.0.into()
    }
}

impl AsRef<str> for ImageId {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl fmt::Display for ImageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A writer that hashes what it is given (SHA-256).
#[derive(Default)]
pub(crate) struct HashWriter(sha2::Sha256);

impl HashWriter {
    /// The SHA-256 of what was written, in hex.
    pub(crate) fn hex(self) -> String {
        hex::encode(self.0.finalize())
    }
}

impl io::Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_digest_is_sha256_and_64_lowercase_hex_digits() {
        let digest: Digest = format!("sha256:{HEX}").parse().unwrap();
        assert_eq!(digest.hex(), HEX);
        assert_eq!(digest.to_string(), format!("sha256:{HEX}"));
        let refused = [
            format!("sha256:{}", &HEX[1..]),
            format!("sha256:{HEX}0"),
            format!("sha256:{}", HEX.to_uppercase()),
            HEX.to_owned(),
            format!("sha512:{HEX}"),
            format!("sha256:{}", HEX.replace('a', "g")),
            "sha256:../../x".to_owned(),
        ];
        for text in refused {
            assert_eq!(text.parse::<Digest>(), Err(NotADigest(text.clone())));
            assert!(text.parse::<ImageId>().is_err(), "{text}");
        }
    }

    #[test]
    fn digests_and_ids_are_the_same_string_in_json() {
        let json = format!("[\"sha256:{HEX}\"]");
        let digests: Vec<Digest> = serde_json::from_str(&json).unwrap();
        assert_eq!(serde_json::to_string(&digests).unwrap(), json);
        let ids: Vec<ImageId> = serde_json::from_str(&json).unwrap();
        assert_eq!(ids[0].digest(), &digests[0]);
        assert_eq!(serde_json::to_string(&ids).unwrap(), json);
        assert!(serde_json::from_str::<Vec<ImageId>>("[\"sha256:ABC\"]").is_err());
    }
}
