//! `create`: `budgetguard-techops create-install-package` against the
//! engine's own `docker save -o`, on a synthetic two-image set.

use std::path::Path;
use std::time::Duration;

use anyhow::{ensure, Context};

use crate::measure::{docker_save, gb, mib, DiskPeak, DiskWatch, SaveRun};
use crate::setup::{
    phases_text, target, PackageRun, Setup, TARGET_EXTRA_MIB, TARGET_RATIO, TARGET_RSS_MIB,
};

/// The compressions measured, `none` first (right after the first save).
const COMPRESSIONS: [&str; 3] = ["none", "deflate", "zstd"];

/// One measured `create-install-package` run.
struct CreateRun {
    compression: &'static str,
    wall: Duration,
    peak_rss: u64,
    size: u64,
    /// `write_bytes` minus the package's size.
    extra_disk: i64,
    disk: DiskPeak,
    /// The tool's own "<step>: done in <t>" lines, joined.
    phases: String,
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
    for compression in COMPRESSIONS {
        eprintln!("bench: create-install-package --compression {compression}");
        runs.push(create(&setup, &catalog, compression)?);
    }
    eprintln!("bench: docker save -o (2/2)");
    let save2 = docker_save(&setup.engine, dir, &references)?;
    drop(guard);

    setup.print_engine();
    let met = print_table(save1, save2, &runs);
    setup.finish()?;
    Ok(met)
}

/// Prints the results; returns whether the `none` case met every target.
fn print_table(save1: SaveRun, save2: SaveRun, runs: &[CreateRun]) -> bool {
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
        let ok = [
            ratio <= TARGET_RATIO,
            rss <= TARGET_RSS_MIB,
            extra < TARGET_EXTRA_MIB,
        ];
        if gated {
            met = ok.iter().all(|&o| o);
        }
        let first = run
            .disk
            .first_data
            .map_or_else(|| "-".to_owned(), |t| format!("{:.1} s", t.as_secs_f64()));
        println!(
            "create {:<8} {:>5.1} s  ratio {ratio:.2}{}  size/tar {:.3}  peak RSS {rss:.0} MiB{}  extra disk {extra:.2} MiB{}",
            format!("{}:", run.compression),
            run.wall.as_secs_f64(),
            target(&format!("<= {TARGET_RATIO:.2}"), ok[0]),
            run.size as f64 / save1.size.max(1) as f64,
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
    Ok(CreateRun {
        compression,
        wall: run.wall,
        peak_rss: run.peak_rss,
        size,
        extra_disk: run.write_bytes as i64 - size as i64,
        disk,
        phases: phases_text(&run.stderr, run.wall),
    })
}
