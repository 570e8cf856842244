//! `create`: `budgetguard-techops create-install-package` against the
//! engine's own `docker save -o`, on a synthetic two-image set.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};

use crate::measure::{docker_save, gb, median, mib, run_ok, DiskPeak, DiskWatch, SaveRun};
use crate::setup::{
    phases_text, size_against_tar, target, PackageRun, Setup, OWN_FILES, TARGET_EXTRA_MIB,
    TARGET_RATIO, TARGET_RSS_MIB,
};
use testkit::images::{self, ImageSpec, Layer};

/// The slowest create allowed when its output is on a tmpfs: writing costs
/// nothing there, so what is left is the tool's own work.
const TARGET_RATIO_TMPFS: f64 = 1.05;
/// The most signing may add to a create, in seconds.
const TARGET_SIGNING: f64 = 0.1;
/// Small creates timed with and without `--sign`.
const SIGNING_RUNS: usize = 5;

/// The compressions measured, `none` first (right after the first save).
const COMPRESSIONS: [&str; 3] = ["none", "deflate", "zstd"];

/// One measured `create-install-package` run.
struct CreateRun {
    compression: &'static str,
    wall: Duration,
    peak_rss: u64,
    size: u64,
    /// `write_bytes` minus the package's size; on a tmpfs, which `write_bytes`
    /// does not count, the sampled peak of space used beyond the output.
    extra_disk: i64,
    disk: DiskPeak,
    /// The tool's own "<step>: done in <t>" lines, joined.
    phases: String,
}

/// The compressions to measure: `BENCH_COMPRESSIONS` (a comma-separated
/// list, e.g. `none` for a quick comparison), by default all of them.
fn compressions() -> anyhow::Result<Vec<&'static str>> {
    let Ok(asked) = std::env::var("BENCH_COMPRESSIONS") else {
        return Ok(COMPRESSIONS.to_vec());
    };
    asked
        .split(',')
        .map(|name| {
            COMPRESSIONS
                .into_iter()
                .find(|c| *c == name.trim())
                .with_context(|| {
                    format!("BENCH_COMPRESSIONS: `{name}` is none of {COMPRESSIONS:?}")
                })
        })
        .collect()
}

/// Runs the benchmark; `Ok(false)` when the `none` case misses a target.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare()?;
    ensure!(
        setup.source == setup.engine,
        "BENCH_SOURCE_HOST applies to `install` only: `create` measures the engine it packages from"
    );
    let dir = setup.dir();
    let guard = setup.load_images();
    let references = guard.references().to_vec();
    let catalog = setup.write_catalog()?;

    eprintln!("bench: docker save -o (1/2)");
    let save1 = docker_save(&setup.engine, dir, &references)?;
    let mut runs = Vec::new();
    for compression in compressions()? {
        eprintln!("bench: create-install-package --compression {compression}");
        runs.push(create(&setup, &catalog, compression)?);
    }
    eprintln!("bench: docker save -o (2/2)");
    let save2 = docker_save(&setup.engine, dir, &references)?;
    drop(guard);
    eprintln!("bench: small creates with and without --sign");
    let (plain, signed) = signing(&setup)?;

    setup.print_engine();
    let limit = if on_tmpfs(dir) {
        TARGET_RATIO_TMPFS
    } else {
        TARGET_RATIO
    };
    let mut met = print_table(save1, save2, &runs, limit);
    let added = signed - plain;
    let signing_ok = added < TARGET_SIGNING;
    println!(
        "signing: median of {SIGNING_RUNS} small creates {plain:.3} s unsigned, {signed:.3} s with --sign (a key without password): {added:+.3} s{}",
        target(&format!("< {TARGET_SIGNING} s"), signing_ok)
    );
    met &= signing_ok;
    setup.finish()?;
    Ok(met)
}

/// Median wall times of small creates without and with `--sign` (a key
/// without password: a password's key derivation is another cost, once).
fn signing(setup: &Setup) -> anyhow::Result<(f64, f64)> {
    let spec = ImageSpec {
        reference: images::unique_reference("bench-sign"),
        layers: vec![Layer::Random(4 << 20, 99)],
    };
    let _guard = images::load(&setup.engine, std::slice::from_ref(&spec));
    let catalog = setup.dir().join("sign-catalog.json");
    std::fs::write(
        &catalog,
        serde_json::json!({"nodes": [{"name": "Sign", "image": spec.reference, "host_port": 9199}]})
            .to_string(),
    )?;
    let key = setup.dir().join("bench.key");
    run_ok(
        setup
            .tool_command(&setup.engine)
            .args(["keygen", "--no-password", "--output"])
            .arg(&key),
        "keygen",
    )?;
    let mut times = [Vec::new(), Vec::new()];
    for round in 0..SIGNING_RUNS * 2 {
        let sign = round % 2 == 1;
        let output = setup.dir().join("sign.zip");
        let mut command = setup.tool_command(&setup.engine);
        command
            .args([
                "create-install-package",
                "--no-pull",
                "--force",
                "--nodes",
                "Sign",
                "--catalog",
            ])
            .arg(&catalog)
            .arg("--output")
            .arg(&output);
        if sign {
            command.arg("--sign").arg(&key);
        }
        let run = run_ok(&mut command, "small create")?;
        times[usize::from(sign)].push(run.wall.as_secs_f64());
    }
    let [plain, signed] = times;
    Ok((median(plain), median(signed)))
}

/// Whether `dir` lies on a tmpfs (`/proc/mounts`, the longest mount point
/// that holds it).
fn on_tmpfs(dir: &Path) -> bool {
    let mounts = std::fs::read_to_string("/proc/mounts").unwrap_or_default();
    mounts
        .lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace().skip(1);
            Some((fields.next()?, fields.next()?))
        })
        .filter(|(point, _)| dir.starts_with(point))
        .max_by_key(|(point, _)| point.len())
        .is_some_and(|(_, kind)| kind == "tmpfs")
}

/// Prints the results; returns whether the `none` case met every target
/// (its time at most `limit` times `docker save -o`'s).
fn print_table(save1: SaveRun, save2: SaveRun, runs: &[CreateRun], limit: f64) -> bool {
    let baseline = (save1.wall + save2.wall).as_secs_f64() / 2.0;
    println!(
        "docker save -o: {baseline:.1} s (runs {:.1} s, {:.1} s), tar {}",
        save1.wall.as_secs_f64(),
        save2.wall.as_secs_f64(),
        gb(save1.size)
    );
    let mut met = true;
    for run in runs {
        let ratio = run.wall.as_secs_f64() / baseline;
        let rss = mib(run.peak_rss as i64);
        let extra = mib(run.extra_disk);
        let gated = run.compression == "none";
        let target = |text: &str, ok: bool| {
            if gated {
                target(text, ok)
            } else {
                String::new()
            }
        };
        let (size_ok, size_text) = size_against_tar(run.size, save1.size);
        let ok = [
            ratio <= limit,
            rss <= TARGET_RSS_MIB,
            extra < TARGET_EXTRA_MIB,
            size_ok,
        ];
        if gated {
            met = ok.iter().all(|&o| o);
        }
        let first = run
            .disk
            .first_data
            .map_or_else(|| "-".to_owned(), |t| format!("{:.1} s", t.as_secs_f64()));
        println!(
            "create {:<8} {:>5.1} s  ratio {ratio:.2}{}  size/tar {size_text}{}  peak RSS {rss:.0} MiB{}  extra disk {extra:.2} MiB{}",
            format!("{}:", run.compression),
            run.wall.as_secs_f64(),
            target(&format!("<= {limit:.2}"), ok[0]),
            target(&format!("<= tar + {} KiB", OWN_FILES >> 10), ok[3]),
            target(&format!("<= {TARGET_RSS_MIB:.0}"), ok[1]),
            target(&format!("< {TARGET_EXTRA_MIB:.0}"), ok[2]),
        );
        println!(
            "    info: package {}, first data in output after {first}, peak disk used beyond output {:.1} MiB, {}",
            gb(run.size),
            mib(run.disk.beyond_output),
            run.phases
        );
    }
    println!(
        "{}",
        if met {
            "result: create none meets every target"
        } else {
            "result: create none MISSES a target"
        }
    );
    met
}

/// Runs the tool once with `compression`, measures it and deletes the package.
fn create(setup: &Setup, catalog: &Path, compression: &'static str) -> anyhow::Result<CreateRun> {
    let output = setup.dir().join(format!("pkg-{compression}.zip"));
    let watch = DiskWatch::start(setup.dir())?;
    let package = setup.create_package(catalog, compression, &output);
    let disk = watch.stop();
    let PackageRun { run, size } = package?;
    std::fs::remove_file(&output).with_context(|| format!("remove {}", output.display()))?;
    let extra_disk = if on_tmpfs(setup.dir()) {
        disk.beyond_output
    } else {
        run.write_bytes as i64 - size as i64
    };
    Ok(CreateRun {
        compression,
        wall: run.wall,
        peak_rss: run.peak_rss,
        size,
        extra_disk,
        disk,
        phases: phases_text(&run.stderr, run.wall),
    })
}
