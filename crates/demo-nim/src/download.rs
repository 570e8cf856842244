//! `download-to-cache`: filling the cache with profiles from the model
//! server (each blob once, partial blobs resumed, checked by SHA-256).

use std::path::Path;
use std::process::ExitCode;

use sha2::{Digest, Sha256};
use tokio::io::{AsyncWriteExt, BufWriter};

use crate::cache::Cache;
use crate::cli::DownloadArgs;
use crate::client::{chain, Client, Error};
use crate::profiles::{matches_gpu, FileEntry, Manifest, Profile};
use crate::settings::Settings;
use crate::verify;

/// Failed attempts at one blob (connection lost mid-file) before giving up.
const ATTEMPTS: u32 = 3;
/// Files at least this large get progress lines every 10 %.
const PROGRESS_MIN: u64 = 8 << 20;

/// The profiles `download-to-cache` fetches: `--all`, the `--profiles`
/// named, or else the ones built for one of the (pretend) GPUs.
pub fn select<'m>(
    manifest: &'m Manifest,
    args: &DownloadArgs,
    gpus: &[String],
) -> Result<Vec<&'m Profile>, Error> {
    if args.all {
        return Ok(manifest.profiles.iter().collect());
    }
    let named: Vec<&str> = args
        .profiles
        .iter()
        .map(|id| id.trim())
        .filter(|id| !id.is_empty())
        .collect();
    if !named.is_empty() {
        return named
            .iter()
            .map(|id| {
                manifest.profile(id).ok_or_else(|| {
                    Error::Selection(format!(
                        "unknown profile {id}; known profiles: {}",
                        manifest.ids()
                    ))
                })
            })
            .collect();
    }
    let why = if gpus.is_empty() {
        "no GPU found to choose profiles for".to_owned()
    } else {
        let chosen: Vec<&Profile> = manifest
            .profiles
            .iter()
            .filter(|p| matches_gpu(p, gpus))
            .collect();
        if !chosen.is_empty() {
            return Ok(chosen);
        }
        format!("no profile is built for {}", gpus.join(", "))
    };
    Err(Error::Selection(format!(
        "{why}: name them with --profiles ID[,ID...] or pass --all; known profiles: {}",
        manifest.ids()
    )))
}

/// What a download did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Summary {
    /// Distinct files the profiles need.
    pub files: usize,
    /// Files fetched (wholly or the rest of a partial one).
    pub downloaded: usize,
    /// Bytes fetched.
    pub bytes: u64,
}

/// Puts `profiles` of `manifest` into `cache`: each distinct blob once
/// (kept if present and matching, resumed if partial), then each profile's
/// snapshot links, `refs/main` and record.
pub async fn fetch_profiles(
    client: &Client,
    cache: &Cache,
    manifest: &Manifest,
    profiles: &[&Profile],
) -> Result<Summary, Error> {
    let mut files: Vec<&FileEntry> = Vec::new();
    for file in profiles.iter().flat_map(|p| &p.files) {
        if !files.iter().any(|f| f.sha256 == file.sha256) {
            files.push(file);
        }
    }
    let blobs = cache.repo(&manifest.model).join("blobs");
    tokio::fs::create_dir_all(&blobs)
        .await
        .map_err(crate::cache::at(&blobs))?;
    let mut summary = Summary {
        files: files.len(),
        ..Summary::default()
    };
    for file in files {
        if let Some(bytes) = fetch_blob(client, cache, &manifest.model, file).await? {
            summary.downloaded += 1;
            summary.bytes += bytes;
        }
    }
    for profile in profiles {
        let (cached, cache) = (manifest.cached(profile), cache.clone());
        blocking(move || cache.record(&cached)).await?;
    }
    Ok(summary)
}

/// Runs blocking file work off the async threads.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f)
        .await
        .expect("blocking file work does not panic")
}

/// Makes `blobs/<sha256>` present and matching. Returns the bytes fetched,
/// or `None` when the blob was already there.
async fn fetch_blob(
    client: &Client,
    cache: &Cache,
    model: &str,
    file: &FileEntry,
) -> Result<Option<u64>, Error> {
    let blob = cache.blob(model, &file.sha256);
    let part = cache.incomplete(model, &file.sha256);
    if let Ok(meta) = tokio::fs::metadata(&blob).await {
        let path = blob.clone();
        if meta.len() == file.size
            && blocking(move || verify::sha256_file(&path)).await? == file.sha256
        {
            eprintln!("demo-nim: {}: already in the cache", file.path);
            return Ok(None);
        }
        eprintln!(
            "demo-nim: {}: the cached blob is damaged, fetching it again",
            file.path
        );
        tokio::fs::remove_file(&blob).await?;
    }
    // A partial file from an earlier run: hash what is there and go on.
    let mut hasher = Sha256::new();
    let mut have = match tokio::fs::metadata(&part).await {
        Ok(m) if m.len() <= file.size => {
            let path = part.clone();
            let (h, n) = blocking(move || {
                let mut h = Sha256::new();
                verify::hash_into(&path, &mut h).map(|n| (h, n))
            })
            .await?;
            hasher = h;
            n
        }
        Ok(_) => {
            tokio::fs::remove_file(&part).await?;
            0
        }
        Err(_) => 0,
    };
    if have > 0 {
        eprintln!(
            "demo-nim: {}: resuming at {have} of {} bytes",
            file.path, file.size
        );
    } else {
        eprintln!("demo-nim: {}: downloading {} bytes", file.path, file.size);
    }
    if file.size == 0 {
        tokio::fs::write(&part, b"").await?;
    }
    let started_at = have;
    let mut attempt = 0;
    while have < file.size {
        attempt += 1;
        match transfer(client, &part, file, &mut hasher, &mut have).await {
            Ok(()) => {}
            Err(Transfer::Fatal(e)) => return Err(e),
            Err(Transfer::Lost(reason)) if attempt < ATTEMPTS => {
                eprintln!(
                    "demo-nim: {}: {reason} after {have} of {} bytes; resuming",
                    file.path, file.size
                );
            }
            Err(Transfer::Lost(reason)) => {
                return Err(Error::Interrupted {
                    path: file.path.clone(),
                    have,
                    size: file.size,
                    reason,
                })
            }
        }
    }
    let actual = hex::encode(hasher.finalize());
    if actual != file.sha256 {
        tokio::fs::remove_file(&part).await?;
        return Err(Error::Checksum {
            path: file.path.clone(),
            expected: file.sha256.clone(),
            actual,
        });
    }
    tokio::fs::rename(&part, &blob)
        .await
        .map_err(crate::cache::at(&blob))?;
    eprintln!("demo-nim: {}: done, sha256 matches", file.path);
    Ok(Some(file.size - started_at))
}

/// How one request for a blob ended early.
enum Transfer {
    /// The connection was lost: worth resuming.
    Lost(String),
    /// Anything else.
    Fatal(Error),
}

impl From<std::io::Error> for Transfer {
    fn from(e: std::io::Error) -> Self {
        Transfer::Fatal(e.into())
    }
}

/// One request: appends what arrives to `part`, feeding `hasher` and
/// counting `have`. A server that ignores the range starts the file over.
async fn transfer(
    client: &Client,
    part: &Path,
    file: &FileEntry,
    hasher: &mut Sha256,
    have: &mut u64,
) -> Result<(), Transfer> {
    let url = client.url(&format!("files/{}", file.sha256));
    let mut response = match client.get(&url, *have).await {
        Ok(r) => r,
        Err(Error::Unreachable { reason, .. }) if *have > 0 => return Err(Transfer::Lost(reason)),
        Err(e) => return Err(Transfer::Fatal(e)),
    };
    let status = response.status().as_u16();
    let resumed = status == 206 && content_range_start(&response) == Some(*have);
    if !resumed {
        if status != 200 {
            // 416, or a range we did not ask for: start over.
            *have = 0;
            *hasher = Sha256::new();
            tokio::fs::remove_file(part).await.ok();
            return Err(Transfer::Lost(format!(
                "the server answered {status} to a resume"
            )));
        }
        *have = 0;
        *hasher = Sha256::new();
    }
    let out = tokio::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .append(resumed)
        .truncate(!resumed)
        .open(part)
        .await
        .map_err(crate::cache::at(part))?;
    let mut out = BufWriter::with_capacity(1 << 20, out);
    let step = (file.size / 10).max(1);
    let result = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => {
                if *have + chunk.len() as u64 > file.size {
                    break Err(Transfer::Lost(
                        "the server sent more bytes than the manifest's size".to_owned(),
                    ));
                }
                out.write_all(&chunk).await?;
                hasher.update(&chunk);
                let before = *have;
                *have += chunk.len() as u64;
                if file.size >= PROGRESS_MIN && *have / step != before / step && *have < file.size {
                    eprintln!(
                        "demo-nim: {}: {} % ({} of {} bytes)",
                        file.path,
                        *have * 100 / file.size,
                        *have,
                        file.size
                    );
                }
            }
            Ok(None) if *have == file.size => break Ok(()),
            Ok(None) => break Err(Transfer::Lost("the server ended the file early".to_owned())),
            Err(e) => break Err(Transfer::Lost(chain(&e))),
        }
    };
    out.flush().await?;
    out.into_inner().sync_all().await?;
    result
}

/// The first byte of a `Content-Range: bytes N-M/S` answer.
fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response
        .headers()
        .get(reqwest::header::CONTENT_RANGE)?
        .to_str()
        .ok()?;
    value
        .strip_prefix("bytes ")?
        .split_once('-')?
        .0
        .parse()
        .ok()
}

/// The `download-to-cache` command.
pub async fn run(settings: &Settings, args: &DownloadArgs) -> ExitCode {
    let Some(base) = &settings.model_server else {
        eprintln!("demo-nim: error: DEMO_NIM_MODEL_SERVER is not set: download-to-cache needs a model server to download from");
        return ExitCode::FAILURE;
    };
    let client = Client::new(base, &settings.model, settings.api_key.clone());
    let cache = Cache::new(&settings.cache);
    let result = async {
        let manifest = client.manifest().await?;
        let profiles = select(&manifest, args, &settings.gpus)?;
        let ids: Vec<&str> = profiles.iter().map(|p| p.id.as_str()).collect();
        eprintln!(
            "demo-nim: downloading profiles {} of {} (revision {}) from {} into {}",
            ids.join(", "),
            manifest.model,
            manifest.revision,
            client.base(),
            cache.root().display()
        );
        let summary = fetch_profiles(&client, &cache, &manifest, &profiles).await?;
        Ok::<_, Error>((ids.join(","), summary))
    }
    .await;
    match result {
        Ok((ids, s)) => {
            println!(
                "download-to-cache: profiles {ids} cached in {}: {} files, {} downloaded ({} bytes), {} already cached",
                cache.root().display(),
                s.files,
                s.downloaded,
                s.bytes,
                s.files - s.downloaded
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("demo-nim: error: {e}");
            e.exit_code()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::tests::profile;

    fn manifest() -> Manifest {
        Manifest {
            model: "m".into(),
            revision: "r".into(),
            profiles: vec![
                profile("fp8", &["RTX 4090"]),
                profile("fp4", &["RTX 5090"]),
                profile("cpu", &[]),
            ],
        }
    }

    fn args(profiles: &[&str], all: bool) -> DownloadArgs {
        DownloadArgs {
            profiles: profiles.iter().map(|p| (*p).to_owned()).collect(),
            all,
        }
    }

    fn ids(r: Result<Vec<&Profile>, Error>) -> Result<Vec<String>, String> {
        r.map(|ps| ps.iter().map(|p| p.id.clone()).collect())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn selection() {
        let m = manifest();
        let gpu = |g: &str| vec![g.to_owned()];
        assert_eq!(ids(select(&m, &args(&[], true), &[])).unwrap().len(), 3);
        assert_eq!(
            ids(select(&m, &args(&["cpu", "", "fp4"], false), &[])).unwrap(),
            ["cpu", "fp4"]
        );
        let unknown = ids(select(&m, &args(&["fp16"], false), &[])).unwrap_err();
        assert_eq!(
            unknown,
            "unknown profile fp16; known profiles: fp8, fp4, cpu"
        );
        assert_eq!(
            ids(select(&m, &args(&[], false), &gpu("RTX 5090"))).unwrap(),
            ["fp4"]
        );
        let none = ids(select(&m, &args(&[], false), &[])).unwrap_err();
        assert!(
            none.starts_with("no GPU found")
                && none.contains("--profiles")
                && none.contains("--all"),
            "{none}"
        );
        let other = ids(select(&m, &args(&[], false), &gpu("T4"))).unwrap_err();
        assert!(other.starts_with("no profile is built for T4"), "{other}");
    }
}
