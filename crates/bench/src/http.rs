//! `http`: `install-package --package http://…` from Debian's nginx on
//! loopback against the same install from the local file (medians of
//! alternated runs; target 1.05), then an update from a full package over
//! HTTP: the bytes nginx sent (`$bytes_sent`, heads included) against the
//! bytes the workstation lacked (target 1.01), and what both mean for a
//! fleet of 500 workstations.

use std::ffi::OsStr;
use std::path::Path;

use testkit::images::{self, ImageGuard, ImageSpec, Layer};
use testkit::nginx::Nginx;

use crate::measure::median;
use crate::measure::{gb, remove_images, MIB};
use crate::setup::{run_salt, target, ModelNode, Setup};

/// The slowest install over HTTP allowed, as a multiple of the same from
/// the file.
const TARGET_RATIO: f64 = 1.05;
/// The most an update may download, as a multiple of what is missing.
const TARGET_BYTES: f64 = 1.01;
/// Runs of each kind, alternated.
const RUNS: usize = 3;
/// The fleet the arithmetic is for.
const FLEET: u64 = 500;

/// Runs the benchmark; `Ok(false)` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare_with(300)?;
    let engine = &setup.engine;
    let dir = setup.dir().to_owned();
    let made = setup.load_images();
    let references = made.references().to_vec();
    let layers = setup.diff_ids()?;
    let _images = ImageGuard::new(engine, references.clone());
    let catalog = setup.write_catalog()?;
    let served = dir.join("served");
    std::fs::create_dir_all(&served)?;
    let package = served.join("bench.zip");
    let created = setup.create_package(&catalog, "none", &package)?;
    drop(made);
    let nginx = Nginx::serve(&served);
    let url = nginx.url("bench.zip");
    let jobs: Vec<String> = match std::env::var("BENCH_HTTP_JOBS") {
        Ok(n) => vec![format!("--jobs={}", n.trim())],
        Err(_) => Vec::new(),
    };

    let before = nginx.bytes_sent();
    let times = against_file(&setup, (&package, &layers), (url.as_ref(), &jobs), "nginx")?;
    // Every install over HTTP downloads the whole package alike.
    let full_bytes = (nginx.bytes_sent() - before) / RUNS as u64;
    let (file, http) = (median(times[0].clone()), median(times[1].clone()));
    let ratio = http / file;

    let update = update_bytes(&setup, &dir)?;
    let bytes_ratio = update.served as f64 / update.missing as f64;
    let ok = [ratio <= TARGET_RATIO, bytes_ratio <= TARGET_BYTES];

    setup.print_engine();
    let runs = |times: &[f64]| {
        let text: Vec<String> = times.iter().map(|t| format!("{t:.2}")).collect();
        text.join(", ")
    };
    println!(
        "install of a {} package: over HTTP {http:.2} s ({}) against {file:.2} s from the file ({}), ratio {ratio:.3}{}",
        gb(created.size),
        runs(&times[1]),
        runs(&times[0]),
        target(&format!("<= {TARGET_RATIO}"), ok[0])
    );
    println!(
        "update from a full {} package over HTTP: {} downloaded for {} missing, ratio {bytes_ratio:.4}{}",
        gb(update.package),
        gb(update.served),
        gb(update.missing),
        target(&format!("<= {TARGET_BYTES}"), ok[1])
    );
    println!(
        "fleet of {FLEET}: full install {} per workstation, {} in all; update {} per workstation, {} in all (copying the whole package each time: {})",
        gb(full_bytes),
        gb(full_bytes * FLEET),
        gb(update.served),
        gb(update.served * FLEET),
        gb(update.package * FLEET)
    );
    let met = ok.iter().all(|&ok| ok);
    println!(
        "{}",
        if met {
            "result: http meets every target"
        } else {
            "result: http MISSES a target"
        }
    );
    setup.finish()?;
    Ok(met)
}

/// The install times of `package` from its file (first) and from
/// `remote` with its extra arguments (second, from `source`), [`RUNS`]
/// each, alternated; the engine lacks the images (`layers` its diff IDs)
/// before each.
pub(crate) fn against_file(
    setup: &Setup,
    (package, layers): (&Path, &[String]),
    (remote, extra): (&OsStr, &[String]),
    source: &str,
) -> anyhow::Result<[Vec<f64>; 2]> {
    let engine = &setup.engine;
    let references = setup.references();
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..RUNS * 2 {
        let remotely = round % 2 == 1;
        eprintln!(
            "bench: install-package from {}",
            if remotely { source } else { "the file" }
        );
        remove_images(engine, &references, layers)?;
        let install_dir = setup.dir().join(format!("install-{round}"));
        let (given, extra) = match remotely {
            true => (remote, extra),
            false => (package.as_os_str(), &[][..]),
        };
        times[usize::from(remotely)].push(setup.install(given, &install_dir, extra, &[])?.secs());
        setup.uninstall_all(&install_dir)?;
    }
    Ok(times)
}

/// What an update over HTTP downloaded.
struct Update {
    /// Bytes nginx sent.
    served: u64,
    /// Bytes the workstation lacked (streamed into the engine, model files
    /// written).
    missing: u64,
    /// The size of the full package it came from.
    package: u64,
}

/// Two versions of a node (a 100 MiB base layer plus one 50 MiB layer of
/// their own; a model cache of a 200 MiB file they share and a 50 MiB one
/// that changes), each packaged whole; v1 installed from its file, then v2
/// from nginx.
fn update_bytes(setup: &Setup, dir: &Path) -> anyhow::Result<Update> {
    let engine = &setup.engine;
    let salt = run_salt();
    let specs: Vec<ImageSpec> = [3, 5]
        .iter()
        .map(|seed| ImageSpec {
            reference: images::unique_reference("bench-http"),
            layers: vec![
                Layer::Random(100 * MIB, salt + 1),
                Layer::Random(50 * MIB, salt + seed),
            ],
        })
        .collect();
    let references: Vec<String> = specs.iter().map(|s| s.reference.clone()).collect();
    eprintln!("bench: two versions of a node for the update");
    let made = images::load(engine, &specs);
    let _images = ImageGuard::new(engine, references.clone());
    let served = dir.join("versions");
    std::fs::create_dir_all(&served)?;
    let node = ModelNode {
        name: "Bench HTTP",
        host_port: 9114,
        cache: "bench-http",
    };
    for (i, reference) in references.iter().enumerate() {
        let files = [
            ("transformer/stable.safetensors".into(), 200 * MIB, salt + 7),
            (
                "vae/changing.safetensors".into(),
                50 * MIB,
                salt + 21 + 2 * i as u64,
            ),
        ];
        let output = served.join(format!("v{}.zip", i + 1));
        setup.package_version(&node, i + 1, reference, &files, &output)?;
    }
    drop(made);
    let install_dir = dir.join("install-update");
    setup.install(served.join("v1.zip"), &install_dir, &[], &[])?;
    let nginx = Nginx::serve(&served);
    eprintln!("bench: install-package of v2 from nginx (the update)");
    let report = setup
        .install(nginx.url("v2.zip"), &install_dir, &[], &[])?
        .report;
    let missing = report["loaded_bytes"].as_u64().unwrap_or(0)
        + report["models"]["written_bytes"].as_u64().unwrap_or(0);
    setup.uninstall_all(&install_dir)?;
    Ok(Update {
        served: nginx.bytes_sent(),
        missing,
        package: std::fs::metadata(served.join("v2.zip"))?.len(),
    })
}
