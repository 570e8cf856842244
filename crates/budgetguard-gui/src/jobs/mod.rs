//! The one long job the GUI runs at a time (a package build, a deploy, an
//! install, a verify, an uninstall, a copy or a publication):
//! its progress, folded from the library's progress events, and its outcome,
//! kept with the last few jobs' outcomes for the page's job list.

mod progress;

pub(crate) use progress::{Progress, ProgressView};

use std::collections::VecDeque;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use budgetguard::install::{DeployReport, InstallReport};
use budgetguard::package::oci::PublishReport;
use budgetguard::package::{CreateReport, VerifyReport};
use budgetguard::progress::{Event, Reporter, SharedReporter};
use budgetguard::Cancel;
use serde::Serialize;
use tokio::sync::watch;

use crate::messages::Message;

/// What a job does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobKind {
    /// Creates a local install package.
    Package,
    /// Deploys nodes on this workstation.
    Deploy,
    /// Installs a package on this workstation.
    Install,
    /// Verifies a package's every entry.
    Verify,
    /// Uninstalls nodes from this workstation.
    Uninstall,
    /// Copies a package to a folder or USB stick and checks the copy.
    Copy,
    /// Publishes a package to a registry.
    Publish,
}

impl JobKind {
    /// The job card's title while the job runs.
    pub(crate) fn running_title(self) -> &'static str {
        match self {
            JobKind::Package => "Creating install package",
            JobKind::Deploy => "Deploying on this workstation",
            JobKind::Install => "Installing package",
            JobKind::Verify => "Verifying package",
            JobKind::Uninstall => "Uninstalling",
            JobKind::Copy => "Copying to the folder",
            JobKind::Publish => "Publishing to the registry",
        }
    }

    /// The job card's title once the job ended with `outcome`.
    pub(crate) fn finished_title(self, outcome: &Outcome) -> &'static str {
        match (self, outcome) {
            (_, Outcome::Cancelled(_)) => match self {
                JobKind::Package => "Create cancelled",
                JobKind::Deploy => "Deploy cancelled",
                JobKind::Install => "Install cancelled",
                JobKind::Verify => "Verify cancelled",
                JobKind::Uninstall => "Uninstall cancelled",
                JobKind::Copy => "Copy cancelled",
                JobKind::Publish => "Publish cancelled",
            },
            (_, Outcome::Failed(_)) => match self {
                JobKind::Package => "Create failed",
                JobKind::Deploy => "Deploy failed",
                JobKind::Install => "Install failed",
                JobKind::Verify => "Package damaged or unreadable",
                JobKind::Uninstall => "Uninstall failed",
                JobKind::Copy => "Copy failed",
                JobKind::Publish => "Publish failed",
            },
            (JobKind::Package, _) => "Package created",
            (JobKind::Deploy, _) => "Deployed on this workstation",
            (JobKind::Install, _) => "Package installed",
            (JobKind::Verify, _) => "Package verified",
            (JobKind::Uninstall, _) => "Uninstalled",
            (JobKind::Copy, _) => "Copied and checked",
            (JobKind::Publish, _) => "Published to the registry",
        }
    }
}

/// Where the job slot stands.
#[derive(Debug)]
pub(crate) enum JobState {
    /// No job has run since the server started.
    Idle,
    /// A job runs.
    Running {
        /// What it does.
        kind: JobKind,
        /// What it has reported.
        progress: Progress,
        /// Cancels it.
        cancel: Cancel,
    },
    /// The last job ended.
    Finished(Arc<Finished>),
}

/// A job that ended, as the job list keeps it.
#[derive(Debug)]
pub(crate) struct Finished {
    /// Its number, from 1, in the order the jobs started.
    pub id: u64,
    /// What it did.
    pub kind: JobKind,
    /// How it ended.
    pub outcome: Outcome,
    /// How long it ran.
    pub elapsed: Duration,
    /// When it ended.
    pub ended: time::OffsetDateTime,
}

/// How many ended jobs the job list keeps.
pub(crate) const KEPT: usize = 10;

/// How a job ended.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// A package was written; with it, for a signed package, the public
    /// key file that must travel with it.
    Created(Box<CreateReport>, Option<std::path::PathBuf>),
    /// Nodes were deployed.
    Deployed(DeployReport),
    /// A package was installed.
    Installed(Box<InstallReport>),
    /// A package was verified.
    Verified(VerifyReport),
    /// A package was copied to a folder and the copy checked.
    Copied(Box<Copied>),
    /// A package was published to a registry.
    Published(Box<PublishReport>),
    /// Nodes were uninstalled: their names, and whether their caches went.
    Uninstalled(Vec<String>, bool),
    /// The job failed, in the GUI's words.
    Failed(Message),
    /// The job was cancelled; what is left.
    Cancelled(String),
}

/// What a copy did.
#[derive(Debug)]
pub(crate) struct Copied {
    /// The folder copied to.
    pub folder: std::path::PathBuf,
    /// The files written there, by name.
    pub files: Vec<String>,
    /// The copy's check against its manifest.
    pub verified: VerifyReport,
}

/// A job was asked for while another runs; says which.
#[derive(Debug)]
pub(crate) struct Busy(pub JobKind);

impl Busy {
    /// The refusal, as the page shows it.
    pub(crate) fn message(&self) -> &'static str {
        match self.0 {
            JobKind::Package => "A package is being created: wait for it to finish, or cancel it.",
            JobKind::Deploy => "A deploy is running: wait for it to finish, or cancel it.",
            JobKind::Install => "An install is running: wait for it to finish, or cancel it.",
            JobKind::Verify => "A package is being verified: wait for it to finish, or cancel it.",
            JobKind::Uninstall => "An uninstall is running: wait for it to finish, or cancel it.",
            JobKind::Copy => "A package is being copied: wait for it to finish, or cancel it.",
            JobKind::Publish => {
                "A package is being published: wait for it to finish, or cancel it."
            }
        }
    }
}

/// The job slot: at most one job runs at a time.
#[derive(Debug)]
pub(crate) struct Jobs {
    state: watch::Sender<JobState>,
    stop: Cancel,
    /// The last [`KEPT`] jobs that ended, newest first.
    ended: Arc<Mutex<VecDeque<Arc<Finished>>>>,
    /// The number the next job gets.
    next: std::sync::atomic::AtomicU64,
}

impl Jobs {
    /// An idle slot whose jobs are all cancelled when `stop` is.
    pub(crate) fn new(stop: Cancel) -> Self {
        Self {
            state: watch::Sender::new(JobState::Idle),
            stop,
            ended: Arc::default(),
            next: std::sync::atomic::AtomicU64::new(1),
        }
    }

    /// Starts the job `work` makes from a reporter and a cancellation token,
    /// unless one runs already.
    pub(crate) fn start<F, Fut>(&self, kind: JobKind, work: F) -> Result<(), Busy>
    where
        F: FnOnce(SharedReporter, Cancel) -> Fut,
        Fut: Future<Output = Outcome> + Send + 'static,
    {
        let cancel = self.stop.child_token();
        let mut busy = None;
        self.state.send_if_modified(|state| {
            if let JobState::Running { kind: running, .. } = state {
                busy = Some(Busy(*running));
                return false;
            }
            *state = JobState::Running {
                kind,
                progress: Progress::new(),
                cancel: cancel.clone(),
            };
            true
        });
        if let Some(busy) = busy {
            return Err(busy);
        }
        let id = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let job = work(Arc::new(JobReporter(self.state.clone())), cancel);
        let (state, ended) = (self.state.clone(), Arc::clone(&self.ended));
        let began = Instant::now();
        tokio::spawn(async move {
            let outcome = job.await;
            let finished = Arc::new(Finished {
                id,
                kind,
                outcome,
                elapsed: began.elapsed(),
                ended: time::OffsetDateTime::now_utc(),
            });
            {
                let mut ended = ended.lock().expect("not poisoned");
                ended.push_front(Arc::clone(&finished));
                ended.truncate(KEPT);
            }
            state.send_replace(JobState::Finished(finished));
        });
        Ok(())
    }

    /// Cancels the running job; `false` when none runs.
    pub(crate) fn cancel(&self) -> bool {
        match &*self.state.borrow() {
            JobState::Running { cancel, .. } => {
                cancel.cancel();
                true
            }
            _ => false,
        }
    }

    /// The slot as it stands (hold it briefly: it blocks the job's reports).
    pub(crate) fn state(&self) -> watch::Ref<'_, JobState> {
        self.state.borrow()
    }

    /// The jobs that ended, newest first (at most [`KEPT`]).
    pub(crate) fn ended(&self) -> Vec<Arc<Finished>> {
        self.ended
            .lock()
            .expect("not poisoned")
            .iter()
            .cloned()
            .collect()
    }

    /// The ended job numbered `id`, while the list keeps it.
    pub(crate) fn ended_job(&self, id: u64) -> Option<Arc<Finished>> {
        self.ended().into_iter().find(|finished| finished.id == id)
    }

    /// Follows the slot's changes.
    pub(crate) fn subscribe(&self) -> watch::Receiver<JobState> {
        self.state.subscribe()
    }

    /// Waits until no job runs (after `stop`, for the partial file to go).
    pub(crate) async fn settled(&self) {
        let mut receiver = self.state.subscribe();
        // The sender lives in `self`, so waiting cannot fail.
        let _ = receiver
            .wait_for(|state| !matches!(state, JobState::Running { .. }))
            .await;
    }
}

/// Folds a job's progress events into the slot, waking the event streams.
struct JobReporter(watch::Sender<JobState>);

impl Reporter for JobReporter {
    fn report(&self, event: Event) {
        self.0.send_if_modified(|state| match state {
            JobState::Running { progress, .. } => {
                progress.apply(event);
                true
            }
            _ => false,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use budgetguard::progress::Step;

    #[tokio::test]
    async fn a_second_job_is_refused_while_one_runs() {
        let jobs = Jobs::new(Cancel::new());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        jobs.start(JobKind::Package, |reporter, _| async move {
            reporter.report(Event::Started {
                step: Step::Export,
                total: Some(10),
            });
            released.await.ok();
            Outcome::Failed(Message::new("done"))
        })
        .unwrap();
        let busy = jobs
            .start(JobKind::Deploy, |_, _| async {
                Outcome::Failed(Message::new("second"))
            })
            .unwrap_err();
        assert_eq!(busy.0, JobKind::Package);
        release.send(()).unwrap();
        jobs.settled().await;
        assert!(matches!(
            &*jobs.subscribe().borrow(),
            JobState::Finished(finished) if matches!(&finished.outcome, Outcome::Failed(text) if text.text == "done")
        ));
        assert!(jobs
            .start(JobKind::Deploy, |_, _| async {
                Outcome::Failed(Message::new("third"))
            })
            .is_ok());
    }

    #[tokio::test]
    async fn cancel_and_stop_reach_the_job() {
        let stop = Cancel::new();
        let jobs = Jobs::new(stop.clone());
        assert!(!jobs.cancel(), "nothing runs yet");
        jobs.start(JobKind::Deploy, |_, cancel| async move {
            cancel.cancelled().await;
            Outcome::Cancelled("stopped".into())
        })
        .unwrap();
        assert!(jobs.cancel());
        jobs.settled().await;
        jobs.start(JobKind::Deploy, |_, cancel| async move {
            cancel.cancelled().await;
            Outcome::Cancelled("stopped".into())
        })
        .unwrap();
        stop.cancel();
        jobs.settled().await;
    }

    #[tokio::test]
    async fn the_last_ten_jobs_are_kept_newest_first() {
        let jobs = Jobs::new(Cancel::new());
        for n in 0..12 {
            jobs.start(JobKind::Verify, move |_, _| async move {
                Outcome::Failed(Message::new(format!("job {n}")))
            })
            .unwrap();
            jobs.settled().await;
            // The record is kept before the slot says the job ended.
            assert_eq!(jobs.ended()[0].id, n + 1);
        }
        let ended = jobs.ended();
        assert_eq!(ended.len(), KEPT);
        assert_eq!(ended.first().map(|f| f.id), Some(12));
        assert_eq!(ended.last().map(|f| f.id), Some(3));
        assert!(jobs.ended_job(12).is_some());
        assert!(jobs.ended_job(2).is_none());
    }
}
