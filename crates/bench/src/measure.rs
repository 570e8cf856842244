//! Measuring helpers: the engine's own `docker save` and `docker load`, a
//! free-space watcher for the output filesystem, and number formatting.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use testkit::engines::TestEngine;
use testkit::process::{run_measured, Measured};

/// Bytes in a MiB.
pub const MIB: u64 = 1 << 20;

/// How often [`DiskWatch`] samples.
const DISK_INTERVAL: Duration = Duration::from_millis(50);

/// Output beyond this size counts as "data arrived" for [`DiskPeak::first_data`]
/// (the package's reserved manifest space is written before any image data).
const FIRST_DATA: u64 = 4 * MIB;

/// Runs `command` to the end, measured ([`run_measured`]); fails naming
/// `what`, its exit status and its standard error unless it succeeded.
pub fn run_ok(command: &mut Command, what: &str) -> anyhow::Result<Measured> {
    let run = run_measured(command);
    ensure!(
        run.status.success(),
        "{what} failed ({}): {}",
        run.status,
        run.stderr.trim()
    );
    Ok(run)
}

/// One `docker save -o` run.
#[derive(Debug, Clone, Copy)]
pub struct SaveRun {
    /// Wall time.
    pub wall: Duration,
    /// Size of the tar it wrote.
    pub size: u64,
}

/// Runs `docker save -o <dir>/save.tar <references>` on `engine`, measures it
/// and deletes the tar.
pub fn docker_save(
    engine: &TestEngine,
    dir: &Path,
    references: &[String],
) -> anyhow::Result<SaveRun> {
    let tar = dir.join("save.tar");
    let run = docker_save_to(engine, &tar, references)?;
    std::fs::remove_file(&tar).with_context(|| format!("remove {}", tar.display()))?;
    Ok(run)
}

/// Runs `docker save -o <tar> <references>` on `engine` and measures it; the
/// tar stays.
pub fn docker_save_to(
    engine: &TestEngine,
    tar: &Path,
    references: &[String],
) -> anyhow::Result<SaveRun> {
    let mut command = engine.docker();
    command.arg("save").arg("-o").arg(tar).args(references);
    let run = run_ok(&mut command, "docker save")?;
    let size = std::fs::metadata(tar)
        .with_context(|| format!("docker save wrote no {}", tar.display()))?
        .len();
    Ok(SaveRun {
        wall: run.wall,
        size,
    })
}

/// Runs `docker load -i <tar>` on `engine` after [`settle`] and returns its
/// wall time.
pub fn docker_load(engine: &TestEngine, tar: &Path) -> anyhow::Result<Duration> {
    settle();
    let mut command = engine.docker();
    command.arg("load").arg("-i").arg(tar);
    let run = run_ok(&mut command, &format!("docker load -i {}", tar.display()))?;
    Ok(run.wall)
}

/// Removes the images `references` from `engine` (`docker rmi`); fails
/// when one of them, or one of their layers (`diff_ids`), is still there
/// afterwards: `docker load` would skip such a layer.
pub fn remove_images(
    engine: &TestEngine,
    references: &[String],
    diff_ids: &[String],
) -> anyhow::Result<()> {
    // Ignore the outcome (an image may be absent already): what counts is
    // whether any is left.
    let _ = engine.docker().arg("rmi").args(references).output();
    let left = present_images(engine, references);
    ensure!(
        left.is_empty(),
        "docker rmi left image(s) {} on {}",
        left.join(", "),
        engine.host
    );
    let layers = leftover_layers(engine, diff_ids).unwrap_or_default();
    ensure!(
        layers.is_empty(),
        "the engine at {} still stores {} of the {} layers of the removed images ({}), so `docker load` \
         and the install would skip them. Docker 26.1's classic store keeps the layers that a \
         multi-image `docker save` (or create-install-package) exported from several images \
         until the engine restarts: make the images on another engine with \
         BENCH_SOURCE_HOST=<its address>",
        engine.host,
        layers.len(),
        diff_ids.len(),
        layers.join(", ")
    );
    Ok(())
}

/// Which of the layers `diff_ids` the engine still stores, read from its data
/// folder (the classic store's layer database, whose entries name their diff
/// ID, and the containerd store's content blobs, named by digest: the
/// synthetic layers are uncompressed, so a blob's digest is its diff ID);
/// `None` when the data folder cannot be read (a remote engine, or not root).
pub fn leftover_layers(engine: &TestEngine, diff_ids: &[String]) -> Option<Vec<String>> {
    let info = engine.docker_ok(&["info", "--format", "{{.DockerRootDir}}\t{{.Driver}}"]);
    let (root, driver) = info.trim().split_once('\t')?;
    let root = Path::new(root);
    let content = "io.containerd.content.v1.content/blobs/sha256";
    let layerdb = root.join("image").join(driver).join("layerdb/sha256");
    let blob_dirs = [
        root.join("containerd/daemon").join(content),
        root.parent()
            .unwrap_or(root)
            .join("containerd")
            .join(content),
    ];
    let mut readable = false;
    let mut stored = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&layerdb) {
        readable = true;
        stored.extend(entries.filter_map(Result::ok).filter_map(|e| {
            std::fs::read_to_string(e.path().join("diff"))
                .ok()
                .map(|d| d.trim().to_owned())
        }));
    }
    for dir in &blob_dirs {
        if let Ok(entries) = std::fs::read_dir(dir) {
            readable = true;
            stored.extend(
                entries
                    .filter_map(Result::ok)
                    .map(|e| format!("sha256:{}", e.file_name().to_string_lossy())),
            );
        }
    }
    readable.then(|| {
        diff_ids
            .iter()
            .filter(|id| stored.contains(id))
            .map(|id| id.chars().take(19).collect())
            .collect()
    })
}

/// Which of `references` the engine has.
pub fn present_images(engine: &TestEngine, references: &[String]) -> Vec<String> {
    references
        .iter()
        .filter(|r| {
            engine
                .docker()
                .args(["image", "inspect", "--format", "{{.Id}}"])
                .arg(r)
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .cloned()
        .collect()
}

/// Flushes dirty pages to disk (`sync`), so that a timed run does not pay
/// for the writeback of what ran before it. With `BENCH_COLD=1` (root only)
/// it also drops the page cache, so every timed run starts cold, as an
/// export of freshly pulled images does.
pub fn settle() {
    let _ = std::process::Command::new("sync").status();
    if std::env::var("BENCH_COLD").is_ok_and(|v| v == "1") {
        let _ = std::fs::write("/proc/sys/vm/drop_caches", "3\n");
    }
}

/// [`settle`], then waits (at most [`IDLE_WAIT`]) until the machine's
/// CPUs were idle for [`IDLE_WINDOW`]: a run of under a second measured
/// right after a big install would otherwise share the machine with the
/// engine's own clean-up of it. The measurements it precedes, the tool's
/// and the engine's alike, then start on an idle machine.
pub fn settle_idle() {
    settle();
    let started = Instant::now();
    while started.elapsed() < IDLE_WAIT {
        let Some(busy) = busy_fraction(IDLE_WINDOW) else {
            return;
        };
        if busy < IDLE_BUSY {
            return;
        }
    }
}

/// How long [`settle_idle`] waits at most.
const IDLE_WAIT: Duration = Duration::from_secs(10);
/// The window whose CPU use [`settle_idle`] looks at.
const IDLE_WINDOW: Duration = Duration::from_millis(300);
/// The share of the CPUs' time in use below which the machine is idle.
const IDLE_BUSY: f64 = 0.1;

/// The share of all CPUs' time spent busy during `window` (from
/// `/proc/stat`), or `None` where it cannot be read.
fn busy_fraction(window: Duration) -> Option<f64> {
    fn sample() -> Option<(u64, u64)> {
        let stat = std::fs::read_to_string("/proc/stat").ok()?;
        let times: Vec<u64> = stat
            .lines()
            .next()?
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        // user nice system idle iowait irq softirq steal …: idle and
        // iowait are not busy.
        let idle = times.get(3)? + times.get(4).copied().unwrap_or(0);
        Some((times.iter().sum(), idle))
    }
    let (total_before, idle_before) = sample()?;
    std::thread::sleep(window);
    let (total, idle) = sample()?;
    let elapsed = total.checked_sub(total_before).filter(|&t| t > 0)?;
    Some(1.0 - idle.saturating_sub(idle_before) as f64 / elapsed as f64)
}

/// What a [`DiskWatch`] saw.
#[derive(Debug, Clone, Copy, Default)]
pub struct DiskPeak {
    /// The peak of (free at start − free now − size of the watched folder's
    /// files), in bytes: disk used on that filesystem beyond the output itself
    /// (by anyone: the engine's own temporary files count too).
    pub beyond_output: i64,
    /// When the folder's files first held more than a few MiB.
    pub first_data: Option<Duration>,
}

/// Samples, every 50 ms on a thread, the free space of a folder's filesystem
/// and the size of the folder's files. Stops when dropped.
#[derive(Debug)]
pub struct DiskWatch {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<DiskPeak>>,
}

impl DiskWatch {
    /// Starts watching `dir`.
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        let free_at_start = available(dir)?;
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let stop = stop.clone();
            let dir: PathBuf = dir.to_owned();
            std::thread::spawn(move || watch(&dir, free_at_start, &stop))
        };
        Ok(Self {
            stop,
            thread: Some(thread),
        })
    }

    /// Stops watching and returns what was seen.
    pub fn stop(mut self) -> DiskPeak {
        self.stop.store(true, Ordering::Relaxed);
        self.thread
            .take()
            .and_then(|thread| thread.join().ok())
            .unwrap_or_default()
    }
}

impl Drop for DiskWatch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn watch(dir: &Path, free_at_start: u64, stop: &AtomicBool) -> DiskPeak {
    let started = Instant::now();
    let mut peak = DiskPeak {
        beyond_output: i64::MIN,
        first_data: None,
    };
    loop {
        // Read the last sample even when asked to stop, so there is always one.
        let stopping = stop.load(Ordering::Relaxed);
        let files = folder_bytes(dir);
        if let Ok(free) = available(dir) {
            let beyond = free_at_start as i64 - free as i64 - files as i64;
            peak.beyond_output = peak.beyond_output.max(beyond);
        }
        if peak.first_data.is_none() && files > FIRST_DATA {
            peak.first_data = Some(started.elapsed());
        }
        if stopping {
            break peak;
        }
        std::thread::sleep(DISK_INTERVAL);
    }
}

fn available(dir: &Path) -> anyhow::Result<u64> {
    fs4::available_space(dir).with_context(|| format!("free space of {}", dir.display()))
}

/// The total size of the regular files directly in `dir`.
fn folder_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter_map(|e| e.metadata().ok())
                .filter(std::fs::Metadata::is_file)
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// `bytes` in decimal gigabytes, e.g. `1.26 GB`.
pub fn gb(bytes: u64) -> String {
    format!("{:.2} GB", bytes as f64 / 1e9)
}

/// `bytes` in MiB as a number.
pub fn mib(bytes: i64) -> f64 {
    bytes as f64 / MIB as f64
}

/// The median of `times` (seconds).
pub fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// The median of `times`, in seconds.
pub fn median_of(times: &[Duration]) -> f64 {
    median(times.iter().map(Duration::as_secs_f64).collect())
}

/// `times` as `4.12 s, 3.90 s, …`.
pub fn runs(times: &[Duration]) -> String {
    times
        .iter()
        .map(|t| format!("{:.2} s", t.as_secs_f64()))
        .collect::<Vec<_>>()
        .join(", ")
}
