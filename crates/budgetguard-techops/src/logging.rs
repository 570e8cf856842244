//! Logs for support: the library's and this tool's `tracing` events go to a
//! log file in the tool's data folder (`<data dir>/logs/`, e.g.
//! `~/.local/share/budgetguard-techops/logs/budgetguard-techops.2026-12-01.log`),
//! a new file each day, the 14 newest kept, always; and to stderr with `-v`
//! (debug) or `-vv` (trace). A failed install on a workstation can then be
//! sent to TechOps as that folder.
//!
//! Secrets never reach a log: the command line takes none (credentials come
//! from a prompt, stdin or the environment, which are not logged), the
//! library logs which kind of login it uses, never its value, and the
//! `Debug` of credentials is redacted. Other crates log warnings only.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use tracing::Level;
use tracing_appender::rolling::{RollingFileAppender, Rotation};
use tracing_subscriber::filter::Targets;
use tracing_subscriber::prelude::*;

/// How many daily files are kept.
const KEPT_FILES: usize = 14;

/// The crates whose events are ours.
const OURS: [&str; 3] = ["budgetguard", "budgetguard_techops", "budgetguard_gui"];

/// The log folder: `logs` in the tool's data folder.
pub fn dir() -> Option<PathBuf> {
    budgetguard::paths::data_dir().map(|d| d.join("logs"))
}

/// Starts logging to the file (unless its folder cannot be made: the
/// command runs anyway) and, with `verbose` > 0, to stderr.
pub fn init(verbose: u8, quiet: bool) {
    let file = dir().and_then(|dir| file_layer(&dir));
    let stderr = (verbose > 0 && !quiet).then(|| {
        let color = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
        let level = if verbose > 1 {
            Level::TRACE
        } else {
            Level::DEBUG
        };
        // What the printer and the reporter show already is not shown twice.
        let targets = ours(level)
            .with_target(
                "budgetguard_techops::printer",
                tracing::level_filters::LevelFilter::OFF,
            )
            .with_target(
                "budgetguard_techops::reporter",
                tracing::level_filters::LevelFilter::OFF,
            );
        tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_ansi(color)
            .without_time()
            .with_filter(targets)
    });
    let _ = tracing_subscriber::registry()
        .with(file)
        .with(stderr)
        .try_init();
}

/// Our crates at `level`, the others' warnings.
fn ours(level: Level) -> Targets {
    OURS.iter()
        .fold(Targets::new().with_default(Level::WARN), |targets, name| {
            targets.with_target(*name, level)
        })
}

fn file_layer<S>(dir: &Path) -> Option<impl tracing_subscriber::Layer<S>>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    make_private_dir(dir).ok()?;
    let appender = RollingFileAppender::builder()
        .rotation(Rotation::DAILY)
        .filename_prefix("budgetguard-techops")
        .filename_suffix("log")
        .max_log_files(KEPT_FILES)
        .build(dir)
        .ok()?;
    Some(
        tracing_subscriber::fmt::layer()
            .with_writer(appender)
            .with_ansi(false)
            .with_filter(ours(Level::DEBUG)),
    )
}

/// The log folder, readable by the user only (logs name paths and hosts);
/// the folders above it are made as any other.
fn make_private_dir(dir: &Path) -> std::io::Result<()> {
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    match builder.create(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        other => other,
    }
}
