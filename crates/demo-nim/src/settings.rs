//! The environment the binary reads (see the crate docs for the contract).

use std::path::PathBuf;

use crate::serve::infer::Mode;

/// Default of `NIM_CACHE_PATH`.
pub const DEFAULT_CACHE: &str = "/opt/nim/.cache";
/// Default of `DEMO_NIM_MODEL`.
pub const DEFAULT_MODEL: &str = "budgetguard/demo-flux";

/// What the model commands and the server's model loader need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// `NIM_CACHE_PATH`: the cache root.
    pub cache: PathBuf,
    /// `DEMO_NIM_MODEL_SERVER`: base URL without a trailing `/`, if any.
    pub model_server: Option<String>,
    /// `DEMO_NIM_MODEL`: the model name.
    pub model: String,
    /// `NGC_API_KEY`: sent as a bearer token when set.
    pub api_key: Option<String>,
    /// `NIM_MODEL_PROFILE`: the profile to serve, if pinned.
    pub pinned_profile: Option<String>,
    /// `DEMO_NIM_REQUIRE_MODEL`: false means ready without a model.
    pub require_model: bool,
    /// `DEMO_NIM_GPUS`: GPU names to pretend are present.
    pub gpus: Vec<String>,
}

/// What only the server needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSettings {
    /// `DEMO_NIM_PORT` (default 8000).
    pub port: u16,
    /// `NIM_MODEL_VARIANT` (default `base`).
    pub variant: Mode,
}

/// `name`'s value, with empty and blank values counting as unset.
fn var(lookup: &impl Fn(&str) -> Option<String>, name: &str) -> Option<String> {
    lookup(name)
        .map(|v| v.trim().to_owned())
        .filter(|v| !v.is_empty())
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a test's map).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let require_model = match var(&lookup, "DEMO_NIM_REQUIRE_MODEL").as_deref() {
            None | Some("1") => true,
            Some("0") => false,
            Some(other) => {
                return Err(format!("invalid DEMO_NIM_REQUIRE_MODEL {other:?} (0 or 1)"))
            }
        };
        let model_server = match var(&lookup, "DEMO_NIM_MODEL_SERVER") {
            None => None,
            Some(url) if url.starts_with("http://") => Some(url.trim_end_matches('/').to_owned()),
            Some(url) => {
                return Err(format!(
                    "invalid DEMO_NIM_MODEL_SERVER {url:?}: give an http:// URL such as http://127.0.0.1:8080"
                ))
            }
        };
        Ok(Settings {
            cache: var(&lookup, "NIM_CACHE_PATH")
                .unwrap_or_else(|| DEFAULT_CACHE.to_owned())
                .into(),
            model_server,
            model: var(&lookup, "DEMO_NIM_MODEL").unwrap_or_else(|| DEFAULT_MODEL.to_owned()),
            api_key: var(&lookup, "NGC_API_KEY"),
            pinned_profile: var(&lookup, "NIM_MODEL_PROFILE"),
            require_model,
            gpus: var(&lookup, "DEMO_NIM_GPUS")
                .map(|v| {
                    v.split(',')
                        .map(str::trim)
                        .filter(|g| !g.is_empty())
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

impl ServeSettings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, String> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let port = match var(&lookup, "DEMO_NIM_PORT") {
            None => 8000,
            Some(p) => p
                .parse::<u16>()
                .map_err(|_| format!("invalid DEMO_NIM_PORT {p:?}"))?,
        };
        let name = var(&lookup, "NIM_MODEL_VARIANT").unwrap_or_else(|| "base".to_owned());
        let variant = Mode::parse(&name)
            .ok_or_else(|| format!("invalid NIM_MODEL_VARIANT {name:?} (base, canny or depth)"))?;
        Ok(ServeSettings { port, variant })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        move |name| {
            pairs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        }
    }

    #[test]
    fn defaults() {
        let s = Settings::from_lookup(lookup(&[])).unwrap();
        assert_eq!(s.cache, PathBuf::from("/opt/nim/.cache"));
        assert_eq!(s.model, "budgetguard/demo-flux");
        assert_eq!(
            (s.model_server, s.api_key, s.pinned_profile),
            (None, None, None)
        );
        assert!(s.require_model && s.gpus.is_empty());
        let serve = ServeSettings::from_lookup(lookup(&[])).unwrap();
        assert_eq!((serve.port, serve.variant), (8000, Mode::Base));
    }

    #[test]
    fn values_and_errors() {
        let s = Settings::from_lookup(lookup(&[
            ("NIM_CACHE_PATH", "/c"),
            ("DEMO_NIM_MODEL_SERVER", "http://127.0.0.1:9/"),
            ("NGC_API_KEY", " "),
            ("NIM_MODEL_PROFILE", "demo-base-cpu"),
            ("DEMO_NIM_REQUIRE_MODEL", "0"),
            ("DEMO_NIM_GPUS", "NVIDIA GeForce RTX 4090, ,NVIDIA L40S"),
        ]))
        .unwrap();
        assert_eq!(s.cache, PathBuf::from("/c"));
        assert_eq!(s.model_server.as_deref(), Some("http://127.0.0.1:9"));
        assert_eq!(s.api_key, None, "a blank key counts as unset");
        assert_eq!(s.pinned_profile.as_deref(), Some("demo-base-cpu"));
        assert!(!s.require_model);
        assert_eq!(s.gpus, ["NVIDIA GeForce RTX 4090", "NVIDIA L40S"]);
        for bad in [
            ("DEMO_NIM_REQUIRE_MODEL", "yes"),
            ("DEMO_NIM_MODEL_SERVER", "https://ngc.example"),
        ] {
            assert!(Settings::from_lookup(lookup(&[bad])).is_err());
        }
        assert!(ServeSettings::from_lookup(lookup(&[("DEMO_NIM_PORT", "x")])).is_err());
        let canny = ServeSettings::from_lookup(lookup(&[
            ("NIM_MODEL_VARIANT", "canny"),
            ("DEMO_NIM_PORT", "9"),
        ]))
        .unwrap();
        assert_eq!((canny.port, canny.variant), (9, Mode::Canny));
        assert!(ServeSettings::from_lookup(lookup(&[("NIM_MODEL_VARIANT", "Canny")])).is_err());
    }
}
