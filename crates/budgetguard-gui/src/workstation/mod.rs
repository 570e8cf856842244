//! This workstation, as "Deploy on this workstation" and "Installed nodes"
//! see it: the GUI's one seam to `budgetguard::install`. Every call connects
//! to the engine anew, so the pages always show the engine's present state.

mod availability;
mod capabilities;
mod copy;
mod create;
mod estimate;
mod inspect;
mod models;
mod publish;
mod signing;
mod try_it;
mod unavailable;

pub(crate) use capabilities::{Capabilities, EngineSummary};
pub(crate) use copy::copy_package;
pub(crate) use create::{engine_needed, Draft};
pub(crate) use estimate::{
    image_info, image_size, list_packages, typical_text, Estimate, ImageBytes, PackageFile,
};
pub(crate) use inspect::{install_space, Inspection, NodeModel};
pub(crate) use models::{fit_view, parse_profiles, FitView, ModelFacts};
pub(crate) use signing::{key_note, make_key_pair, matching_public_key, open_key, Password};
pub(crate) use unavailable::Unavailable;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use budgetguard::catalog::Node;
use budgetguard::engine::Engine;
use budgetguard::error_text;
use budgetguard::install::{
    self, DeployOptions, InstallDir, InstallError, InstallOptions, InstalledNode, Listen,
    NodeStatus,
};
use budgetguard::models::ModelStore;
use budgetguard::package::http::HttpOptions;
use budgetguard::package::{self, CreateOptions, ModelOptions, Package, PackageError};
use budgetguard::progress::{SharedReporter, Silent};
use budgetguard::session::Session;
use budgetguard::signing::TrustedKey;
use budgetguard::Cancel;

use crate::jobs::Outcome;
use crate::messages::{install_error, package_error, problem, signing_error, Field, Message};
use crate::paths::Given;

/// How many lines of a container's log the Installed page shows.
pub(crate) const LOG_LINES: usize = 200;

/// How long a node started from the GUI may take to answer ready (a NIM
/// downloads its model on first start).
const READY_WAIT: Duration = Duration::from_secs(30 * 60);

/// The engine and install folder the GUI deploys to.
#[derive(Debug)]
pub(crate) struct Workstation {
    /// The engine, install folder, credentials, logins and model store.
    session: std::sync::RwLock<Session>,
    /// What the GUI last did to installed nodes, by name.
    activities: Mutex<BTreeMap<String, Activity>>,
    /// The size of images read from their registries, last asked for.
    registry_sizes: create::RegistrySizes,
    /// Whether images can be pulled, as their registries last answered.
    asked: availability::Asked,
    /// The engine's answers the last Nodes page was rendered with.
    rendered: availability::Rendered,
}

/// What the GUI last did to an installed node, when the page should say so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Activity {
    /// A start or restart runs: it waits until the node is ready.
    Starting,
    /// A start or stop failed, in these words.
    Failed(Message),
}

/// What the Installed page shows: the nodes, or why they cannot be listed.
pub(crate) type Installed = Result<Vec<InstalledView>, Unavailable>;

/// One installed node and what the GUI last did to it.
#[derive(Debug, Clone)]
pub(crate) struct InstalledView {
    /// What the library reports.
    pub status: NodeStatus,
    /// A start running, or the last failure.
    pub activity: Option<Activity>,
}

impl Workstation {
    /// The model caches Create packages for `nodes`, as the form says
    /// (`models`: package them; `profiles`: the profiles field as typed):
    /// filled in the tool's own store, with the credentials stored here or
    /// in the environment. A profile naming a cache no node uses is refused
    /// at its field; without models, the profiles field does not count.
    pub(crate) fn model_options(
        &self,
        nodes: &[Node],
        models: bool,
        profiles: &str,
    ) -> Result<ModelOptions, Message> {
        let profiles = if models {
            parse_profiles(profiles, nodes)?
        } else {
            Vec::new()
        };
        Ok(ModelOptions {
            skip: !models,
            profiles,
            store: self.model_store(),
            secrets: self.session().credentials(),
            ..Default::default()
        })
    }

    /// Where Create keeps the model caches it fills, if this machine has a
    /// data folder.
    pub(crate) fn model_store(&self) -> Option<ModelStore> {
        self.session().model_store().cloned()
    }

    /// The workstation `session` opens.
    pub(crate) fn new(session: Session) -> Self {
        Self {
            session: std::sync::RwLock::new(session),
            activities: Mutex::default(),
            registry_sizes: create::RegistrySizes::default(),
            asked: availability::Asked::default(),
            rendered: availability::Rendered::default(),
        }
    }

    /// The session as it stands (the install folder may change).
    pub(super) fn session(&self) -> Session {
        self.session.read().expect("not poisoned").clone()
    }

    /// Installs into `dir` from now on (the Install page's setting).
    pub(crate) fn set_install_dir(&self, dir: PathBuf) {
        let mut session = self.session.write().expect("not poisoned");
        let mut settings = session.settings().clone();
        settings.install_dir = Some(dir);
        *session = Session::new(settings);
    }

    /// The engine this workstation uses (packages are made from it too).
    pub(crate) async fn engine(&self) -> Result<Engine, Unavailable> {
        Ok(self.session().engine().await?)
    }

    /// What this machine can run now.
    pub(crate) async fn capabilities(&self) -> Capabilities {
        self.capabilities_with(&self.engine().await).await
    }

    /// What this machine can run, given the engine already connected (or
    /// why it is not).
    pub(crate) async fn capabilities_with(
        &self,
        engine: &Result<Engine, Unavailable>,
    ) -> Capabilities {
        let engine = match engine {
            Ok(engine) => match engine.facts().await {
                Ok(facts) => Ok(EngineSummary {
                    version: engine.version().to_owned(),
                    nvidia_runtime: facts.nvidia_runtime,
                }),
                Err(e) => Err(e.into()),
            },
            Err(e) => Err(e.clone()),
        };
        Capabilities::new(engine, self.dir().map(drop))
    }

    /// The install folder, or why there is none.
    pub(crate) fn dir(&self) -> Result<InstallDir, Unavailable> {
        Ok(self.session().install_dir()?)
    }

    /// Makes a package, as `create-install-package` does: from this
    /// machine's engine, or from the registries with no engine when the
    /// options need none.
    pub(crate) async fn create_package(
        &self,
        options: CreateOptions,
        public_key: Option<PathBuf>,
        reporter: SharedReporter,
        cancel: Cancel,
    ) -> Outcome {
        let engine = if options.needs_engine() {
            let engine = tokio::select! {
                engine = self.engine() => engine,
                _ = cancel.cancelled() => return cancelled(&package_error(&PackageError::Cancelled)),
            };
            match engine {
                Ok(engine) => Some(engine),
                Err(down) => return Outcome::Failed(engine_needed(&options, &down)),
            }
        } else {
            None
        };
        match package::create_package(engine.as_ref(), &options, reporter, &cancel).await {
            Ok(report) => Outcome::Created(Box::new(report), public_key),
            Err(e @ PackageError::Cancelled) => cancelled(&package_error(&e)),
            Err(e) => Outcome::Failed(package_error(&e)),
        }
    }

    /// Deploys `nodes` here, as `deploy-local` does (`start`: and waits
    /// until they are ready).
    pub(crate) async fn deploy(
        &self,
        nodes: Vec<Node>,
        start: bool,
        reporter: SharedReporter,
        cancel: Cancel,
    ) -> Outcome {
        let deployed = async {
            let engine = self.engine().await?;
            let options = DeployOptions {
                listen: None,
                nodes,
                dir: self.dir()?,
                start,
                wait: READY_WAIT,
                pull: true,
                auth: self.session().auth(),
            };
            install::deploy_local(&engine, &options, reporter, &cancel)
                .await
                .map_err(|e| install_error(&e))
        };
        match deployed.await {
            Ok(report) => Outcome::Deployed(report),
            Err(message) if cancel.is_cancelled() => cancelled(&message),
            Err(message) => Outcome::Failed(message),
        }
    }

    /// Installs the package `given`, as `install-package` does (an
    /// address read as `http` says; `start`: `None` as the package says;
    /// `publish`: on the network, as the user consented, else on
    /// 127.0.0.1).
    pub(crate) async fn install(
        &self,
        (given, http): (Given, HttpOptions),
        (start, publish): (Option<bool>, bool),
        reporter: SharedReporter,
        cancel: Cancel,
    ) -> Outcome {
        let installed = async {
            let engine = self.engine().await?;
            let options = InstallOptions {
                package: given.path(),
                parts: Vec::new(),
                dir: self.dir()?,
                start,
                wait: READY_WAIT,
                listen: if publish {
                    Listen::Network
                } else {
                    Listen::Loopback
                },
            };
            install::install_package_with(&engine, &options, &http, reporter, &cancel)
                .await
                .map_err(|e| match e {
                    InstallError::Cancelled => {
                        Message::new("Cancelled: install the package again to complete it.")
                    }
                    e => install_error(&e),
                })
        };
        match installed.await {
            Ok(report) => Outcome::Installed(Box::new(report)),
            Err(message) if cancel.is_cancelled() => cancelled(&message),
            Err(message) => Outcome::Failed(message),
        }
    }

    /// Reads every entry of the package at `path` and checks it against
    /// its manifest, as `verify-package` does.
    /// Cancel ends the job at once, whatever the reading waits on.
    pub(crate) async fn verify(path: PathBuf, reporter: SharedReporter, cancel: Cancel) -> Outcome {
        let reading = {
            let cancel = cancel.clone();
            tokio::task::spawn_blocking(move || Package::open(&path)?.verify(&*reporter, &cancel))
        };
        let verified = tokio::select! {
            done = reading => done.expect("verifying does not panic"),
            () = cancel.cancelled() => Err(PackageError::Cancelled),
        };
        match verified {
            Ok(report) => Outcome::Verified(report),
            Err(PackageError::Cancelled) => {
                Outcome::Cancelled("Cancelled: the package was not fully checked.".to_owned())
            }
            Err(e) => Outcome::Failed(package_error(&e)),
        }
    }

    /// Uninstalls the installed node `name` (`purge_cache`: its model
    /// cache too).
    pub(crate) async fn uninstall(
        &self,
        name: String,
        purge_cache: bool,
        reporter: SharedReporter,
        cancel: Cancel,
    ) -> Outcome {
        let removed = async {
            let (engine, node) = self.resolve(&name).await?;
            let dir = self.dir()?;
            install::uninstall(
                &engine,
                &dir,
                std::slice::from_ref(&node),
                purge_cache,
                &*reporter,
                &cancel,
            )
            .await
            .map_err(|e| match e {
                InstallError::Cancelled => {
                    Message::new("Cancelled: uninstall the node again to complete it.")
                }
                e => install_error(&e),
            })?;
            self.set_activity(&node.name, None);
            Ok::<_, Message>(node.name)
        };
        match removed.await {
            Ok(name) => Outcome::Uninstalled(vec![name], purge_cache),
            Err(message) if cancel.is_cancelled() => cancelled(&message),
            Err(message) => Outcome::Failed(message),
        }
    }

    /// The run in the install folder that did not finish (killed, or still
    /// running elsewhere), and what the next one does about it.
    pub(crate) fn unfinished_run(&self) -> Option<String> {
        let run = self.dir().ok()?.unfinished_run().ok()??;
        let text = run.to_string();
        let mut chars = text.chars();
        let first = chars.next()?.to_uppercase();
        Some(format!("{first}{}.", chars.as_str()))
    }

    /// The installed nodes with their state and health, on `engine`.
    pub(crate) async fn installed(&self, engine: Result<Engine, Unavailable>) -> Installed {
        let engine = engine?;
        let statuses = install::status(&engine, &self.dir()?, false).await?;
        let activities = self.activities.lock().expect("not poisoned");
        Ok(statuses
            .into_iter()
            .map(|status| InstalledView {
                activity: activities.get(&status.name).cloned(),
                status,
            })
            .collect())
    }

    /// Starts the installed node `name` in the background (`restart`: stops
    /// it first), once the start-time checks pass; the Installed page shows
    /// it starting, then its state, or why it did not become ready.
    pub(crate) async fn start(
        self: &Arc<Self>,
        name: &str,
        restart: bool,
        stop: &Cancel,
    ) -> Result<(), Message> {
        let (engine, node) = self.resolve(name).await?;
        let dir = self.dir()?;
        let problems = install::start_problems(
            &engine,
            &dir,
            std::slice::from_ref(&node.node),
            &Silent,
            stop,
        )
        .await
        .map_err(|e| install_error(&e))?;
        if !problems.is_empty() {
            return Err(Message {
                text: format!("“{}” was not started:", node.name),
                lines: problems.iter().map(problem).collect(),
                field: None,
            });
        }
        let name = node.name.clone();
        self.set_activity(&name, Some(Activity::Starting));
        if restart {
            let stopped = install::stop(&engine, std::slice::from_ref(&node), &Silent)
                .await
                .map_err(|e| install_error(&e));
            if let Err(message) = stopped {
                self.set_activity(&name, Some(Activity::Failed(message.clone())));
                return Err(message);
            }
        }
        let this = Arc::clone(self);
        let cancel = stop.child_token();
        tokio::spawn(async move {
            let nodes = std::slice::from_ref(&node);
            let started =
                install::start_checked(&engine, nodes, READY_WAIT, &Silent, &cancel).await;
            let failure = started.err().map(|e| Activity::Failed(install_error(&e)));
            this.set_activity(&name, failure);
        });
        Ok(())
    }

    /// Whether a start or restart of the installed node `name` runs.
    pub(crate) fn starting(&self, name: &str) -> bool {
        let activities = self.activities.lock().expect("not poisoned");
        activities.iter().any(|(node, activity)| {
            node.eq_ignore_ascii_case(name.trim()) && *activity == Activity::Starting
        })
    }

    /// Stops the installed node `name` (its container stays).
    pub(crate) async fn stop(&self, name: &str) -> Result<(), Message> {
        let (engine, node) = self.resolve(name).await?;
        let stopped = install::stop(&engine, std::slice::from_ref(&node), &Silent)
            .await
            .map_err(|e| install_error(&e));
        let failure = stopped.as_ref().err().cloned().map(Activity::Failed);
        self.set_activity(&node.name, failure);
        stopped
    }

    /// The last lines of the installed node `name`'s container log.
    pub(crate) async fn logs(&self, name: &str) -> Result<NodeLog, Message> {
        let (engine, node) = self.resolve(name).await?;
        let lines = engine
            .logs(&node.container, LOG_LINES)
            .await
            .map_err(|e| Message::new(error_text(&e)))?;
        Ok(NodeLog {
            node: node.name,
            container: node.container,
            lines,
        })
    }

    /// The keys this workstation trusts (their ids), or why they cannot be
    /// read.
    pub(crate) fn trusted_keys(&self) -> Result<Vec<String>, Message> {
        let store = self.session().trust_store().map_err(Unavailable::from)?;
        store
            .keys()
            .map(|keys| keys.iter().map(TrustedKey::id).collect())
            .map_err(|e| signing_error(&e, Field::TrustKey))
    }

    /// Trusts the public key in the file `path` (a `.pub` file); its id.
    pub(crate) fn trust(&self, path: &std::path::Path) -> Result<String, Message> {
        let store = self.session().trust_store().map_err(Unavailable::from)?;
        let key = TrustedKey::read(path).map_err(|e| signing_error(&e, Field::TrustKey))?;
        store
            .add(&key)
            .map_err(|e| signing_error(&e, Field::TrustKey))?;
        Ok(key.id())
    }

    /// Stops trusting the key `id`.
    pub(crate) fn distrust(&self, id: &str) -> Result<(), Message> {
        let store = self.session().trust_store().map_err(Unavailable::from)?;
        let removed = store
            .remove(id.trim())
            .map_err(|e| signing_error(&e, Field::TrustKey))?;
        if !removed {
            return Err(Message::new(format!(
                "Key {} is not trusted here: nothing to remove.",
                id.trim()
            )));
        }
        Ok(())
    }

    /// The engine and the installed node `name`.
    async fn resolve(&self, name: &str) -> Result<(Engine, InstalledNode), Message> {
        let node = self.dir()?.installed(name).map_err(|e| install_error(&e))?;
        Ok((self.engine().await?, node))
    }

    /// Records what the page should say about the node `name`.
    fn set_activity(&self, name: &str, activity: Option<Activity>) {
        let mut activities = self.activities.lock().expect("not poisoned");
        match activity {
            Some(activity) => activities.insert(name.to_owned(), activity),
            None => activities.remove(name),
        };
    }
}

/// A container's last log lines.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct NodeLog {
    /// The node.
    pub node: String,
    /// Its container.
    pub container: String,
    /// The lines, oldest first; `None` when the container does not exist.
    pub lines: Option<Vec<String>>,
}

/// A cancelled job's outcome, in the words of `message`.
fn cancelled(message: &Message) -> Outcome {
    Outcome::Cancelled(message.text.clone())
}
