//! `upgrade`: an installed node upgraded to a version that differs by one
//! 50 MiB layer and one 100 MiB model file, against writing those bytes
//! the engine's and the system's own way in the same run (`docker load -i`
//! of an image of one such layer, `cp` of such a file; the layers of both
//! stored as the measured store keeps pulled ones), and the peak extra
//! disk of the install folder's file system against the changed model
//! bytes (the install folder is on a tmpfs of its own, so nothing else
//! writes there).

use std::path::{Path, PathBuf};
use std::time::Duration;

use testkit::fixtures::Tmpfs;
use testkit::images::{self, ImageGuard, ImageSpec, Layer};

use crate::measure::{
    docker_load, median_of, mib, remove_images, run_ok, runs, settle, settle_idle, DiskWatch, MIB,
};
use crate::setup::{phases_text, run_salt, target, Installed, ModelNode, Setup};

/// The slowest upgrade allowed, as a multiple of writing the changed bytes.
const TARGET_RATIO: f64 = 1.2;
/// The most disk an upgrade may use at its peak, as a multiple of the
/// changed model bytes.
const TARGET_DISK: f64 = 1.1;
/// The layer the new version adds, and its changed model file.
const LAYER: u64 = 50 * MIB;
const MODEL_FILE: u64 = 100 * MIB;
/// How many alternated rounds of the upgrade and the baseline run.
const ROUNDS: usize = 5;

/// Runs the benchmark; `Ok(false)` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare_with(200)?;
    let engine = &setup.engine;
    let dir = setup.dir().to_owned();
    let base_mb: u64 = std::env::var("BENCH_LAYER_MB")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(200);
    let salt = run_salt();
    let base = vec![
        Layer::Random(base_mb * MIB, salt + 1),
        Layer::Compressible(MIB, salt + 2),
    ];
    let versions: Vec<ImageSpec> = [3, 4]
        .iter()
        .map(|seed| {
            let mut layers = base.clone();
            layers.push(Layer::Random(LAYER, salt + seed));
            ImageSpec {
                reference: images::unique_reference("bench-upgrade"),
                layers,
            }
        })
        .collect();
    let references: Vec<String> = versions.iter().map(|v| v.reference.clone()).collect();
    eprintln!(
        "bench: two versions of a node: a {base_mb} MiB image (layers {:?}) and a model cache, each",
        setup.layer_files()
    );
    // Layers as the store keeps pulled ones, here and in the baseline's tar.
    let made = images::load_as(engine, &versions, setup.layer_files());
    let _images = ImageGuard::new(engine, references.clone());
    let node = ModelNode {
        name: "Bench Upgrade",
        host_port: 9113,
        cache: "bench-upgrade",
    };
    let mut packages = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        // Seeds of random content differ by 2: `Layer::Random` sets the
        // lowest bit.
        let files = [
            (
                "transformer/stable.safetensors".to_owned(),
                3 * MODEL_FILE,
                7,
            ),
            (
                "vae/changing.safetensors".to_owned(),
                MODEL_FILE,
                20 + 2 * i as u64,
            ),
        ];
        let package = dir.join(format!("v{}.zip", i + 1));
        setup.package_version(&node, i + 1, reference, &files, &package)?;
        packages.push(package);
    }
    drop(made);

    let disk = Tmpfs::mount("2g");
    let install_dir = disk.dir.path().join("install");
    let baseline = Baseline::prepare(&setup, &dir, disk.dir.path(), salt)?;
    // Rounds alternate the upgrade and the baseline; each ratio is of
    // their medians.
    let (mut upgrades, mut baselines, mut peaks) = (Vec::new(), Vec::new(), Vec::new());
    let mut last = None;
    for round in 1..=ROUNDS {
        eprintln!("bench: round {round}/{ROUNDS}: install-package v1, then v2 (the upgrade)");
        setup.install(&packages[0], &install_dir, &[], &[])?;
        settle_idle();
        // Its settle first writes nothing to the install folder's tmpfs.
        let watch = DiskWatch::start(disk.dir.path())?;
        let installed = setup.install(&packages[1], &install_dir, &[], &[])?;
        peaks.push(watch.stop().beyond_output);
        setup.uninstall_all(&install_dir)?;
        upgrades.push(installed.run.wall);
        eprintln!(
            "bench: round {round}/{ROUNDS}: docker load -i of one {} MiB layer, cp of one {} MiB file",
            LAYER / MIB,
            MODEL_FILE / MIB
        );
        settle_idle();
        baselines.push(baseline.run(&setup)?);
        last = Some(installed);
    }
    let Installed {
        run: upgrade,
        report,
    } = last.expect("at least one round ran");
    let peak = peaks.iter().copied().max().unwrap_or(0);
    let (upgrade_median, baseline_median) = (median_of(&upgrades), median_of(&baselines));
    let ratio = upgrade_median / baseline_median;
    let disk_ratio = peak as f64 / MODEL_FILE as f64;
    let ok = [ratio <= TARGET_RATIO, disk_ratio <= TARGET_DISK];
    setup.print_engine();
    println!(
        "upgrade: streamed {:.1} MiB, wrote {} model files ({:.1} MiB), kept {}",
        mib(report["loaded_bytes"].as_i64().unwrap_or(0)),
        report["models"]["written"],
        mib(report["models"]["written_bytes"].as_i64().unwrap_or(0)),
        report["models"]["present"]
    );
    println!(
        "    where the upgrade's time went: {}",
        phases_text(&upgrade.stderr, upgrade.wall)
    );
    println!(
        "docker load -i + cp of the changed bytes: median {baseline_median:.2} s ({}); upgrade median {upgrade_median:.2} s ({})  ratio {ratio:.2}{}",
        runs(&baselines),
        runs(&upgrades),
        target(&format!("<= {TARGET_RATIO:.2}"), ok[0])
    );
    println!(
        "peak extra disk of the install folder: {:.1} MiB against {:.0} MiB changed  ratio {disk_ratio:.2}{}",
        mib(peak),
        mib(MODEL_FILE as i64),
        target(&format!("<= {TARGET_DISK:.2}"), ok[1])
    );
    let met = ok.iter().all(|&ok| ok);
    println!(
        "{}",
        if met {
            "result: upgrade meets every target"
        } else {
            "result: upgrade MISSES a target"
        }
    );
    drop(disk);
    setup.finish()?;
    Ok(met)
}

/// The changed bytes written the engine's and the system's way: `docker
/// load -i` of an image of one layer of that size (another content, so
/// that nothing is shared with the upgrade; its layer file stored as the
/// upgrade's), then `cp` of a file of that size onto the install folder's
/// file system.
struct Baseline {
    spec: ImageSpec,
    tar: PathBuf,
    source: PathBuf,
    copy: PathBuf,
    _images: ImageGuard,
}

impl Baseline {
    /// Writes the image's tar and the file to copy into `dir`.
    fn prepare(setup: &Setup, dir: &Path, disk: &Path, salt: u64) -> anyhow::Result<Self> {
        let spec = ImageSpec {
            reference: images::unique_reference("bench-upgrade-baseline"),
            layers: vec![Layer::Random(LAYER, salt + 9)],
        };
        let tar = dir.join("layer.tar");
        images::write_save_tar_as(
            std::fs::File::create(&tar)?,
            std::slice::from_ref(&spec),
            setup.layer_files(),
        )?;
        let source = dir.join("model.bin");
        std::io::copy(
            &mut Layer::Random(MODEL_FILE, salt + 10).reader(),
            &mut std::fs::File::create(&source)?,
        )?;
        Ok(Self {
            _images: ImageGuard::new(&setup.engine, vec![spec.reference.clone()]),
            spec,
            tar,
            source,
            copy: disk.join("model.bin"),
        })
    }

    /// Loads the image and copies the file, measured; removes both again.
    fn run(&self, setup: &Setup) -> anyhow::Result<Duration> {
        let loaded = docker_load(&setup.engine, &self.tar)?;
        settle();
        let copied = run_ok(
            std::process::Command::new("cp")
                .arg(&self.source)
                .arg(&self.copy),
            "cp",
        )?;
        std::fs::remove_file(&self.copy)?;
        remove_images(
            &setup.engine,
            std::slice::from_ref(&self.spec.reference),
            &[],
        )?;
        Ok(loaded + copied.wall)
    }
}
