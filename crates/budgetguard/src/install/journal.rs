//! The journal of an install folder, `journal.json`: every run that changes
//! a workstation (install, deploy, uninstall) is one transaction. Each step
//! is written to the journal before it acts, with what undoes it; the state
//! files (`endpoints.json`, `images.json`) change only at the commit, and
//! what the new state leaves unused (an earlier version's model files and
//! images) is removed after it.
//!
//! A run that fails takes its steps back from its journal. A run killed
//! before it could leaves its journal for the next install, deploy or
//! uninstall in that folder, which takes it back the same way (or, once it
//! committed, finishes its clean-up; an uninstall is always finished), and
//! says so; `status` shows it meanwhile. There is no undo written per
//! command: each [`Step`] knows its own.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::dir::{read_own, write_atomic, InstallDir};
use super::lock::DirLock;
use super::state::{Endpoints, InstalledNode, LoadedImages};
use super::{collect, configure, models, owner, InstallError};
use crate::compose::Compose;
use crate::digest::ImageId;
use crate::engine::Engine;
use crate::progress::{Event, Reporter};

/// The environment variable that makes a run fail (`STEP`) or kill itself
/// (`STEP:kill`) when it reaches the step boundary `STEP` (a [`Step`]'s
/// name, `commit`, `cleanup`, or one between the renames of a switch
/// without `RENAME_EXCHANGE`, `cache_parked`, `cache_moved`, `log_parked`,
/// `log_moved`, or `pull_done` between a pull and its record): for the
/// tests of every boundary. `STEP#N` stops at the `N`th time the run
/// reaches it (the second cache's switch, …), `STEP` at the first.
pub(crate) const FAULT_VARIABLE: &str = "BUDGETGUARD_TEST_FAULT";

/// What `journal.json` holds: the unfinished run of the folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Journal {
    /// The command that made it (`install-package`, `deploy-local`, …).
    command: String,
    /// Its process.
    pid: u32,
    /// When it started (RFC 3339, UTC).
    started_at: String,
    /// The engine it changed (its address).
    engine: String,
    /// Whether its new state is written: what is left is clean-up.
    #[serde(default)]
    committed: bool,
    /// Its steps, oldest first.
    steps: Vec<Step>,
}

/// One change of a run, recorded before it is made, with what undoes it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub(crate) enum Step {
    /// A node's Compose project claimed on the engine for this folder.
    Claim {
        /// The claim.
        name: String,
        /// This folder, as it claims.
        owner: String,
    },
    /// Images streamed into the engine and tags moved onto them.
    LoadImages(ImageUndo),
    /// An image pulled under `reference`, which named nothing before;
    /// `ids_before` are the images the engine had.
    Pull {
        /// The reference pulled.
        reference: String,
        /// The engine's image IDs before.
        ids_before: Vec<ImageId>,
    },
    /// The pull of `reference` done, giving the image `id`: taking the
    /// pull back removes that image under that name only.
    Pulled {
        /// The reference pulled.
        reference: String,
        /// The engine ID of the image the pull gave.
        id: ImageId,
    },
    /// A model cache's new version written beside the live one
    /// (`models/.staging/<cache>`).
    StageCache {
        /// The cache.
        cache: String,
    },
    /// The staged version exchanged with the live one: the old one is
    /// under the staging name until the clean-up removes it.
    SwitchCache {
        /// The cache.
        cache: String,
        /// The inodes of the staged version's folder and log: each is
        /// switched when the live name holds it.
        staged: (u64, u64),
    },
    /// Nodes' Compose files written and their containers made anew.
    ConfigureNodes {
        /// Each node as it was before.
        before: Vec<configure::NodeBefore>,
    },
    /// The state files as the run found them (`None`: no file), written
    /// at the commit.
    StateFiles {
        /// `endpoints.json`.
        endpoints: Option<Endpoints>,
        /// `images.json`.
        images: Option<LoadedImages>,
    },
    /// Nodes being removed: an uninstall is finished, never taken back.
    Uninstall {
        /// The nodes' names.
        nodes: Vec<String>,
        /// Whether their model caches go too.
        purge_cache: bool,
    },
}

impl Step {
    /// The step's name, as [`FAULT_VARIABLE`] gives it.
    fn name(&self) -> &'static str {
        match self {
            Step::Claim { .. } => "claim",
            Step::LoadImages(_) => "load_images",
            Step::Pull { .. } => "pull",
            Step::Pulled { .. } => "pulled",
            Step::StageCache { .. } => "stage_cache",
            Step::SwitchCache { .. } => "switch_cache",
            Step::ConfigureNodes { .. } => "configure_nodes",
            Step::StateFiles { .. } => "state_files",
            Step::Uninstall { .. } => "uninstall",
        }
    }
}

/// What takes back a load: the images it added and the tags it moved.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct ImageUndo {
    /// The images the engine did not have before (engine IDs).
    pub added: Vec<ImageId>,
    /// What each reference of the package named before.
    pub tags_before: BTreeMap<String, Option<ImageId>>,
    /// The image the run gives each reference (engine IDs): a name that
    /// names another one at the take-back was pointed there since, by
    /// somebody else, and stays. (Empty in a journal of an earlier version.)
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub given: BTreeMap<String, ImageId>,
    /// The kept tags ([`super::load::kept_name`]) the run gives the user's
    /// images, by the reference they kept.
    pub kept: BTreeMap<String, String>,
}

impl ImageUndo {
    /// Gives every reference the run moved back the image it named before,
    /// and takes off the tags the run put on images that were there before;
    /// what fails is added to `failed`.
    pub(crate) async fn restore_tags(&self, engine: &Engine, failed: &mut Vec<String>) {
        for (reference, before) in &self.tags_before {
            let now = match engine.image(reference).await {
                Ok(now) => now.map(|i| i.id),
                Err(e) => {
                    note(failed, Err::<(), _>(e));
                    continue;
                }
            };
            let pointed_elsewhere = matches!(
                (&now, self.given.get(reference)),
                (Some(now), Some(given)) if now != given
            );
            if pointed_elsewhere {
                continue;
            }
            match (before, now) {
                (Some(before), now) if now.as_ref() != Some(before) => {
                    note(failed, engine.tag(before, reference).await);
                }
                (None, Some(now)) if !self.added.contains(&now) => {
                    // A tag this run put on an image that was there before:
                    // taken off, unless it is the image's only name.
                    note(failed, engine.untag(reference).await);
                }
                _ => {}
            }
        }
    }

    /// Removes the images the run added that no container uses (never
    /// forced: a container of anybody's keeps its image) and nobody else
    /// has named meanwhile, and the kept tags it made; what fails is added
    /// to `failed`.
    pub(crate) async fn remove_added(&self, engine: &Engine, failed: &mut Vec<String>) {
        for reference in self.tags_before.keys() {
            match engine.image(reference).await {
                Ok(Some(now)) if self.added.contains(&now.id) => {
                    // A container keeps the image, and every name of it.
                    match engine.image_used(&now.id).await {
                        Ok(false) => note(failed, engine.remove_image_if_unused(reference).await),
                        Ok(true) => {}
                        Err(e) => note(failed, Err::<(), _>(e)),
                    }
                }
                Ok(_) => {}
                Err(e) => note(failed, Err::<(), _>(e)),
            }
        }
        for id in &self.added {
            note(failed, engine.remove_unnamed_image(id).await);
        }
        for kept in self.kept.values() {
            note(failed, engine.untag(kept).await);
        }
    }
}

/// One run's transaction in an install folder, while it holds the lock.
pub(crate) struct Transaction<'a> {
    dir: &'a InstallDir,
    journal: Journal,
    /// Whether the journal file exists (it is written at the first step).
    written: bool,
}

impl<'a> Transaction<'a> {
    /// Starts `command`'s transaction in `dir`, whose lock `_lock` is held:
    /// first finishes or takes back the run a kill left unfinished there.
    pub(crate) async fn begin(
        dir: &'a InstallDir,
        _lock: &DirLock,
        engine: &Engine,
        command: &str,
        reporter: &dyn Reporter,
    ) -> Result<Self, InstallError> {
        recover(dir, engine, reporter).await?;
        Ok(Self {
            dir,
            journal: Journal {
                command: command.to_owned(),
                pid: std::process::id(),
                started_at: now(),
                engine: engine.host().to_owned(),
                committed: false,
                steps: Vec::new(),
            },
            written: false,
        })
    }

    /// Records `step` in the journal, before the run makes it.
    pub(crate) fn record(&mut self, step: Step) -> Result<(), InstallError> {
        let name = step.name();
        self.journal.steps.push(step);
        self.write()?;
        fault(name)
    }

    /// Writes the new state files, then removes what the new state leaves
    /// unused (earlier versions' model files, images no installed node
    /// uses) and ends the journal. `None` leaves a file as it is.
    pub(crate) async fn commit(
        mut self,
        engine: &Engine,
        reporter: &dyn Reporter,
        endpoints: Option<&Endpoints>,
        images: Option<&LoadedImages>,
    ) -> Result<(), InstallError> {
        if let Err(e) = self.write_state(endpoints, images) {
            self.take_back(engine, reporter, false).await;
            return Err(e);
        }
        // From here on the new state stands: what is left is clean-up,
        // which the next run finishes if this one cannot.
        fault("cleanup")?;
        match clean_up(self.dir, engine, &self.journal, reporter).await {
            Ok(()) => self.end(),
            Err(e) => {
                let done = match self.journal.command.as_str() {
                    "uninstall" => "Uninstalled; what the nodes left",
                    "deploy-local" => "Deployed; what the previous version left",
                    _ => "Installed; what the previous version left",
                };
                reporter.report(Event::Note {
                    message: format!(
                        "{done} could not be removed yet ({}): the next install, deploy or uninstall here removes it",
                        crate::error_text(&e)
                    ),
                });
                Ok(())
            }
        }
    }

    /// Records the state files as they are, writes the new ones, and marks
    /// the journal committed.
    fn write_state(
        &mut self,
        endpoints: Option<&Endpoints>,
        images: Option<&LoadedImages>,
    ) -> Result<(), InstallError> {
        fault("commit")?;
        if endpoints.is_some() || images.is_some() {
            self.record(Step::StateFiles {
                endpoints: exists(&self.dir.endpoints_file())
                    .then(|| self.dir.endpoints())
                    .transpose()?,
                images: exists(&self.dir.images_file())
                    .then(|| self.dir.loaded_images())
                    .transpose()?,
            })?;
            if let Some(images) = images {
                self.dir.write_loaded_images(images)?;
            }
            if let Some(endpoints) = endpoints {
                self.dir.write_endpoints(endpoints)?;
            }
        }
        if self.written {
            self.journal.committed = true;
            self.write()?;
        }
        Ok(())
    }

    /// Takes back every step of the run (see [`take_back`]) and ends the
    /// journal; what cannot be taken back is said, and the journal kept
    /// for the next run. `damaged`: the package was found damaged, so the
    /// model files it staged are not worth keeping for a next run.
    pub(crate) async fn take_back(self, engine: &Engine, reporter: &dyn Reporter, damaged: bool) {
        let failed = take_back(self.dir, engine, &self.journal.steps, damaged).await;
        if failed.is_empty() {
            let _ = self.end();
        } else {
            // The journal stays: the next run takes back what is left.
            reporter.report(Event::Note {
                message: format!(
                    "could not take back everything this run changed ({}): the next install, deploy or uninstall here tries again",
                    failed.join("; ")
                ),
            });
        }
    }

    fn write(&mut self) -> Result<(), InstallError> {
        let mut bytes = serde_json::to_vec_pretty(&self.journal).expect("the journal serializes");
        bytes.push(b'\n');
        write_atomic(&self.dir.journal_file(), &bytes)?;
        self.written = true;
        Ok(())
    }

    fn end(self) -> Result<(), InstallError> {
        if !self.written {
            return Ok(());
        }
        let path = self.dir.journal_file();
        std::fs::remove_file(&path).map_err(InstallError::io("remove", &path))
    }
}

/// A run that did not finish, as `status` shows it.
#[derive(Debug, Clone, thiserror::Error)]
#[error("a `{command}` run of {started_at} (process {pid}) has not finished: the next install, deploy or uninstall here {}", if *committed || command == "uninstall" { "finishes it" } else { "takes it back" })]
pub struct UnfinishedRun {
    /// Its command.
    pub command: String,
    /// Its process.
    pub pid: u32,
    /// When it started.
    pub started_at: String,
    /// Whether it had written its new state (only clean-up is left).
    pub committed: bool,
}

impl InstallDir {
    /// `journal.json`.
    pub(crate) fn journal_file(&self) -> PathBuf {
        self.root().join("journal.json")
    }

    /// The run whose journal is in the folder: one still running, or one
    /// that was killed, which the next install, deploy or uninstall here
    /// finishes or takes back.
    pub fn unfinished_run(&self) -> Result<Option<UnfinishedRun>, InstallError> {
        Ok(read_journal(self)?.map(|j| UnfinishedRun {
            command: j.command,
            pid: j.pid,
            started_at: j.started_at,
            committed: j.committed,
        }))
    }
}

fn read_journal(dir: &InstallDir) -> Result<Option<Journal>, InstallError> {
    let path = dir.journal_file();
    let Some(bytes) = read_own(&path)? else {
        return Ok(None);
    };
    let journal: Journal = serde_json::from_slice(&bytes)
        .map_err(|e| e.to_string())
        .and_then(|journal: Journal| journal.check_caches().map(|()| journal))
        .map_err(|detail| InstallError::StateFile { path, detail })?;
    Ok(Some(journal))
}

impl Journal {
    /// Refuses a model cache name that is no cache name (a path, say) in
    /// any step: the tool never wrote it, and must not work on that path.
    fn check_caches(&self) -> Result<(), String> {
        self.steps.iter().try_for_each(|step| match step {
            Step::StageCache { cache } | Step::SwitchCache { cache, .. }
                if !crate::catalog::is_cache_name(cache) =>
            {
                Err(format!("`{cache}` is not a model cache name"))
            }
            Step::StateFiles {
                endpoints: Some(endpoints),
                ..
            } => endpoints.check_caches(),
            _ => Ok(()),
        })
    }
}

/// Finishes or takes back the run a kill left unfinished in `dir` (the
/// caller holds the lock), and says which.
pub(crate) async fn recover(
    dir: &InstallDir,
    engine: &Engine,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    let Some(journal) = read_journal(dir)? else {
        return Ok(());
    };
    if journal.engine != engine.host() {
        return Err(InstallError::JournalOfOtherEngine {
            command: journal.command,
            engine: journal.engine,
        });
    }
    let uninstall = journal.steps.iter().find_map(|step| match step {
        Step::Uninstall { nodes, purge_cache } => Some((nodes.clone(), *purge_cache)),
        _ => None,
    });
    let what = if let Some((nodes, purge_cache)) = uninstall {
        // Best effort: an uninstall that cannot be finished never blocks
        // the command that found it (which may be the uninstall to retry).
        if let Err(e) = super::nodes::remove_nodes(dir, engine, &nodes, purge_cache, reporter).await
        {
            reporter.report(Event::Note {
                message: format!(
                    "could not finish the unfinished `uninstall` run: {}",
                    crate::error_text(&e)
                ),
            });
        }
        finish_clean_up(dir, engine, &journal, reporter).await;
        "Finished"
    } else if journal.committed {
        finish_clean_up(dir, engine, &journal, reporter).await;
        "Finished"
    } else {
        let failed = take_back(dir, engine, &journal.steps, false).await;
        if !failed.is_empty() {
            return Err(InstallError::TakeBack {
                command: journal.command,
                detail: failed.join("; "),
            });
        }
        "Took back"
    };
    reporter.report(Event::Note {
        message: format!(
            "{what} the unfinished `{}` run of {} (process {}), which was stopped before it ended",
            journal.command, journal.started_at, journal.pid
        ),
    });
    let path = dir.journal_file();
    std::fs::remove_file(&path).map_err(InstallError::io("remove", &path))
}

/// The clean-up of a run a kill stopped: what cannot be removed now is
/// said, and left (it never blocks the run that found it).
async fn finish_clean_up(
    dir: &InstallDir,
    engine: &Engine,
    journal: &Journal,
    reporter: &dyn Reporter,
) {
    if let Err(e) = clean_up(dir, engine, journal, reporter).await {
        reporter.report(Event::Note {
            message: format!(
                "could not finish the clean-up of the unfinished `{}` run: {}",
                journal.command,
                crate::error_text(&e)
            ),
        });
    }
}

/// Undoes `steps`, in three passes so that each node ends on what it ran
/// before: first what the nodes point at (the tags the load moved, the
/// model caches switched, the state files), then the nodes themselves
/// (their old Compose files, their containers made anew on the old image
/// and cache), and last what nothing uses any more (the images and files
/// the run added, its claims), each newest first.
async fn take_back(
    dir: &InstallDir,
    engine: &Engine,
    steps: &[Step],
    damaged: bool,
) -> Vec<String> {
    let mut failed = Vec::new();
    // Each undo is a boundary of its own (`take_back#N`): one that fails
    // is said and left for the next run, which undoes every step again.
    let undo = |failed: &mut Vec<String>| {
        let stopped = fault("take_back");
        let go_on = stopped.is_ok();
        note(failed, stopped);
        go_on
    };
    for step in steps.iter().rev() {
        match step {
            Step::LoadImages(undo_load) if undo(&mut failed) => {
                undo_load.restore_tags(engine, &mut failed).await;
            }
            Step::SwitchCache { cache, staged } if undo(&mut failed) => {
                note(&mut failed, models::switch_back(dir, cache, *staged));
            }
            Step::StateFiles { endpoints, images } if undo(&mut failed) => {
                note(
                    &mut failed,
                    restore(&dir.endpoints_file(), endpoints.as_ref(), |e| {
                        dir.write_endpoints(e)
                    }),
                );
                note(
                    &mut failed,
                    restore(&dir.images_file(), images.as_ref(), |i| {
                        dir.write_loaded_images(i)
                    }),
                );
            }
            _ => {}
        }
    }
    let mut compose: Option<Option<Compose>> = None;
    for step in steps.iter().rev() {
        if let Step::ConfigureNodes { before } = step {
            if !undo(&mut failed) {
                continue;
            }
            let compose = match &compose {
                Some(found) => found.as_ref(),
                None => compose
                    .insert(Compose::detect(engine.host()).await.ok())
                    .as_ref(),
            };
            configure::roll_back(compose, dir, before, &mut failed).await;
        }
    }
    for step in steps.iter().rev() {
        match step {
            Step::LoadImages(undo_load) if undo(&mut failed) => {
                undo_load.remove_added(engine, &mut failed).await;
            }
            Step::Pull {
                reference,
                ids_before,
            } if undo(&mut failed) => {
                let pulled = steps.iter().find_map(|step| match step {
                    Step::Pulled { reference: r, id } if r == reference => Some(id),
                    _ => None,
                });
                note(
                    &mut failed,
                    take_back_pull(engine, reference, ids_before, pulled).await,
                );
            }
            Step::StageCache { cache } if undo(&mut failed) => {
                note(&mut failed, models::take_back_staged(dir, cache, damaged));
            }
            Step::Claim { name, owner } if undo(&mut failed) => {
                note(&mut failed, owner::release(engine, name, owner).await);
            }
            _ => {}
        }
    }
    failed
}

/// Takes back a pull of `reference`, which named nothing before: the name
/// goes while it names the image the pull gave (`pulled`; unknown when the
/// run was stopped during the pull, then whatever the name names now), and
/// the image with it unless the engine had it before or a container uses
/// it. A name the user has pointed at another image since
/// stays as it is, and so does that image; the pulled image, left without
/// a name by it, goes.
async fn take_back_pull(
    engine: &Engine,
    reference: &str,
    ids_before: &[ImageId],
    pulled: Option<&ImageId>,
) -> Result<(), crate::engine::EngineError> {
    let now = engine.image(reference).await?.map(|info| info.id);
    let had = |id: &ImageId| ids_before.contains(id);
    match (now.as_ref(), pulled) {
        // An image the engine had under another name: only the name goes.
        (Some(now), Some(pulled)) if now == pulled && had(pulled) => {
            engine.untag(reference).await.map(drop)
        }
        (Some(now), Some(pulled)) if now == pulled => {
            engine.remove_image_if_unused(reference).await.map(drop)
        }
        (Some(now), None) if !had(now) => engine.remove_image_if_unused(reference).await.map(drop),
        // Stopped during the pull, which gave an image the engine had
        // under another name: the name named nothing before, so it goes.
        (Some(_), None) => engine.untag(reference).await.map(drop),
        (_, Some(pulled)) if !had(pulled) => engine.remove_unnamed_image(pulled).await.map(drop),
        _ => Ok(()),
    }
}

/// Adds the error of `result`, if any, to `failed`.
pub(crate) fn note<T, E: std::error::Error>(failed: &mut Vec<String>, result: Result<T, E>) {
    if let Err(e) = result {
        failed.push(crate::error_text(&e));
    }
}

/// Puts a state file back as a run found it: `before`, or no file.
fn restore<T>(
    path: &std::path::Path,
    before: Option<&T>,
    write: impl FnOnce(&T) -> Result<(), InstallError>,
) -> Result<(), InstallError> {
    match before {
        Some(value) => write(value),
        None => super::dir::remove_any(path),
    }
}

/// What a committed run leaves to do: the old versions of the caches it
/// switched go, and so do the images no installed node uses.
async fn clean_up(
    dir: &InstallDir,
    engine: &Engine,
    journal: &Journal,
    reporter: &dyn Reporter,
) -> Result<(), InstallError> {
    // Files and images are removed at once: freeing a previous version's
    // gigabytes takes the file system a while, and the engine its own.
    let switched: Vec<String> = journal
        .steps
        .iter()
        .filter_map(|step| match step {
            Step::SwitchCache { cache, .. } => Some(cache.clone()),
            _ => None,
        })
        .collect();
    let old_versions = {
        let dir = dir.clone();
        tokio::task::spawn_blocking(move || {
            switched
                .iter()
                .try_for_each(|cache| models::remove_old_version(&dir, cache))
        })
    };
    let images = async {
        let installed: Vec<InstalledNode> = dir.endpoints()?.nodes;
        collect::remove_unused_images(engine, dir, &installed, reporter).await
    };
    let (files, images) = tokio::join!(old_versions, images);
    files.expect("removing a previous version does not panic")?;
    images
}

fn exists(path: &std::path::Path) -> bool {
    std::fs::symlink_metadata(path).is_ok()
}

/// Fails or kills the run at the step boundary `name` when
/// [`FAULT_VARIABLE`] names it (`STEP`, `STEP#N` for the `N`th time the
/// run reaches it, `STEP:kill` to abort there; several, comma-separated,
/// stop the run at the first one it reaches).
pub(crate) fn fault(name: &str) -> Result<(), InstallError> {
    let Ok(wanted) = std::env::var(FAULT_VARIABLE) else {
        return Ok(());
    };
    let Some((boundary, nth, kill)) = wanted.split(',').find_map(|spec| {
        let (boundary, kill) = match spec.split_once(':') {
            Some((boundary, "kill")) => (boundary, true),
            _ => (spec, false),
        };
        let (step, nth) = match boundary.split_once('#') {
            Some((step, nth)) => (step, nth.parse().unwrap_or(1)),
            None => (boundary, 1),
        };
        (step == name).then_some((boundary, nth, kill))
    }) else {
        return Ok(());
    };
    if reached(name) != nth {
        return Ok(());
    }
    if kill {
        std::process::abort()
    }
    Err(InstallError::Fault {
        step: boundary.to_owned(),
    })
}

/// How many times this run has reached the boundary `name`, this time
/// included.
fn reached(name: &str) -> usize {
    static REACHED: std::sync::Mutex<Vec<(String, usize)>> = std::sync::Mutex::new(Vec::new());
    let mut reached = REACHED.lock().unwrap_or_else(|e| e.into_inner());
    match reached.iter_mut().find(|(step, _)| step == name) {
        Some((_, count)) => {
            *count += 1;
            *count
        }
        None => {
            reached.push((name.to_owned(), 1));
            1
        }
    }
}

/// The current time, RFC 3339 (UTC).
pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("the current time always formats")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal as the tool wrote it while IDs and digests were plain
    /// text, with every step that holds some.
    const WRITTEN: &str = r#"{
  "command": "install-package",
  "pid": 4242,
  "started_at": "2026-12-06T10:00:00Z",
  "engine": "unix:///var/run/docker.sock",
  "committed": false,
  "steps": [
    {
      "step": "load_images",
      "added": [
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
      ],
      "tags_before": {
        "demo:1": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        "demo:2": null
      },
      "kept": {
        "demo:1": "demo:1-before-budgetguard"
      }
    },
    {
      "step": "pull",
      "reference": "demo:3",
      "ids_before": [
        "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
      ]
    },
    {
      "step": "pulled",
      "reference": "demo:3",
      "id": "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    },
    {
      "step": "state_files",
      "endpoints": null,
      "images": {
        "images": [
          {
            "engine": "unix:///var/run/docker.sock",
            "id": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "blobs": [
              "sha256:dddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddddd"
            ],
            "references": [
              "demo:1"
            ],
            "replaced": {
              "demo:1": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
            }
          }
        ]
      }
    }
  ]
}
"#;

    #[test]
    fn a_journal_written_before_reads_and_writes_the_same_bytes() {
        let journal: Journal = serde_json::from_str(WRITTEN).unwrap();
        match &journal.steps[2] {
            Step::Pulled { id, .. } => assert_eq!(id.hex(), "c".repeat(64)),
            other => panic!("{other:?}"),
        }
        let mut bytes = serde_json::to_vec_pretty(&journal).unwrap();
        bytes.push(b'\n');
        assert_eq!(String::from_utf8(bytes).unwrap(), WRITTEN);
    }

    #[test]
    fn a_journal_with_an_id_that_is_no_digest_is_refused() {
        let forged = WRITTEN.replace(
            "sha256:cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc",
            "sha256:c",
        );
        assert!(serde_json::from_str::<Journal>(&forged).is_err());
    }
}
