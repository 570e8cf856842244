//! Model profiles: the model server's manifest, the copy of one profile kept
//! in the cache, and which profiles suit the (pretend) GPUs.

use serde::{Deserialize, Serialize};

/// One file of a profile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the model snapshot, e.g. `transformer/diffusion.safetensors`.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content, lower-case hex.
    pub sha256: String,
}

/// One profile of a model: a set of files built for some GPUs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    /// Profile id, e.g. `demo-base-fp8`.
    pub id: String,
    /// One-line description.
    #[serde(default)]
    pub description: String,
    /// GPU names it is built for; empty means any machine (CPU).
    #[serde(default)]
    pub gpus: Vec<String>,
    /// Its files.
    pub files: Vec<FileEntry>,
}

/// The model server's manifest (`GET /v1/models/<model>/manifest`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Model name, e.g. `budgetguard/demo-flux`.
    pub model: String,
    /// Revision: names the snapshot folder.
    pub revision: String,
    /// Its profiles, in the server's order.
    pub profiles: Vec<Profile>,
}

/// A profile as `download-to-cache` records it in
/// `<cache>/demo-nim/profiles/<id>.json`: the manifest entry plus the model
/// and revision it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedProfile {
    /// The manifest entry.
    #[serde(flatten)]
    pub profile: Profile,
    /// Model name.
    pub model: String,
    /// Revision (snapshot folder).
    pub revision: String,
}

impl Manifest {
    /// Checks what the cache layout builds paths from: safe ids and revision,
    /// relative file paths without `..`, 64-hex SHA-256s, and that one path
    /// has one content across profiles' files.
    pub fn validate(&self) -> Result<(), String> {
        check_name("revision", &self.revision)?;
        let mut seen: Vec<&FileEntry> = Vec::new();
        for p in &self.profiles {
            check_profile(p)?;
            for f in &p.files {
                match seen.iter().find(|s| s.path == f.path) {
                    Some(s) if s.sha256 != f.sha256 => {
                        return Err(format!(
                            "{} has two contents in revision {}",
                            f.path, self.revision
                        ))
                    }
                    Some(_) => {}
                    None => seen.push(f),
                }
            }
        }
        Ok(())
    }

    /// The profile called `id`.
    pub fn profile(&self, id: &str) -> Option<&Profile> {
        self.profiles.iter().find(|p| p.id == id)
    }

    /// The ids, comma-separated, for messages.
    pub fn ids(&self) -> String {
        let ids: Vec<&str> = self.profiles.iter().map(|p| p.id.as_str()).collect();
        ids.join(", ")
    }

    /// `profile` of this manifest as the cache records it.
    pub fn cached(&self, profile: &Profile) -> CachedProfile {
        CachedProfile {
            profile: profile.clone(),
            model: self.model.clone(),
            revision: self.revision.clone(),
        }
    }
}

impl CachedProfile {
    /// Checks a profile read back from the cache like a manifest entry.
    pub fn validate(&self) -> Result<(), String> {
        check_name("revision", &self.revision)?;
        check_profile(&self.profile)
    }
}

/// A single path component made of letters, digits, `-`, `_` and `.`, not
/// starting with `.`.
fn check_name(what: &str, name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(format!("invalid {what} {name:?}"))
    }
}

fn check_profile(p: &Profile) -> Result<(), String> {
    check_name("profile id", &p.id)?;
    for f in &p.files {
        let relative = !f.path.is_empty()
            && !f.path.starts_with('/')
            && !f.path.contains('\\')
            && f.path
                .split('/')
                .all(|c| !c.is_empty() && c != "." && c != "..");
        if !relative {
            return Err(format!("profile {}: invalid file path {:?}", p.id, f.path));
        }
        let hex = f.sha256.len() == 64
            && f.sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !hex {
            return Err(format!(
                "profile {}: invalid sha256 {:?} for {}",
                p.id, f.sha256, f.path
            ));
        }
    }
    Ok(())
}

/// Whether `profile` runs on a system with `gpus`: with no GPU at all every
/// profile counts as runnable (the demo renders on the CPU); otherwise a
/// profile needs one of its GPUs present, or must name none (CPU).
pub fn compatible(profile: &Profile, gpus: &[String]) -> bool {
    gpus.is_empty() || profile.gpus.is_empty() || profile.gpus.iter().any(|g| gpus.contains(g))
}

/// Whether `profile` is built for one of `gpus` (the default choice of
/// `download-to-cache` without `--profiles`/`--all`).
pub fn matches_gpu(profile: &Profile, gpus: &[String]) -> bool {
    profile.gpus.iter().any(|g| gpus.contains(g))
}

/// The profile a server downloads at first start when none is pinned: the
/// first one built for a present GPU, else the first for any machine (no
/// GPUs listed), else, with no GPU at all, the first one.
pub fn default_profile<'a>(profiles: &'a [Profile], gpus: &[String]) -> Option<&'a Profile> {
    profiles
        .iter()
        .find(|p| matches_gpu(p, gpus))
        .or_else(|| profiles.iter().find(|p| p.gpus.is_empty()))
        .or_else(|| profiles.first().filter(|_| gpus.is_empty()))
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A profile with one three-byte file.
    pub fn profile(id: &str, gpus: &[&str]) -> Profile {
        Profile {
            id: id.into(),
            description: format!("{id} profile"),
            gpus: gpus.iter().map(|g| (*g).to_owned()).collect(),
            files: vec![FileEntry {
                path: "transformer/model.bin".into(),
                size: 3,
                sha256: "a".repeat(64),
            }],
        }
    }

    fn gpus(names: &[&str]) -> Vec<String> {
        names.iter().map(|g| (*g).to_owned()).collect()
    }

    #[test]
    fn compatibility_and_defaults() {
        let fp8 = profile("fp8", &["RTX 4090", "L40S"]);
        let fp4 = profile("fp4", &["RTX 5090"]);
        let cpu = profile("cpu", &[]);
        let all = [fp8.clone(), fp4.clone(), cpu.clone()];
        assert!(all.iter().all(|p| compatible(p, &[])));
        let ada = gpus(&["RTX 4090"]);
        assert!(compatible(&fp8, &ada) && compatible(&cpu, &ada) && !compatible(&fp4, &ada));
        assert_eq!(default_profile(&all, &ada).map(|p| &p.id[..]), Some("fp8"));
        assert_eq!(
            default_profile(&all, &gpus(&["RTX 5090"])).map(|p| &p.id[..]),
            Some("fp4")
        );
        assert_eq!(default_profile(&all, &[]).map(|p| &p.id[..]), Some("cpu"));
        assert_eq!(
            default_profile(&all, &gpus(&["T4"])).map(|p| &p.id[..]),
            Some("cpu")
        );
        assert_eq!(default_profile(&all[..2], &gpus(&["T4"])), None);
        assert_eq!(
            default_profile(&all[..2], &[]).map(|p| &p.id[..]),
            Some("fp8")
        );
    }

    #[test]
    fn validation_rejects_unsafe_names() {
        let mut m = Manifest {
            model: "m/x".into(),
            revision: "0".repeat(40),
            profiles: vec![profile("fp8", &[])],
        };
        assert_eq!(m.validate(), Ok(()));
        for path in ["../x", "/etc/passwd", "a//b", "a/./b", "", "a\\b"] {
            m.profiles[0].files[0].path = path.into();
            assert!(m.validate().is_err(), "{path}");
        }
        m.profiles[0].files[0].path = "ok.bin".into();
        m.profiles[0].files[0].sha256 = "A".repeat(64);
        assert!(m.validate().is_err());
        m.profiles[0].files[0].sha256 = "a".repeat(64);
        m.profiles[0].id = "../up".into();
        assert!(m.validate().is_err());
        m.profiles[0].id = "fp8".into();
        m.revision = ".hidden".into();
        assert!(m.validate().is_err());
        m.revision = "r1".into();
        let mut other = profile("fp4", &[]);
        other.files[0].path = "ok.bin".into();
        other.files[0].sha256 = "b".repeat(64);
        m.profiles.push(other);
        assert!(m.validate().unwrap_err().contains("two contents"));
        m.profiles[1].files[0].sha256 = "a".repeat(64);
        assert_eq!(m.validate(), Ok(()));
    }

    #[test]
    fn cached_profile_json_is_flat() {
        let m = Manifest {
            model: "m/x".into(),
            revision: "r1".into(),
            profiles: vec![profile("fp8", &["RTX 4090"])],
        };
        let json = serde_json::to_value(m.cached(&m.profiles[0])).unwrap();
        assert_eq!(json["id"], "fp8");
        assert_eq!(json["model"], "m/x");
        assert_eq!(json["revision"], "r1");
        assert_eq!(json["gpus"][0], "RTX 4090");
        assert_eq!(json["files"][0]["size"], 3);
        let back: CachedProfile = serde_json::from_value(json).unwrap();
        assert_eq!(back.profile, m.profiles[0]);
    }
}
