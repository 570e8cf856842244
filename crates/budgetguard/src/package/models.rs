//! Model caches into the package: every file streamed into an entry named
//! by its SHA-256 (a file shared by several caches, or by several paths, is
//! stored once), links and folders recorded as they are. A file must be the
//! one that was listed, and must not change while it is read.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use sha2::{Digest, Sha256};

use super::layout;
use super::manifest::{Blob, CacheFile, CacheLink, PackagedCache};
use super::plan::{check_names, CacheFrom, PackagePlan};
use super::writer::PackageWriter;
use super::zip::{cache_path_problem, is_cache_link, CachePathProblem};
use super::PackageError;
use crate::credentials::Credentials;
use crate::engine::Engine;
use crate::models::{
    describe_given, walk, CacheFolder, ModelError, ModelStore, ProfileChoice, ReadyCache, Unfit,
    Walked, WalkedFile,
};
use crate::progress::{Counted, Event, Reporter, SharedReporter, Step, Throttle};
use crate::Cancel;

/// Which model caches a package carries, and where they come from.
#[derive(Debug, Clone, Default)]
pub struct ModelOptions {
    /// Leave every model out: the nodes download theirs at first start.
    pub skip: bool,
    /// Profiles to package, each for every cache or for the one it
    /// names. None: each node's catalog defaults.
    pub profiles: Vec<ProfileChoice>,
    /// Caches filled beforehand, used as they are: for the nodes' one
    /// cache, or for the cache each names.
    pub given: Vec<CacheFolder>,
    /// Where the tool keeps the caches it fills itself.
    pub store: Option<ModelStore>,
    /// The secrets a fill needs (NGC API key, Hugging Face token).
    pub secrets: Credentials,
}

/// Fills or finds each model cache of `plan`, and lists each one.
pub(crate) async fn prepare_caches(
    engine: Option<&Engine>,
    plan: &PackagePlan<'_>,
    reporter: SharedReporter,
    cancel: &Cancel,
) -> Result<Vec<CacheSource>, PackageError> {
    let options = &plan.options().models;
    if options.skip {
        return Ok(Vec::new());
    }
    check_names(plan.caches(), options)?;
    let mut sources = Vec::new();
    let engine = match (plan.caches().is_empty(), engine) {
        (true, _) => return Ok(sources),
        (false, Some(engine)) => engine,
        (false, None) => {
            return Err(PackageError::NeedsEngine {
                what: "filling or listing model caches with the images' own tools",
            })
        }
    };
    for cache in plan.caches() {
        let (node, chosen) = (cache.node, &cache.chosen);
        let ready = match cache.from {
            CacheFrom::Given(dir) => {
                // A relative folder is the working directory's: the engine
                // would take it for the name of a volume.
                let dir = std::path::absolute(dir).map_err(ModelError::io("read", dir))?;
                describe_given(engine, node, &dir, chosen, cancel).await?
            }
            CacheFrom::Store(store) => {
                store
                    .fill(
                        engine,
                        node,
                        chosen,
                        &options.secrets,
                        reporter.clone(),
                        cancel,
                    )
                    .await?
            }
            CacheFrom::NoStore => return Err(ModelError::NoStore.into()),
        };
        let dir = ready.dir.clone();
        let walked = tokio::task::spawn_blocking(move || {
            let walked = walk(&dir)?;
            check_fit(&dir, &walked).map(|()| walked)
        })
        .await
        .expect("listing a cache does not panic")?;
        sources.push(CacheSource { ready, walked });
    }
    Ok(sources)
}

/// Refuses, with its path, what a package's reader would refuse in the
/// cache at `root` (see [`cache_path_problem`]: create never writes what
/// install refuses), and a file with a hard link outside the cache: its
/// content may be a file the cache's owner could not read.
fn check_fit(root: &Path, walked: &Walked) -> Result<(), ModelError> {
    let unfit = |path: &str, unfit| ModelError::Unfit {
        path: root.join(path),
        unfit,
    };
    let paths = walked
        .files
        .iter()
        .map(|f| &f.path)
        .chain(walked.links.iter().map(|l| &l.path))
        .chain(&walked.dirs);
    for path in paths {
        match cache_path_problem(path) {
            Some(CachePathProblem::Name) => return Err(unfit(path, Unfit::BadName)),
            Some(CachePathProblem::TooDeep) => return Err(unfit(path, Unfit::TooDeep)),
            None => {}
        }
    }
    if let Some(link) = walked
        .links
        .iter()
        .find(|l| !is_cache_link(&l.path, &l.target))
    {
        return Err(unfit(&link.path, Unfit::LinkOutside));
    }
    let mut inside: HashMap<(u64, u64), u64> = HashMap::new();
    for file in &walked.files {
        *inside.entry((file.dev, file.ino)).or_default() += 1;
    }
    for file in &walked.files {
        let path = root.join(&file.path);
        let meta = std::fs::symlink_metadata(&path).map_err(ModelError::io("read", &path))?;
        let links = inside.get(&(meta.dev(), meta.ino())).copied().unwrap_or(0);
        if meta.nlink() > links.max(1) {
            return Err(unfit(&file.path, Unfit::HardLinkOutside));
        }
    }
    Ok(())
}

/// A cache to package: where it is, what it holds.
#[derive(Debug, Clone)]
pub(crate) struct CacheSource {
    /// The cache, filled or given.
    pub ready: ReadyCache,
    /// Its listing.
    pub walked: Walked,
}

/// Writes the caches into the package and returns their records.
pub(crate) fn write_caches(
    package: &mut PackageWriter,
    sources: &[CacheSource],
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Vec<PackagedCache>, PackageError> {
    if sources.is_empty() {
        return Ok(Vec::new());
    }
    let total = sources.iter().map(|s| s.walked.size()).sum();
    reporter.report(Event::Started {
        step: Step::PackModels,
        total: Some(total),
    });
    let mut progress = Throttle::new(Step::PackModels);
    // The same file (a hard link, or one cache given twice) is read once.
    let mut seen: HashMap<(u64, u64), Blob> = HashMap::new();
    // Content already written, by SHA-256, and the size and first MiB's
    // SHA-256 of each: a file that matches a written one in both is hashed
    // whole first and written only when its content is new (two caches that
    // share a text encoder); any other file cannot repeat written content
    // and is streamed straight in, read once.
    let mut written: HashMap<String, Blob> = HashMap::new();
    let mut heads: HashSet<(u64, [u8; 32])> = HashSet::new();
    let mut caches = Vec::new();
    for source in sources {
        let mut files = Vec::new();
        for file in &source.walked.files {
            let blob = match seen.get(&(file.dev, file.ino)) {
                Some(blob) => blob.clone(),
                None => {
                    let path = source.ready.dir.join(&file.path);
                    let head = (file.size, head_digest(&path, file)?);
                    let known = if heads.contains(&head) {
                        written.get(&hash_file(&path, file, cancel)?).cloned()
                    } else {
                        None
                    };
                    let blob = match known {
                        Some(blob) => {
                            progress.add(file.size, reporter);
                            blob
                        }
                        None => write_file(package, &path, file, &mut progress, reporter, cancel)?,
                    };
                    written.insert(layout::hex_of(&blob.digest).to_owned(), blob.clone());
                    heads.insert(head);
                    seen.insert((file.dev, file.ino), blob.clone());
                    blob
                }
            };
            files.push(CacheFile {
                path: file.path.clone(),
                size: file.size,
                mode: file.mode,
                sha256: layout::hex_of(&blob.digest).to_owned(),
            });
        }
        caches.push(PackagedCache {
            name: source.ready.name.clone(),
            image: source.ready.image.clone(),
            profiles: source.ready.profiles.clone(),
            files,
            links: source
                .walked
                .links
                .iter()
                .map(|l| CacheLink {
                    path: l.path.clone(),
                    target: l.target.clone(),
                })
                .collect(),
            dirs: source.walked.dirs.clone(),
        });
    }
    reporter.report(Event::Advanced {
        step: Step::PackModels,
        done: progress.done(),
    });
    reporter.report(Event::Finished {
        step: Step::PackModels,
    });
    Ok(caches)
}

/// The SHA-256 of the file at `path`, refusing one that is not the file
/// listed or that changes while it is read.
fn hash_file(path: &Path, listed: &WalkedFile, cancel: &Cancel) -> Result<String, PackageError> {
    let file = open_listed(path, listed)?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0; 1 << 20];
    let mut read = 0u64;
    let mut reader = (&file).take(listed.size + 1);
    loop {
        if cancel.is_cancelled() {
            return Err(PackageError::Cancelled);
        }
        let n = reader.read(&mut buffer).map_err(|e| read_error(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buffer[..n]);
        read += n as u64;
    }
    if read != listed.size || !unchanged(&file, listed, path)? {
        return Err(changed(path));
    }
    Ok(hex::encode(hasher.finalize()))
}

/// How much of a file [`head_digest`] reads.
const HEAD: u64 = 1 << 20;

/// The SHA-256 of the first [`HEAD`] bytes of the file at `path` (all of a
/// smaller one): a cheap test of whether it can repeat a written file.
fn head_digest(path: &Path, listed: &WalkedFile) -> Result<[u8; 32], PackageError> {
    let file = open_listed(path, listed)?;
    let mut head = Vec::new();
    (&file)
        .take(HEAD)
        .read_to_end(&mut head)
        .map_err(|e| read_error(path, e))?;
    Ok(Sha256::digest(&head).into())
}

/// Streams one file, refusing one that is not the file listed or that
/// changes while it is read.
fn write_file(
    package: &mut PackageWriter,
    path: &Path,
    listed: &WalkedFile,
    progress: &mut Throttle,
    reporter: &dyn Reporter,
    cancel: &Cancel,
) -> Result<Blob, PackageError> {
    let file = open_listed(path, listed)?;
    let mut data = Counted {
        inner: (&file).take(listed.size + 1),
        progress,
        reporter,
        cancel,
    };
    let blob = package.add_blob(layout::MODEL_BLOBS_DIR, &mut data, cancel, &|e| {
        if cancel.is_cancelled() {
            PackageError::Cancelled
        } else {
            read_error(path, e)
        }
    })?;
    if blob.size != listed.size || !unchanged(&file, listed, path)? {
        return Err(changed(path));
    }
    Ok(blob)
}

/// Opens the file at `path`, refusing another one than the file listed.
fn open_listed(path: &Path, listed: &WalkedFile) -> Result<File, PackageError> {
    let file = File::open(path).map_err(|e| read_error(path, e))?;
    if !unchanged(&file, listed, path)? {
        return Err(changed(path));
    }
    Ok(file)
}

/// Whether the open `file` is still the file listed, as listed.
fn unchanged(file: &File, listed: &WalkedFile, path: &Path) -> Result<bool, PackageError> {
    let meta = file.metadata().map_err(|e| read_error(path, e))?;
    let mtime = i128::from(meta.mtime()) * 1_000_000_000 + i128::from(meta.mtime_nsec());
    Ok(meta.is_file()
        && meta.dev() == listed.dev
        && meta.ino() == listed.ino
        && meta.len() == listed.size
        && mtime == listed.mtime)
}

fn changed(path: &Path) -> PackageError {
    PackageError::Model(ModelError::Changed {
        path: path.to_owned(),
    })
}

fn read_error(path: &Path, error: io::Error) -> PackageError {
    PackageError::Model(ModelError::io("read", path)(error))
}

/// `install/models.sh`: the fallback installer's part that writes the model
/// caches from the unzipped package into `<install dir>/models/<cache>/`,
/// never through a link that is in the way. An update package leaves out
/// the files its base holds (`carried` says which it carries): the script
/// first checks that each is in place, naming the base (`base`) when one is
/// not, and with a second argument `check` does only that.
pub(crate) fn fallback_script(
    caches: &[PackagedCache],
    carried: impl Fn(&CacheFile) -> bool,
    base: Option<&str>,
) -> String {
    let mut script = String::from(
        "#!/bin/sh\n\
         # Writes the package's model caches into \"$1/models/<cache>/\"; install.sh runs it\n\
         # from the unzipped package's folder (with \"check\" as $2: checks only).\n\
         set -eu\n\
         models=\"$1/models\"\n",
    );
    if let Some(base) = base {
        script.push_str(&format!(
            "held() {{\n  \
               [ -f \"$models/$1\" ] && [ \"$(sha256sum < \"$models/$1\" | cut -d' ' -f1)\" = \"$2\" ] || {{\n    \
                 echo \"error: this update package needs its base package ({}) installed first: the model file $1 is missing; nothing was changed: install that package, then this one\" >&2\n    \
                 exit 1\n  \
               }}\n\
             }}\n",
            base.replace(['"', '$', '`', '\\'], "")
        ));
    }
    for cache in caches {
        for file in cache.files.iter().filter(|f| !carried(f)) {
            let path = format!("{}/{}", cache.name, file.path);
            script.push_str(&format!("held {} {}\n", quote(&path), file.sha256));
        }
    }
    // Checked before anything changes: the folders written into are never
    // links (install.sh checks `$models` itself).
    script.push_str(
        "nolink() {\n  \
           if [ -L \"$1\" ]; then\n    \
             echo \"error: $1 is a symbolic link; nothing was changed: remove the link and run this again\" >&2\n    \
             exit 1\n  \
           fi\n\
         }\n",
    );
    for cache in caches {
        let root = format!("\"$models\"/{}", quote(&cache.name));
        script.push_str(&format!("nolink {root}\n"));
        for dir in &cache.dirs {
            script.push_str(&format!("nolink {root}/{}\n", quote(dir)));
        }
    }
    script.push_str("if [ \"${2:-}\" = check ]; then exit 0; fi\n");
    for cache in caches {
        let root = format!("\"$models\"/{}", quote(&cache.name));
        script.push_str(&format!("mkdir -p {root}\n"));
        for dir in &cache.dirs {
            script.push_str(&format!("mkdir -p {root}/{}\n", quote(dir)));
        }
        for file in cache.files.iter().filter(|f| carried(f)) {
            let target = format!("{root}/{}", quote(&file.path));
            script.push_str(&format!(
                "rm -f {target}; cp {} {target}; chmod {:o} {target}\n",
                quote(&layout::model_blob_entry(&file.sha256)),
                if file.mode & 0o111 != 0 { 0o755 } else { 0o644 },
            ));
        }
        for link in &cache.links {
            let path = format!("{root}/{}", quote(&link.path));
            script.push_str(&format!(
                "rm -f {path}; ln -s {} {path}\n",
                quote(&link.target)
            ));
        }
        // NIM containers run as user 1000; nothing is left world-writable.
        script.push_str(&format!(
            "chmod 2775 {root}\nif [ \"$(id -u)\" = 0 ]; then chown -R 1000:1000 {root}; fi\n"
        ));
    }
    script
}

/// `'text'` for the shell.
fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A package writer into `path`.
    fn writer(path: &Path) -> PackageWriter {
        PackageWriter::new(
            File::create(path).unwrap(),
            path,
            super::super::zip::Compression::None,
            super::super::zip::DosTime::from_utc(time::OffsetDateTime::UNIX_EPOCH),
            None,
        )
    }

    /// The cache `name` in `dir`, listed now.
    fn source(name: &str, dir: &Path) -> CacheSource {
        CacheSource {
            ready: ReadyCache {
                name: name.into(),
                dir: dir.to_owned(),
                image: "demo:1".into(),
                profiles: Vec::new(),
            },
            walked: walk(dir).unwrap(),
        }
    }

    /// The refusal of a cache holding, besides a good file, what `plant`
    /// puts at the path it is given, with the path and unfitness it names.
    fn refusal(plant: impl Fn(&Path) -> String) -> (PathBuf, Unfit) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("good"), b"weights").unwrap();
        let planted = plant(dir.path());
        let walked = walk(dir.path()).unwrap();
        match check_fit(dir.path(), &walked) {
            Err(ModelError::Unfit { path, unfit }) => {
                assert_eq!(path, dir.path().join(&planted));
                (path, unfit)
            }
            other => panic!("{planted}: {other:?}"),
        }
    }

    #[test]
    fn names_the_reader_refuses_are_refused_with_their_path() {
        for name in [
            "back\\slash",
            "drive:c",
            "rlo\u{202e}txt.exe",
            "zero\u{200b}width",
            "bom\u{feff}",
        ] {
            let (path, unfit) = refusal(|dir| {
                std::fs::write(dir.join(name), b"x").unwrap();
                name.to_owned()
            });
            assert_eq!(unfit, Unfit::BadName, "{}", path.display());
        }
        let (_, unfit) = refusal(|dir| {
            let deep = vec!["d"; crate::package::zip::MAX_CACHE_DEPTH].join("/");
            std::fs::create_dir_all(dir.join(&deep)).unwrap();
            std::fs::write(dir.join(&deep).join("f"), b"x").unwrap();
            format!("{deep}/f")
        });
        assert_eq!(unfit, Unfit::TooDeep);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fine"), b"x").unwrap();
        check_fit(dir.path(), &walk(dir.path()).unwrap()).unwrap();
    }

    #[test]
    fn a_file_with_a_hard_link_outside_the_cache_is_refused() {
        let outside = tempfile::tempdir().unwrap();
        let secret = outside.path().join("secret");
        std::fs::write(&secret, b"not the cache owner's").unwrap();
        let (_, unfit) = refusal(|dir| {
            std::fs::hard_link(&secret, dir.join("linked")).unwrap();
            "linked".to_owned()
        });
        assert_eq!(unfit, Unfit::HardLinkOutside);
        // Links that all lie inside the cache are one file stored once.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"x").unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::hard_link(dir.path().join("a"), dir.path().join("sub/b")).unwrap();
        check_fit(dir.path(), &walk(dir.path()).unwrap()).unwrap();
    }

    #[test]
    fn content_met_before_is_stored_once_and_a_matching_head_alone_is_not_enough_to_skip_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let head = vec![7u8; HEAD as usize];
        let write = |cache: &str, name: &str, tail: &[u8]| {
            std::fs::create_dir_all(dir.path().join(cache)).unwrap();
            std::fs::write(
                dir.path().join(cache).join(name),
                [&head[..], tail].concat(),
            )
            .unwrap();
        };
        write("a", "encoder", b"shared!");
        write("a", "lookalike", b"differ!");
        write("b", "encoder", b"shared!");
        write("b", "other", b"second!");
        let sources: Vec<CacheSource> = ["a", "b"]
            .iter()
            .map(|name| source(name, &dir.path().join(name)))
            .collect();
        let path = dir.path().join("p.zip");
        let mut package = writer(&path);
        let caches = write_caches(
            &mut package,
            &sources,
            &crate::progress::Silent,
            &Cancel::new(),
        )
        .unwrap();
        let digest = |tail: &[u8]| hex::encode(Sha256::digest([&head[..], tail].concat()));
        for tail in [&b"shared!"[..], b"differ!", b"second!"] {
            assert!(package.carries(&layout::model_blob_entry(&digest(tail))));
        }
        let stored: Vec<&str> = caches
            .iter()
            .flat_map(|c| &c.files)
            .map(|f| f.sha256.as_str())
            .collect();
        assert_eq!(stored.len(), 4);
        assert_eq!(
            stored.iter().filter(|s| **s == digest(b"shared!")).count(),
            2
        );
        drop(package);
        let size = std::fs::metadata(&path).unwrap().len();
        assert!(size < 7 * HEAD / 2, "the shared content once: {size} bytes");
    }

    #[test]
    fn a_file_that_changes_after_it_was_listed_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cache = dir.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("weights"), b"listed bytes").unwrap();
        let sources = [source("cache", &cache)];
        std::thread::sleep(std::time::Duration::from_millis(20));
        std::fs::write(cache.join("weights"), b"other! bytes").unwrap();
        let path = dir.path().join("p.zip");
        let mut package = writer(&path);
        let error = write_caches(
            &mut package,
            &sources,
            &crate::progress::Silent,
            &Cancel::new(),
        )
        .unwrap_err();
        assert!(
            matches!(error, PackageError::Model(ModelError::Changed { ref path }) if path.ends_with("weights")),
            "{error}"
        );
    }

    #[test]
    fn the_fallback_script_checks_what_an_update_package_leaves_out_first() {
        let file = |path: &str, sha: &str| CacheFile {
            path: path.into(),
            size: 1,
            mode: 0o644,
            sha256: sha.repeat(64),
        };
        let caches = [PackagedCache {
            name: "demo".into(),
            image: "demo:1".into(),
            profiles: Vec::new(),
            files: vec![file("blobs/old", "a"), file("blobs/new", "b")],
            links: Vec::new(),
            dirs: vec!["blobs".into()],
        }];
        let script = fallback_script(
            &caches,
            |f| f.path == "blobs/new",
            Some("old.zip, package id abc"),
        );
        let check = format!("held 'demo/blobs/old' {}\n", "a".repeat(64));
        let at = |text: &str| {
            script
                .find(text)
                .unwrap_or_else(|| panic!("{text}: {script}"))
        };
        assert!(at(&check) < at("if [ \"${2:-}\" = check ]; then exit 0; fi"));
        assert!(at("then exit 0") < at("mkdir -p"));
        assert!(script.contains("base package (old.zip, package id abc) installed first"));
        assert!(script.contains(&format!("cp 'models/blobs/sha256/{}'", "b".repeat(64))));
        assert!(!script.contains(&format!("cp 'models/blobs/sha256/{}'", "a".repeat(64))));
        let plain = fallback_script(&caches, |_| true, None);
        assert!(!plain.contains("held"), "{plain}");

        // Run for real, in check mode: the left-out file must be in place.
        use sha2::Digest;
        let mut caches = caches;
        caches[0].files[0].sha256 = hex::encode(sha2::Sha256::digest(b"old"));
        let script = fallback_script(&caches, |f| f.path == "blobs/new", Some("old.zip"));
        let dir = tempfile::tempdir().unwrap();
        let check = || {
            std::process::Command::new("sh")
                .args(["-c", &script, "models.sh"])
                .arg(dir.path())
                .arg("check")
                .output()
                .unwrap()
        };
        let refused = check();
        assert_eq!(refused.status.code(), Some(1));
        assert!(String::from_utf8_lossy(&refused.stderr)
            .contains("the model file demo/blobs/old is missing"));
        std::fs::create_dir_all(dir.path().join("models/demo/blobs")).unwrap();
        std::fs::write(dir.path().join("models/demo/blobs/old"), b"old").unwrap();
        let passed = check();
        assert!(passed.status.success(), "{passed:?}");
        assert!(
            !dir.path().join("models/demo/blobs/new").exists(),
            "checks only"
        );
    }
}
