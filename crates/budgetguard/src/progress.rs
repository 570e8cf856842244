//! Progress events of long work, and the one interface that receives them.
//!
//! The library reports; the faces decide how to show it: the CLI draws
//! progress bars or prints plain lines, the GUI pushes the same events to the
//! browser.

use std::sync::Arc;

use serde::Serialize;

/// A stage of long work.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
pub enum Step {
    /// Pulling an image from its registry.
    Pull(String),
    /// Exporting the images from the engine into the package.
    Export,
    /// Copying the images' blobs from their registries into the package,
    /// with no engine involved (several blobs in flight: one step for all).
    FromRegistry,
    /// Checking a package's entries against its manifest.
    Verify,
    /// Streaming the images into the engine.
    Load,
    /// Filling a model cache on the TechOps machine (its name).
    FillModels(String),
    /// Streaming model files into the package.
    PackModels,
    /// Writing a package's model files on the workstation.
    PlaceModels,
    /// Writing an existing package into parts.
    Split,
    /// Checking each part of a split package against its part list.
    CheckParts,
    /// Copying a package's files to another folder (a USB stick).
    Copy,
    /// Sending a package's blobs to a registry.
    Publish,
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Step::Pull(image) => write!(f, "Pulling {image}"),
            Step::Export => f.write_str("Exporting images"),
            Step::FromRegistry => f.write_str("Downloading images"),
            Step::Verify => f.write_str("Verifying package"),
            Step::Load => f.write_str("Loading images"),
            Step::FillModels(cache) => write!(f, "Downloading models ({cache})"),
            Step::PackModels => f.write_str("Packaging models"),
            Step::PlaceModels => f.write_str("Writing models"),
            Step::Split => f.write_str("Splitting package"),
            Step::CheckParts => f.write_str("Checking parts"),
            Step::Copy => f.write_str("Copying package"),
            Step::Publish => f.write_str("Publishing package"),
        }
    }
}

/// What happened, as the faces need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A step began; `total` is its size in bytes when known (an estimate
    /// for an export).
    Started {
        /// The step.
        step: Step,
        /// Its size in bytes, when known.
        total: Option<u64>,
    },
    /// Bytes done so far in a step.
    Advanced {
        /// The step.
        step: Step,
        /// Bytes done since it started.
        done: u64,
    },
    /// A step ended successfully.
    Finished {
        /// The step.
        step: Step,
    },
    /// A short message worth showing that does not stop the work.
    Note {
        /// The message.
        message: String,
    },
    /// Something the user should act on that does not stop the work.
    Warning {
        /// What it is.
        warning: Warning,
    },
}

/// Something to act on that does not stop the work. Its text states it;
/// each face adds what to do with its own controls, from
/// [`crate::remedy::remedies`], as for an error.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "warning", rename_all = "snake_case")]
pub enum Warning {
    /// The package is not signed, and as no key is trusted here it installs.
    #[error("the package is not signed; it installs because this workstation trusts no key yet")]
    Unsigned,
    /// The package is signed by a key this workstation does not trust, and
    /// as no key is trusted here it installs.
    #[error("the package is signed by key {key_id}, which this workstation does not trust yet; it installs because no key is trusted here")]
    UntrustedSigner {
        /// The signer's key id.
        key_id: String,
    },
    /// No profile of a packaged model cache fits this workstation's GPUs.
    #[error(
        "the models for `{cache}` hold profiles for {} only, and this workstation has {}: the node will not start serving; ask TechOps for a package with a profile for this GPU",
        profile_gpus.join(", "),
        gpus.join(", ")
    )]
    NoProfileForGpu {
        /// The model cache.
        cache: String,
        /// The GPUs its profiles are built for.
        profile_gpus: Vec<String>,
        /// This workstation's GPUs.
        gpus: Vec<String>,
    },
    /// An image is built for another platform than the package's.
    #[error(
        "`{image}` is an image for {found}, not {wanted}: it will not run on the workstations"
    )]
    OtherPlatform {
        /// The image reference.
        image: String,
        /// Its platform (`linux/arm64`).
        found: String,
        /// The package's platform (`linux/amd64`).
        wanted: String,
    },
    /// Whether a packaged model cache fits this workstation's GPUs could not
    /// be checked.
    #[error("could not check that the models for `{cache}` fit this workstation's GPU: {reason}")]
    GpuUnchecked {
        /// The model cache.
        cache: String,
        /// Why.
        reason: String,
    },
    /// GPU nodes are installed without starting, and a GPU container does
    /// not run here yet: they will not start until it does.
    #[error("{problem}; the nodes are installed, but will not start until then")]
    GpuNotReady {
        /// The problem a start would have.
        problem: crate::install::Problem,
    },
    /// A node's package asks to publish it beyond loopback, where anyone
    /// who reaches the address could use it (a NIM asks for no login): it
    /// listens on 127.0.0.1, as the workstation's user did not choose
    /// otherwise.
    #[error("node `{node}`'s package asks to listen on {asked}, where other machines could use it with no login; it listens on 127.0.0.1 only, since publishing it on the network is this workstation's choice")]
    KeptOnLoopback {
        /// The node.
        node: String,
        /// The address its package asked for.
        asked: std::net::IpAddr,
    },
    /// The tool runs as neither root nor the containers' user, so the
    /// model caches it writes belong to this user.
    #[error("the model caches will belong to user {uid}, not to user 1000 that NIM containers run as: the nodes can read their models but not write into their caches; install as root (sudo) to give the caches to user 1000")]
    CacheOwner {
        /// The user the tool runs as.
        uid: u32,
    },
}

/// Receives progress events; implementations must be cheap, they are called
/// from the streaming loops (at most a few times per megabyte).
pub trait Reporter: Send + Sync {
    /// Handles one event.
    fn report(&self, event: Event);
}

/// A reporter that ignores everything.
#[derive(Debug, Default, Clone, Copy)]
pub struct Silent;

impl Reporter for Silent {
    fn report(&self, _event: Event) {}
}

/// A shared reporter, as long work hands it to its worker threads.
pub type SharedReporter = Arc<dyn Reporter>;

/// Reports `Advanced` for one step at most every
/// [`budgetguard_base::throttle::INTERVAL`] bytes.
pub(crate) struct Throttle {
    step: Step,
    bytes: budgetguard_base::throttle::Throttle,
}

impl Throttle {
    /// Starts counting for `step`.
    pub(crate) fn new(step: Step) -> Self {
        Self {
            step,
            bytes: Default::default(),
        }
    }

    /// Adds `bytes` and reports when enough have gathered.
    pub(crate) fn add(&mut self, bytes: u64, reporter: &dyn Reporter) {
        if let Some(done) = self.bytes.add(bytes) {
            reporter.report(Event::Advanced {
                step: self.step.clone(),
                done,
            });
        }
    }

    /// Bytes counted so far.
    pub(crate) fn done(&self) -> u64 {
        self.bytes.done()
    }
}

/// A reader that counts its bytes into a [`Throttle`] and fails once
/// `cancel` is set.
pub(crate) struct Counted<'a, R> {
    /// What is read.
    pub inner: R,
    /// Where the bytes are counted.
    pub progress: &'a mut Throttle,
    /// Who hears of the progress.
    pub reporter: &'a dyn Reporter,
    /// Stops the reading.
    pub cancel: &'a crate::Cancel,
}

impl<R: std::io::Read> std::io::Read for Counted<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.cancel.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let n = self.inner.read(buf)?;
        self.progress.add(n as u64, self.reporter);
        Ok(n)
    }
}
