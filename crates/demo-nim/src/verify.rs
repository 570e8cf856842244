//! Hashing cached blobs: a profile is servable only when every blob's
//! SHA-256 matches the manifest. A [`Verifier`] remembers what it hashed (by
//! size and modification time), so a server that retries hashes a blob again
//! only when it changed.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use sha2::{Digest, Sha256};

use crate::cache::{at, Cache};
use crate::profiles::CachedProfile;

/// Feeds the file at `path` into `hasher`; returns its length.
pub fn hash_into(path: &Path, hasher: &mut Sha256) -> io::Result<u64> {
    let mut file = File::open(path).map_err(at(path))?;
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0;
    loop {
        let n = file.read(&mut buf).map_err(at(path))?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

/// The SHA-256 of the file at `path`, lower-case hex.
pub fn sha256_file(path: &Path) -> io::Result<String> {
    let mut hasher = Sha256::new();
    hash_into(path, &mut hasher)?;
    Ok(hex::encode(hasher.finalize()))
}

/// What a blob looked like when it was hashed.
type Stamp = (u64, Option<SystemTime>);

fn stamp(path: &Path) -> io::Result<Stamp> {
    let m = std::fs::metadata(path)?;
    Ok((m.len(), m.modified().ok()))
}

/// Checks profiles completely, hashing each blob once while it is unchanged.
#[derive(Debug, Default)]
pub struct Verifier {
    /// Blob path -> (stamp when hashed, whether it matched).
    known: HashMap<PathBuf, (Stamp, bool)>,
}

impl Verifier {
    /// `Ok` when `cached` is complete in `cache` and every blob's SHA-256
    /// matches; otherwise the first problem. Logs each blob it hashes.
    pub fn check(&mut self, cache: &Cache, cached: &CachedProfile) -> Result<(), String> {
        if let Some(problem) = cache.missing(cached) {
            return Err(problem);
        }
        for file in &cached.profile.files {
            let blob = cache.blob(&cached.model, &file.sha256);
            let now = stamp(&blob).map_err(|e| format!("{}: {e}", blob.display()))?;
            let ok = match self.known.get(&blob) {
                Some((then, ok)) if *then == now => *ok,
                _ => {
                    eprintln!(
                        "demo-nim: checking sha256 of {} ({} bytes, profile {})",
                        file.path, file.size, cached.profile.id
                    );
                    let ok = sha256_file(&blob).map_err(|e| e.to_string())? == file.sha256;
                    self.known.insert(blob, (now, ok));
                    ok
                }
            };
            if !ok {
                return Err(format!(
                    "{} does not match its sha256 {} (the blob is damaged)",
                    file.path, file.sha256
                ));
            }
        }
        Ok(())
    }

    /// Records the blobs of `cached` as matching without hashing them (they
    /// were just verified while downloading).
    pub fn trust(&mut self, cache: &Cache, cached: &CachedProfile) {
        for file in &cached.profile.files {
            let blob = cache.blob(&cached.model, &file.sha256);
            if let Ok(now) = stamp(&blob) {
                self.known.insert(blob, (now, true));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::{FileEntry, Profile};

    #[test]
    fn damage_is_found_and_repair_noticed() {
        let dir = tempfile::tempdir().unwrap();
        let cache = Cache::new(dir.path());
        let data = b"some weights".to_vec();
        let sha = hex::encode(Sha256::digest(&data));
        let p = CachedProfile {
            profile: Profile {
                id: "p".into(),
                description: String::new(),
                gpus: vec![],
                files: vec![FileEntry {
                    path: "w.bin".into(),
                    size: data.len() as u64,
                    sha256: sha.clone(),
                }],
            },
            model: "m".into(),
            revision: "r".into(),
        };
        let blob = cache.blob("m", &sha);
        std::fs::create_dir_all(blob.parent().unwrap()).unwrap();
        std::fs::write(&blob, &data).unwrap();
        cache.record(&p).unwrap();
        let mut v = Verifier::default();
        assert_eq!(v.check(&cache, &p), Ok(()));
        assert_eq!(sha256_file(&blob).unwrap(), sha);

        let mut bad = data.clone();
        bad[3] ^= 1;
        std::fs::write(&blob, &bad).unwrap();
        // Same size; a new modification time makes it hash again.
        let later = SystemTime::now() + std::time::Duration::from_secs(5);
        File::options()
            .write(true)
            .open(&blob)
            .unwrap()
            .set_modified(later)
            .unwrap();
        assert!(v.check(&cache, &p).unwrap_err().contains("damaged"));
        assert!(v.check(&cache, &p).is_err(), "remembered as bad");
        std::fs::write(&blob, &data).unwrap();
        assert_eq!(v.check(&cache, &p), Ok(()));
    }
}
