//! What the faces take from the user about model caches, parsed by one rule
//! for both: a profile to package (`ID` or `CACHE=ID`) and a cache filled
//! beforehand (`DIR` or `CACHE=DIR`). The part before `=` names a cache only
//! when it reads as a cache name (lower-case letters, digits, `-`), as the
//! catalog spells them.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// The longest profile id taken (the catalog's own limit).
pub const MAX_PROFILE_ID: usize = 128;

/// A profile to package: for every model cache of the nodes, or for one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileChoice {
    /// The one cache it is for; `None`: every cache.
    pub cache: Option<String>,
    /// The profile id, as the image's `list-model-profiles` prints it.
    pub id: String,
}

/// Text that is no profile choice. It is the user's own text: a face quotes
/// it as it shows such text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{text}` is not a profile id")]
pub struct NotAProfile {
    /// The text as given.
    pub text: String,
}

impl FromStr for ProfileChoice {
    type Err = NotAProfile;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (cache, id) = split_cache(text);
        let plain = !id.is_empty()
            && id.len() <= MAX_PROFILE_ID
            && id.bytes().all(|b| b.is_ascii_graphic() && b != b'=');
        if !plain {
            return Err(NotAProfile {
                text: text.to_owned(),
            });
        }
        Ok(Self {
            cache: cache.map(str::to_owned),
            id: id.to_owned(),
        })
    }
}

impl fmt::Display for ProfileChoice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cache {
            Some(cache) => write!(f, "{cache}={}", self.id),
            None => f.write_str(&self.id),
        }
    }
}

/// A model cache filled beforehand, packaged as it is: for the nodes' one
/// cache, or for the cache it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheFolder {
    /// The cache it is; `None`: the nodes' only cache.
    pub cache: Option<String>,
    /// The folder.
    pub dir: PathBuf,
}

impl FromStr for CacheFolder {
    type Err = std::convert::Infallible;

    /// `CACHE=DIR` or `DIR`; a folder that exists under the whole text is
    /// that folder, whatever `=` it holds.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Ok(match split_cache(text) {
            (Some(cache), dir) if !Path::new(text).exists() => Self {
                cache: Some(cache.to_owned()),
                dir: dir.into(),
            },
            _ => Self {
                cache: None,
                dir: text.into(),
            },
        })
    }
}

impl fmt::Display for CacheFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.cache {
            Some(cache) => write!(f, "{cache}={}", self.dir.display()),
            None => write!(f, "{}", self.dir.display()),
        }
    }
}

/// `cache=value` as `(Some(cache), value)` when the part before `=` is a
/// cache name; anything else as `(None, text)`.
fn split_cache(text: &str) -> (Option<&str>, &str) {
    match text.split_once('=') {
        Some((cache, value))
            if !cache.is_empty()
                && cache
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') =>
        {
            (Some(cache), value)
        }
        _ => (None, text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_profile_is_an_id_or_a_cache_and_an_id() {
        let plain: ProfileChoice = "demo-base-cpu".parse().unwrap();
        assert_eq!(
            (plain.cache.as_deref(), plain.id.as_str()),
            (None, "demo-base-cpu")
        );
        let one: ProfileChoice = "flux-dev=abc123".parse().unwrap();
        assert_eq!(one.cache.as_deref(), Some("flux-dev"));
        assert_eq!(one.to_string(), "flux-dev=abc123");
        for refused in ["", "demo=", "a=b=c", "Flux=abc", "a b", &"x".repeat(129)] {
            assert!(refused.parse::<ProfileChoice>().is_err(), "{refused}");
        }
        assert_eq!(
            "demo=".parse::<ProfileChoice>().unwrap_err().to_string(),
            "`demo=` is not a profile id"
        );
    }

    #[test]
    fn a_folder_is_named_for_a_cache_or_for_the_only_one() {
        let named: CacheFolder = "flux-dev=/no/such/dir".parse().unwrap();
        assert_eq!(named.cache.as_deref(), Some("flux-dev"));
        assert_eq!(named.dir, PathBuf::from("/no/such/dir"));
        assert_eq!(named.to_string(), "flux-dev=/no/such/dir");
        let plain: CacheFolder = "/caches/demo=old".parse().unwrap();
        assert_eq!(plain.cache, None);
        assert_eq!(plain.dir, PathBuf::from("/caches/demo=old"));
    }
}
