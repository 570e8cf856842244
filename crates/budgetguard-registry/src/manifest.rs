//! Manifests and indexes as registries serve them: Docker's schema 2 and
//! OCI's, single-platform or multi-platform. Schema 1 is refused.

use serde::{Deserialize, Serialize};

use super::RegistryError;
use crate::reference::is_sha256_digest;
use budgetguard_base::quote::quote_list;

/// Docker schema 2 image manifest.
pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Docker schema 2 manifest list.
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
/// OCI image manifest.
pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
/// OCI image index.
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
/// Docker schema 1, unsigned and signed: asked for only to refuse it clearly.
const DOCKER_SCHEMA1: [&str; 2] = [
    "application/vnd.docker.distribution.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v1+prettyjws",
];

/// The `Accept` header of manifest requests.
pub(super) fn accept_header() -> String {
    [
        OCI_INDEX,
        DOCKER_MANIFEST_LIST,
        OCI_MANIFEST,
        DOCKER_MANIFEST,
    ]
    .into_iter()
    .chain(DOCKER_SCHEMA1)
    .collect::<Vec<_>>()
    .join(", ")
}

/// A pointer to a blob or manifest: its type, digest and size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Descriptor {
    /// Its media type, e.g. `application/vnd.oci.image.layer.v1.tar+gzip`.
    #[serde(rename = "mediaType", default)]
    pub media_type: String,
    /// Its digest, `sha256:…`.
    pub digest: String,
    /// Its size in bytes.
    pub size: u64,
}

/// An operating system and CPU architecture, as `linux/amd64` or
/// `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Platform {
    /// The operating system, e.g. `linux`.
    pub os: String,
    /// The CPU architecture, e.g. `amd64`.
    pub architecture: String,
    /// The CPU variant, e.g. `v8`, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Why a `--platform` value cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a platform; give `os/architecture[/variant]`, e.g. `linux/amd64` or `linux/arm64`")]
pub struct PlatformError(String);

impl Default for Platform {
    /// `linux/amd64`, what the workstations run.
    fn default() -> Self {
        Self {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl std::str::FromStr for Platform {
    type Err = PlatformError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = text.split('/').collect();
        let valid =
            |s: &&str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        match parts[..] {
            [os, architecture] if [os, architecture].iter().all(valid) => Ok(Self {
                os: os.to_lowercase(),
                architecture: architecture.to_lowercase(),
                variant: None,
            }),
            [os, architecture, variant] if [os, architecture, variant].iter().all(valid) => {
                Ok(Self {
                    os: os.to_lowercase(),
                    architecture: architecture.to_lowercase(),
                    variant: Some(variant.to_lowercase()),
                })
            }
            _ => Err(PlatformError(text.to_owned())),
        }
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(variant) = &self.variant {
            write!(f, "/{variant}")?;
        }
        Ok(())
    }
}

impl Platform {
    /// Whether an index entry for `other` serves this platform: same OS and
    /// architecture, and the variant asked for (arm64 without a variant is v8).
    fn matches(&self, other: &Platform) -> bool {
        let variant = |p: &Platform| match (p.architecture.as_str(), p.variant.as_deref()) {
            ("arm64", None) => Some("v8".to_owned()),
            (_, v) => v.map(str::to_owned),
        };
        self.os == other.os
            && self.architecture == other.architecture
            && (self.variant.is_none() && self.architecture != "arm64"
                || variant(self) == variant(other))
    }
}

/// What a manifest body turned out to be.
pub(super) enum Parsed {
    /// A single image.
    Image {
        /// Its config blob.
        config: Descriptor,
        /// Its layers, bottom first.
        layers: Vec<Descriptor>,
    },
    /// A multi-platform index.
    Index(Vec<IndexEntry>),
}

/// One manifest of an index.
#[derive(Deserialize)]
pub(super) struct IndexEntry {
    #[serde(flatten)]
    pub descriptor: Descriptor,
    pub platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Body {
    #[serde(rename = "schemaVersion", default)]
    schema_version: u32,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    config: Option<Descriptor>,
    layers: Option<Vec<Descriptor>>,
    manifests: Option<Vec<IndexEntry>>,
}

/// The media type of a manifest: the `Content-Type` the registry sent when
/// it is a manifest type, else the body's `mediaType`, else what its fields
/// say (OCI lets both be absent).
pub(super) fn media_type_of(content_type: Option<&str>, bytes: &[u8]) -> String {
    let header = content_type
        .map(|t| t.split(';').next().unwrap_or(t).trim())
        .filter(|t| t.starts_with("application/vnd."));
    if let Some(header) = header {
        return header.to_owned();
    }
    match serde_json::from_slice::<Body>(bytes) {
        Ok(body) => body.media_type.unwrap_or_else(|| {
            if body.schema_version == 1 {
                DOCKER_SCHEMA1[0].to_owned()
            } else if body.manifests.is_some() {
                OCI_INDEX.to_owned()
            } else {
                OCI_MANIFEST.to_owned()
            }
        }),
        Err(_) => content_type.unwrap_or("unknown").to_owned(),
    }
}

/// Reads a manifest body of `media_type`.
pub(super) fn parse(
    reference: &str,
    media_type: &str,
    bytes: &[u8],
) -> Result<Parsed, RegistryError> {
    let bad = |detail: String| RegistryError::BadManifest {
        reference: reference.to_owned(),
        detail,
    };
    let is_index = [OCI_INDEX, DOCKER_MANIFEST_LIST].contains(&media_type);
    if !is_index && ![OCI_MANIFEST, DOCKER_MANIFEST].contains(&media_type) {
        return Err(RegistryError::UnsupportedManifest {
            reference: reference.to_owned(),
            media_type: media_type.to_owned(),
        });
    }
    let body: Body = serde_json::from_slice(bytes).map_err(|e| bad(e.to_string()))?;
    if body.schema_version != 2 {
        return Err(bad(format!("schemaVersion {}", body.schema_version)));
    }
    let check = |d: &Descriptor| {
        if is_sha256_digest(&d.digest) {
            Ok(())
        } else {
            Err(bad(format!("`{}` is not a sha256 digest", d.digest)))
        }
    };
    if is_index {
        let entries = body
            .manifests
            .ok_or_else(|| bad("an index without `manifests`".into()))?;
        entries.iter().try_for_each(|e| check(&e.descriptor))?;
        return Ok(Parsed::Index(entries));
    }
    let config = body.config.ok_or_else(|| bad("no `config`".into()))?;
    let layers = body.layers.ok_or_else(|| bad("no `layers`".into()))?;
    check(&config)?;
    layers.iter().try_for_each(check)?;
    Ok(Parsed::Image { config, layers })
}

/// The index entry for `platform`, or an error listing what the index has.
pub(super) fn choose<'a>(
    reference: &str,
    entries: &'a [IndexEntry],
    platform: &Platform,
) -> Result<&'a Descriptor, RegistryError> {
    entries
        .iter()
        .find(|e| e.platform.as_ref().is_some_and(|p| platform.matches(p)))
        .map(|e| &e.descriptor)
        .ok_or_else(|| {
            let available: Vec<String> = entries
                .iter()
                .filter_map(|e| e.platform.as_ref())
                .filter(|p| p.os != "unknown")
                .map(Platform::to_string)
                .collect();
            let available: Vec<&str> = available.iter().map(String::as_str).collect();
            RegistryError::NoMatchingPlatform {
                reference: reference.to_owned(),
                platform: platform.to_string(),
                available: if available.is_empty() {
                    "none".into()
                } else {
                    quote_list(&available, "platforms")
                },
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    fn entry(platform: &str) -> IndexEntry {
        IndexEntry {
            descriptor: Descriptor {
                media_type: OCI_MANIFEST.into(),
                digest: D.into(),
                size: 1,
            },
            platform: Some(platform.parse().unwrap()),
        }
    }

    #[test]
    fn platforms_parse_and_match() {
        let amd64 = Platform::default();
        assert_eq!(amd64.to_string(), "linux/amd64");
        let arm64: Platform = "linux/arm64".parse().unwrap();
        assert!(arm64.matches(&"linux/arm64/v8".parse().unwrap()));
        assert!(arm64.matches(&"linux/arm64".parse().unwrap()));
        assert!(!arm64.matches(&amd64));
        assert!(amd64.matches(&"linux/amd64/v3".parse().unwrap()));
        let v7: Platform = "linux/arm/v7".parse().unwrap();
        assert!(!v7.matches(&"linux/arm/v6".parse().unwrap()));
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/amd64/v3/x".parse::<Platform>().is_err());
    }

    #[test]
    fn index_entries_are_chosen_by_platform() {
        let entries = vec![
            entry("unknown/unknown"),
            entry("linux/arm64/v8"),
            entry("linux/amd64"),
        ];
        assert!(choose("x", &entries, &Platform::default()).is_ok());
        let message = choose("x", &entries[..2], &Platform::default())
            .unwrap_err()
            .to_string();
        assert!(message.contains("it has linux/arm64/v8"), "{message}");
        assert!(message.contains("choose one of those"), "{message}");
    }

    #[test]
    fn an_index_of_many_platforms_gives_one_short_line() {
        let platforms: Vec<IndexEntry> = (0..15_000)
            .map(|i| IndexEntry {
                platform: Some(Platform {
                    os: "linux".into(),
                    architecture: format!("arch{i}\u{202e}\n"),
                    variant: None,
                }),
                ..entry("linux/arm64")
            })
            .collect();
        let message = choose("x", &platforms, &Platform::default())
            .unwrap_err()
            .to_string();
        assert!(message.len() < 1000, "{} bytes: {message}", message.len());
        assert!(
            !message.chars().any(budgetguard_base::quote::is_unsafe),
            "{message}"
        );
        assert!(
            message.contains("15000 platforms: linux/arch0"),
            "{message}"
        );
        assert!(message.contains("and 14990 more"), "{message}");
    }

    #[test]
    fn schema1_and_unknown_types_are_refused_by_name() {
        let schema1 = br#"{"schemaVersion":1,"name":"x","fsLayers":[]}"#;
        let media_type = media_type_of(Some("application/json"), schema1);
        let error = parse("x:1", &media_type, schema1)
            .err()
            .unwrap()
            .to_string();
        assert!(error.contains("schema 1"), "{error}");
        assert!(error.contains("push the image again"), "{error}");
        let oci =
            format!(r#"{{"schemaVersion":2,"config":{{"digest":"{D}","size":2}},"layers":[]}}"#);
        assert_eq!(media_type_of(None, oci.as_bytes()), OCI_MANIFEST);
        assert!(matches!(
            parse("x:1", OCI_MANIFEST, oci.as_bytes()),
            Ok(Parsed::Image { .. })
        ));
        let bad =
            r#"{"schemaVersion":2,"config":{"digest":"sha256:../../x","size":2},"layers":[]}"#;
        assert!(matches!(
            parse("x:1", OCI_MANIFEST, bad.as_bytes()),
            Err(RegistryError::BadManifest { .. })
        ));
    }
}
