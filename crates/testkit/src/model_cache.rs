//! Model caches written straight to disk, as a NIM's `download-to-cache`
//! leaves them (Hugging-Face-like: each file once under its SHA-256 in
//! `blobs/`, a relative link from `snapshots/<rev>/<path>`), for packages
//! made with `--model-cache` in tests and benchmarks.

use std::io;
use std::path::Path;

use sha2::{Digest, Sha256};

use crate::images::Layer;

/// A file of a cache: its path in the cache, its size and its content's seed.
pub type CacheFileSpec = (String, u64, u64);

/// Writes a cache of `files` at `root`; returns their bytes.
pub fn write_cache(root: &Path, files: &[CacheFileSpec]) -> io::Result<u64> {
    let repo = root.join("huggingface/hub/models--bench--flux");
    let blobs = repo.join("blobs");
    std::fs::create_dir_all(&blobs)?;
    let mut total = 0;
    for (path, size, seed) in files {
        let temp = blobs.join("incoming");
        let mut hasher = HashingFile {
            file: std::fs::File::create(&temp)?,
            hasher: Sha256::new(),
        };
        let mut data = Layer::Random(*size, *seed).reader();
        io::copy(&mut data, &mut hasher)?;
        let hex = hex::encode(hasher.hasher.finalize());
        std::fs::rename(&temp, blobs.join(&hex))?;
        let link = repo.join("snapshots/0123456789abcdef").join(path);
        std::fs::create_dir_all(link.parent().unwrap_or(&repo))?;
        let depth = path.matches('/').count() + 2;
        std::os::unix::fs::symlink(format!("{}blobs/{hex}", "../".repeat(depth)), &link)?;
        total += size;
    }
    std::fs::create_dir_all(repo.join("refs"))?;
    std::fs::write(repo.join("refs/main"), "0123456789abcdef")?;
    Ok(total)
}

struct HashingFile {
    file: std::fs::File,
    hasher: Sha256,
}

impl io::Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.file.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}
