//! The TechOps machine's model caches, `<data dir>/model-cache/<name>/`,
//! filled as NVIDIA's air-gap procedure does it: the node image's own fill
//! command runs in a container with the cache mounted and the credentials
//! set. A record beside each cache (`<name>.json`) says which profiles it
//! holds, so a second package downloads nothing, and an interrupted fill is
//! simply run again (the image's tools resume). A cache given by the user
//! (`--model-cache`) is only read: it is mounted read-only to list it.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::error::ModelError;
use super::profiles::{parse_list, Listed, Profile};
use crate::catalog::{ModelSpec, Node};
use crate::credentials::Credentials;
use crate::engine::{Engine, EngineError, RunSpec};
use crate::progress::{Event, Reporter, SharedReporter, Step};
use crate::Cancel;

/// How often the size of a cache being filled is reported.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Where the TechOps machine keeps its model caches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelStore {
    root: PathBuf,
}

/// What the record beside a cache says.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Record {
    /// The image that filled it last.
    image: String,
    /// Profiles whose fill ended well.
    filled: Vec<String>,
    /// Whether a fill of every profile ended well.
    all: bool,
    /// What the image's tools said of the profiles.
    profiles: Vec<Profile>,
}

/// A cache ready to be packaged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadyCache {
    /// Its name.
    pub name: String,
    /// Its folder.
    pub dir: PathBuf,
    /// The image whose tools filled or listed it.
    pub image: String,
    /// The profiles it holds, as far as known.
    pub profiles: Vec<Profile>,
}

impl ModelStore {
    /// The store at `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    /// The per-user default: `model-cache` in the tool's data folder.
    pub fn default_location() -> Option<Self> {
        crate::paths::data_dir().map(|dir| Self::new(dir.join("model-cache")))
    }

    /// The folder of the cache `name`.
    pub fn dir(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    fn record_file(&self, name: &str) -> PathBuf {
        self.root.join(format!("{name}.json"))
    }

    fn record(&self, name: &str) -> Record {
        std::fs::read(self.record_file(name))
            .ok()
            .and_then(|bytes| serde_json::from_slice(&bytes).ok())
            .unwrap_or_default()
    }

    fn write_record(&self, name: &str, record: &Record) -> Result<(), ModelError> {
        let path = self.record_file(name);
        let bytes = serde_json::to_vec_pretty(record).expect("records serialize");
        let temp = tempfile::NamedTempFile::new_in(&self.root)
            .map_err(ModelError::io("write into", &self.root))?;
        std::fs::write(temp.path(), bytes).map_err(ModelError::io("write", &path))?;
        temp.persist(&path)
            .map_err(|e| ModelError::io("write", &path)(e.error))?;
        Ok(())
    }

    /// The profiles the cache `name` holds, as recorded (for `catalog`).
    pub fn held_profiles(&self, name: &str) -> Vec<Profile> {
        let record = self.record(name);
        record
            .profiles
            .into_iter()
            .filter(|p| record.all || record.filled.contains(&p.id))
            .collect()
    }

    /// The bytes the cache `name` holds on this machine, when it exists.
    pub fn cache_size(&self, name: &str) -> Option<u64> {
        let dir = self.dir(name);
        dir.is_dir().then(|| du(&dir))
    }

    /// Makes sure the cache of `node` holds the `chosen` profiles (the
    /// catalog's defaults when none; every profile when it has none either),
    /// running the image's fill command for those it lacks.
    pub async fn fill(
        &self,
        engine: &Engine,
        node: &Node,
        chosen: &[String],
        secrets: &Credentials,
        reporter: SharedReporter,
        cancel: &Cancel,
    ) -> Result<ReadyCache, ModelError> {
        let model = spec(node);
        let chosen = if chosen.is_empty() {
            model.profiles.clone()
        } else {
            chosen.to_vec()
        };
        let dir = self.dir(&model.cache);
        std::fs::create_dir_all(&dir).map_err(ModelError::io("create", &dir))?;
        let mut record = self.record(&model.cache);
        let missing: Vec<String> = chosen
            .iter()
            .filter(|id| !record.filled.contains(id))
            .cloned()
            .collect();
        let needed = if chosen.is_empty() {
            !record.all
        } else {
            !missing.is_empty()
        };
        if needed {
            let command = model.fill_command(&missing).ok_or(ModelError::NoProfiles {
                cache: model.cache.clone(),
            })?;
            let env = fill_environment(node, model, secrets)?;
            self.run_fill(engine, node, &dir, command, env, reporter.clone(), cancel)
                .await?;
            record.image.clone_from(&node.image);
            if chosen.is_empty() {
                record.all = true;
            } else {
                record.filled.extend(missing);
            }
            let listed = list(engine, node, &dir, false, cancel).await?;
            for entry in listed {
                record.profiles.retain(|p| p.id != entry.profile.id);
                record.profiles.push(entry.profile);
            }
            self.write_record(&model.cache, &record)?;
        } else {
            reporter.report(Event::Note {
                message: format!(
                    "Model cache `{}` holds the profiles already: nothing to download",
                    model.cache
                ),
            });
        }
        let profiles = if chosen.is_empty() {
            record.profiles.clone()
        } else {
            chosen
                .iter()
                .map(|id| {
                    record
                        .profiles
                        .iter()
                        .find(|p| &p.id == id)
                        .cloned()
                        .unwrap_or_else(|| Profile::bare(id))
                })
                .collect()
        };
        Ok(ReadyCache {
            name: model.cache.clone(),
            dir,
            image: node.image.clone(),
            profiles,
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_fill(
        &self,
        engine: &Engine,
        node: &Node,
        dir: &Path,
        command: Vec<String>,
        env: Vec<String>,
        reporter: SharedReporter,
        cancel: &Cancel,
    ) -> Result<(), ModelError> {
        let model = spec(node);
        let step = Step::FillModels(model.cache.clone());
        reporter.report(Event::Started {
            step: step.clone(),
            total: None,
        });
        let run = RunSpec {
            image: node.image.clone(),
            command,
            user: Some(owner(dir)?),
            env,
            binds: vec![format!("{}:{}", dir.display(), mount(node))],
            network: "host".to_owned(),
            purpose: "fill",
            entrypoint: None,
            gpu: None,
            limit: None,
        };
        let watcher = {
            let (reporter, dir, step, cancel) = (
                reporter.clone(),
                dir.to_owned(),
                step.clone(),
                cancel.clone(),
            );
            tokio::spawn(async move {
                let started = du(&dir);
                while !cancel.is_cancelled() {
                    tokio::time::sleep(PROGRESS_EVERY).await;
                    reporter.report(Event::Advanced {
                        step: step.clone(),
                        done: du(&dir).saturating_sub(started),
                    });
                }
            })
        };
        let mut last_note = Instant::now() - PROGRESS_EVERY;
        let notes: Arc<dyn Reporter> = reporter.clone();
        let mut on_line = |line: &str| {
            if last_note.elapsed() >= PROGRESS_EVERY {
                last_note = Instant::now();
                notes.report(Event::Note {
                    message: format!("{}: {line}", model.cache),
                });
            }
        };
        let ran = engine.run_to_end(&run, &mut on_line, cancel).await;
        watcher.abort();
        let output = match ran {
            Err(EngineError::Cancelled) => return Err(ModelError::Engine(EngineError::Cancelled)),
            other => other?,
        };
        if output.exit_code != 0 {
            return Err(ModelError::FillFailed {
                cache: model.cache.clone(),
                code: output.exit_code,
                last: output.tail.last().cloned().unwrap_or_default(),
            });
        }
        reporter.report(Event::Finished { step });
        Ok(())
    }
}

/// A cache the user made (`--model-cache`): used as it is, never changed.
/// Its profiles are the `chosen` ones, else those the image's tools list as
/// cached there, else unknown.
pub async fn describe_given(
    engine: &Engine,
    node: &Node,
    dir: &Path,
    chosen: &[String],
    cancel: &Cancel,
) -> Result<ReadyCache, ModelError> {
    let model = spec(node);
    let meta = std::fs::metadata(dir).map_err(ModelError::io("read", dir))?;
    if !meta.is_dir() {
        return Err(ModelError::NotAFolder {
            path: dir.to_owned(),
        });
    }
    let listed = list(engine, node, dir, true, cancel).await?;
    let profiles = if chosen.is_empty() {
        listed
            .into_iter()
            .filter(|l| l.cached)
            .map(|l| l.profile)
            .collect()
    } else {
        chosen
            .iter()
            .map(|id| {
                listed
                    .iter()
                    .find(|l| &l.profile.id == id)
                    .map_or_else(|| Profile::bare(id), |l| l.profile.clone())
            })
            .collect()
    };
    Ok(ReadyCache {
        name: model.cache.clone(),
        dir: dir.to_owned(),
        image: node.image.clone(),
        profiles,
    })
}

/// Runs the image's list command over the cache at `dir`, without network;
/// nothing when the catalog names no list command.
async fn list(
    engine: &Engine,
    node: &Node,
    dir: &Path,
    read_only: bool,
    cancel: &Cancel,
) -> Result<Vec<Listed>, ModelError> {
    let model = spec(node);
    if model.list.is_empty() {
        return Ok(Vec::new());
    }
    let run = RunSpec {
        image: node.image.clone(),
        command: model.list.clone(),
        user: Some(owner(dir)?),
        env: environment_of(node),
        binds: vec![format!(
            "{}:{}{}",
            dir.display(),
            mount(node),
            if read_only { ":ro" } else { "" }
        )],
        network: "none".to_owned(),
        purpose: "list",
        entrypoint: None,
        gpu: None,
        limit: None,
    };
    let output = engine.run_to_end(&run, &mut |_| {}, cancel).await?;
    if output.exit_code != 0 {
        return Err(ModelError::ListFailed {
            cache: model.cache.clone(),
            code: output.exit_code,
            last: output.tail.last().cloned().unwrap_or_default(),
        });
    }
    Ok(parse_list(&output.stdout))
}

/// The node's model section; callers only pass nodes that have one.
fn spec(node: &Node) -> &ModelSpec {
    node.model
        .as_ref()
        .expect("only nodes with a model section have a model cache")
}

/// Where the node's container keeps its cache.
fn mount(node: &Node) -> &str {
    node.cache_mount
        .as_deref()
        .expect("a node with a model section has a cache mount")
}

/// The node's own variables (variant included), as `NAME=value`.
fn environment_of(node: &Node) -> Vec<String> {
    node.container_environment()
        .into_iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

/// The fill's variables: the node's, the secrets it needs and the TechOps
/// machine's variables the catalog passes on.
fn fill_environment(
    node: &Node,
    model: &ModelSpec,
    secrets: &Credentials,
) -> Result<Vec<String>, ModelError> {
    let mut env = environment_of(node);
    let mut missing = Vec::new();
    for credential in &model.credentials {
        match secrets.get(*credential) {
            Some(value) => env.push(format!("{}={value}", credential.env_name())),
            None => missing.push(credential.env_name().to_owned()),
        }
    }
    if !missing.is_empty() {
        return Err(ModelError::MissingCredentials {
            cache: model.cache.clone(),
            missing,
        });
    }
    for name in &model.pass_env {
        if let Ok(value) = std::env::var(name) {
            env.push(format!("{name}={value}"));
        }
    }
    Ok(env)
}

/// `uid:gid` of the folder: the fill writes files its owner can read.
fn owner(dir: &Path) -> Result<String, ModelError> {
    let meta = std::fs::metadata(dir).map_err(ModelError::io("read", dir))?;
    Ok(format!("{}:{}", meta.uid(), meta.gid()))
}

/// The bytes of the files below `dir` (errors count as nothing: it is only
/// for progress).
fn du(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => du(&entry.path()),
            Ok(kind) if kind.is_file() => entry.metadata().map_or(0, |m| m.len()),
            _ => 0,
        })
        .sum()
}
