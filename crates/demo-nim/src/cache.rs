//! The model cache's layout (Hugging-Face-like), what `download-to-cache`
//! records in it, and the cheap completeness check (sizes and links).
//!
//! ```text
//! <cache>/huggingface/hub/models--<repo>/blobs/<sha256>            each file once
//! <cache>/huggingface/hub/models--<repo>/blobs/<sha256>.incomplete  a partial download
//! <cache>/huggingface/hub/models--<repo>/snapshots/<rev>/<path>     -> ../../blobs/<sha256> (relative)
//! <cache>/huggingface/hub/models--<repo>/refs/main                  the revision
//! <cache>/demo-nim/profiles/<id>.json                               a CachedProfile
//! ```
//!
//! Files and folders are created with the process's umask.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::profiles::{CachedProfile, FileEntry};

/// A cache root (`NIM_CACHE_PATH`).
#[derive(Debug, Clone)]
pub struct Cache {
    root: PathBuf,
}

/// An I/O error with the path it happened on.
pub fn at(path: &Path) -> impl FnOnce(io::Error) -> io::Error + '_ {
    move |e| io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

impl Cache {
    /// The cache at `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Cache { root: root.into() }
    }

    /// The cache root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// `<cache>/huggingface/hub/models--<model with / as -->`.
    pub fn repo(&self, model: &str) -> PathBuf {
        self.root
            .join("huggingface/hub")
            .join(format!("models--{}", model.replace('/', "--")))
    }

    /// Where the blob with this SHA-256 lives.
    pub fn blob(&self, model: &str, sha256: &str) -> PathBuf {
        self.repo(model).join("blobs").join(sha256)
    }

    /// Where a partial download of that blob lives.
    pub fn incomplete(&self, model: &str, sha256: &str) -> PathBuf {
        self.repo(model)
            .join("blobs")
            .join(format!("{sha256}.incomplete"))
    }

    /// The snapshot link of `path` in `revision`.
    pub fn snapshot(&self, model: &str, revision: &str, path: &str) -> PathBuf {
        self.repo(model).join("snapshots").join(revision).join(path)
    }

    fn profiles_dir(&self) -> PathBuf {
        self.root.join("demo-nim/profiles")
    }

    /// The profiles recorded for `model`, sorted by id. Unreadable or
    /// invalid records are skipped with a warning on stderr.
    pub fn profiles(&self, model: &str) -> Vec<CachedProfile> {
        let dir = self.profiles_dir();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Vec::new();
        };
        let mut found: Vec<CachedProfile> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|path| {
                let read = fs::read(&path)
                    .map_err(|e| e.to_string())
                    .and_then(|b| {
                        serde_json::from_slice::<CachedProfile>(&b).map_err(|e| e.to_string())
                    })
                    .and_then(|p| p.validate().map(|()| p));
                match read {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("demo-nim: ignoring {}: {e}", path.display());
                        None
                    }
                }
            })
            .filter(|p| p.model == model)
            .collect();
        found.sort_by(|a, b| a.profile.id.cmp(&b.profile.id));
        found
    }

    /// Records a profile whose blobs are all in place: its snapshot links,
    /// `refs/main` and `demo-nim/profiles/<id>.json`.
    pub fn record(&self, cached: &CachedProfile) -> io::Result<()> {
        for file in &cached.profile.files {
            self.link(&cached.model, &cached.revision, file)?;
        }
        let refs = self.repo(&cached.model).join("refs");
        fs::create_dir_all(&refs).map_err(at(&refs))?;
        replace(&refs.join("main"), cached.revision.as_bytes())?;
        let dir = self.profiles_dir();
        fs::create_dir_all(&dir).map_err(at(&dir))?;
        let json = serde_json::to_vec_pretty(cached).map_err(io::Error::other)?;
        replace(&dir.join(format!("{}.json", cached.profile.id)), &json)
    }

    /// Points `snapshots/<rev>/<path>` at its blob with a relative link.
    fn link(&self, model: &str, revision: &str, file: &FileEntry) -> io::Result<()> {
        let link = self.snapshot(model, revision, &file.path);
        let target = link_target(file);
        if fs::read_link(&link).is_ok_and(|t| t == target) {
            return Ok(());
        }
        let parent = link.parent().expect("a snapshot link has a folder");
        fs::create_dir_all(parent).map_err(at(parent))?;
        let temp = suffixed(&link, ".link-tmp");
        let _ = fs::remove_file(&temp);
        std::os::unix::fs::symlink(&target, &temp).map_err(at(&temp))?;
        fs::rename(&temp, &link).map_err(at(&link))
    }

    /// `None` when every file of `cached` is present: a blob of the right
    /// size and a snapshot link resolving to it. Otherwise the first problem.
    /// Contents are not hashed here (see `verify`).
    pub fn missing(&self, cached: &CachedProfile) -> Option<String> {
        cached.profile.files.iter().find_map(|file| {
            let blob = self.blob(&cached.model, &file.sha256);
            match fs::metadata(&blob) {
                Err(_) => return Some(format!("{} is not downloaded", file.path)),
                Ok(m) if m.len() != file.size => {
                    return Some(format!(
                        "{} is {} bytes instead of {}",
                        file.path,
                        m.len(),
                        file.size
                    ))
                }
                Ok(_) => {}
            }
            let link = self.snapshot(&cached.model, &cached.revision, &file.path);
            let resolves = fs::canonicalize(&link)
                .ok()
                .zip(fs::canonicalize(&blob).ok())
                .is_some_and(|(l, b)| l == b);
            (!resolves).then(|| format!("{} has no snapshot link to its blob", file.path))
        })
    }
}

/// `../../blobs/<sha256>` with one more `../` per folder level of the path.
pub fn link_target(file: &FileEntry) -> PathBuf {
    let depth = file.path.matches('/').count();
    PathBuf::from(format!("{}blobs/{}", "../".repeat(depth + 2), file.sha256))
}

/// `path` with `suffix` appended to its file name.
fn suffixed(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Writes `path` whole through a temporary file and a rename.
fn replace(path: &Path, data: &[u8]) -> io::Result<()> {
    let temp = suffixed(path, ".tmp");
    fs::write(&temp, data).map_err(at(&temp))?;
    fs::rename(&temp, path).map_err(at(path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::Profile;

    fn cached(files: &[(&str, &[u8])]) -> CachedProfile {
        use sha2::{Digest, Sha256};
        CachedProfile {
            profile: Profile {
                id: "p1".into(),
                description: "one".into(),
                gpus: vec![],
                files: files
                    .iter()
                    .map(|(path, data)| FileEntry {
                        path: (*path).into(),
                        size: data.len() as u64,
                        sha256: hex::encode(Sha256::digest(data)),
                    })
                    .collect(),
            },
            model: "org/m".into(),
            revision: "r1".into(),
        }
    }

    #[test]
    fn layout_paths_and_link_targets() {
        let cache = Cache::new("/c");
        assert_eq!(
            cache.repo("org/m"),
            Path::new("/c/huggingface/hub/models--org--m")
        );
        assert_eq!(
            cache.incomplete("org/m", "ab"),
            Path::new("/c/huggingface/hub/models--org--m/blobs/ab.incomplete")
        );
        let file = |path: &str| FileEntry {
            path: path.into(),
            size: 1,
            sha256: "ab".into(),
        };
        assert_eq!(link_target(&file("a.json")), Path::new("../../blobs/ab"));
        assert_eq!(
            link_target(&file("x/y/a.bin")),
            Path::new("../../../../blobs/ab")
        );
    }

    #[test]
    fn record_then_missing() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let p = cached(&[("index.json", b"{}"), ("deep/er/w.bin", b"weights")]);
        assert_eq!(
            cache.missing(&p).as_deref(),
            Some("index.json is not downloaded")
        );
        for f in &p.profile.files {
            let blob = cache.blob(&p.model, &f.sha256);
            fs::create_dir_all(blob.parent().unwrap()).unwrap();
            let data: &[u8] = if f.path == "index.json" {
                b"{}"
            } else {
                b"weights"
            };
            fs::write(blob, data).unwrap();
        }
        assert!(cache.missing(&p).unwrap().contains("no snapshot link"));
        cache.record(&p).unwrap();
        cache.record(&p).unwrap(); // idempotent
        assert_eq!(cache.missing(&p), None);
        assert_eq!(
            fs::read_to_string(cache.repo("org/m").join("refs/main")).unwrap(),
            "r1"
        );
        assert_eq!(cache.profiles("org/m"), vec![p.clone()]);
        assert!(cache.profiles("org/other").is_empty());
        fs::write(cache.blob(&p.model, &p.profile.files[1].sha256), b"short").unwrap();
        assert!(cache.missing(&p).unwrap().contains("5 bytes instead of 7"));
        fs::write(dir.path().join("demo-nim/profiles/bad.json"), b"{").unwrap();
        assert_eq!(cache.profiles("org/m").len(), 1);
    }
}
