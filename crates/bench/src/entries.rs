//! `entries`: `budgetguard-techops inspect-package` of a package of 100 000
//! one-byte entries (`BENCH_ENTRIES`) against Python's `zipfile` listing the
//! same file. Target: opened in under 2 s; a reader that checks every entry
//! against the others in turn would take minutes.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context};
use testkit::process::run_measured;

use crate::measure::run_ok;
use crate::setup::{target, tool_path};

/// The slowest opening allowed.
const TARGET: Duration = Duration::from_secs(2);
/// Runs of each reader; the shortest counts.
const ROUNDS: usize = 3;

/// Runs the benchmark; `Ok(false)` when the target is missed.
pub fn run() -> anyhow::Result<bool> {
    let count: usize = std::env::var("BENCH_ENTRIES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().context("a temp folder")?;
    let package = dir.path().join("many.zip");
    eprintln!("bench: writing a package of {count} entries");
    write_package(&package, count)?;

    let mut ours = Command::new(tool_path()?);
    ours.args(["inspect-package", "--json", "--package"])
        .arg(&package);
    let mut python = Command::new("python3");
    python
        .args([
            "-c",
            "import sys, zipfile; print(len(zipfile.ZipFile(sys.argv[1]).infolist()))",
        ])
        .arg(&package);
    let (mut ours_best, mut python_best) = (Duration::MAX, Duration::MAX);
    for round in 1..=ROUNDS {
        eprintln!("bench: inspect-package and Python's zipfile ({round}/{ROUNDS})");
        let run = run_ok(&mut ours, "inspect-package")?;
        ours_best = ours_best.min(run.wall);
        let run = run_measured(&mut python);
        ensure!(
            run.status.success() && run.stdout.trim() == (count + 1).to_string(),
            "Python's zipfile failed: {}{}",
            run.stdout.trim(),
            run.stderr.trim()
        );
        python_best = python_best.min(run.wall);
    }
    let ok = ours_best < TARGET;
    println!("entries: {count} one-byte entries");
    println!(
        "  inspect-package: {:.2}s{}",
        ours_best.as_secs_f64(),
        target("< 2 s", ok)
    );
    println!(
        "  Python zipfile:  {:.2}s; ratio {:.2}",
        python_best.as_secs_f64(),
        ours_best.as_secs_f64() / python_best.as_secs_f64()
    );
    Ok(ok)
}

/// Writes a package of `count` one-byte entries and a manifest that lists
/// them, with Python's `zipfile` (a writer of another project's).
fn write_package(path: &Path, count: usize) -> anyhow::Result<()> {
    run_ok(
        Command::new("python3")
            .args(["-c", WRITE_PACKAGE, &count.to_string()])
            .arg(path),
        "writing the package with Python",
    )?;
    Ok(())
}

/// `python3 -c WRITE_PACKAGE <count> <path>`: the package, manifest first.
const WRITE_PACKAGE: &str = r#"
import hashlib, json, sys, zipfile
count, path = int(sys.argv[1]), sys.argv[2]
data = [bytes([i % 256]) for i in range(count)]
names = [f"d/{i:06}" for i in range(count)]
manifest = {
    "format": "budgetguard-install-package", "format_version": 1,
    "tool_version": "0.1.0", "created": "2026-11-27T12:00:00Z",
    "source_engine": "bench", "compression": "none", "nodes": [], "images": [],
    "entries": [{"name": n, "size": 1, "sha256": hashlib.sha256(d).hexdigest()}
                for n, d in zip(names, data)],
}
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as package:
    package.writestr("budgetguard-package.json", json.dumps(manifest))
    for name, one in zip(names, data):
        package.writestr(name, one)
"#;
