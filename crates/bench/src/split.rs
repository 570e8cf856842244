//! `split`: `create-install-package --split-size` against the same create
//! into one file, and `install-package` from the parts (read in place)
//! against from the one file; medians of alternated runs.

use std::path::{Path, PathBuf};

use testkit::images::ImageGuard;

use crate::measure::{median, remove_images, run_ok, settle, MIB};
use crate::setup::{target, Setup};

/// The slowest split create or install allowed, as a multiple of the same
/// run on one file.
const TARGET_SPLIT_RATIO: f64 = 1.02;
/// Runs of each kind, alternated.
const RUNS: usize = 5;

/// Runs the benchmark; `Ok(false)` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare()?;
    let engine = &setup.engine;
    let dir = setup.dir();
    let part_mb: u64 = std::env::var("BENCH_PART_MB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let made = setup.load_images();
    let references = made.references().to_vec();
    let layers = setup.diff_ids()?;
    let _images = ImageGuard::new(engine, references.clone());
    let catalog = setup.write_catalog()?;

    let whole = dir.join("whole.zip");
    let parts = dir.join("parts").join("split.zip");
    std::fs::create_dir_all(parts.parent().unwrap())?;
    let mut creates = [Vec::new(), Vec::new()];
    for round in 0..RUNS * 2 {
        let split = split_in(round);
        eprintln!(
            "bench: create-install-package{}",
            if split { " --split-size" } else { "" }
        );
        let output = if split { &parts } else { &whole };
        creates[usize::from(split)].push(create(
            &setup,
            &catalog,
            output,
            split.then_some(part_mb),
        )?);
    }
    drop(made);
    let first_part = parts.with_file_name("split.zip.001");
    let mut installs = [Vec::new(), Vec::new()];
    for round in 0..RUNS * 2 {
        let split = split_in(round);
        eprintln!(
            "bench: install-package from {}",
            if split { "parts" } else { "one file" }
        );
        remove_images(engine, &references, &layers)?;
        let package = if split { &first_part } else { &whole };
        let install_dir = dir.join(format!("install-{round}"));
        installs[usize::from(split)].push(setup.install(package, &install_dir, &[], &[])?.secs());
        setup.uninstall_all(&install_dir)?;
    }

    setup.print_engine();
    let mut met = true;
    for (what, [ones, splits]) in [("create", creates), ("install", installs)] {
        let seconds = |runs: &[f64]| {
            runs.iter()
                .map(|s| format!("{s:.2}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let (one, split) = (median(ones.clone()), median(splits.clone()));
        let ratio = split / one;
        let ok = ratio <= TARGET_SPLIT_RATIO;
        met &= ok;
        println!(
            "{what} from/into parts of {part_mb} MiB: median {split:.2} s ({} s) against {one:.2} s ({} s) in one file, ratio {ratio:.3}{}",
            seconds(&splits),
            seconds(&ones),
            target(&format!("<= {TARGET_SPLIT_RATIO}"), ok)
        );
    }
    setup.finish()?;
    Ok(met)
}

/// Whether run `round` (from 0) of the alternation is the split one: the
/// order goes one file, parts, parts, one file, … so that a machine that
/// slows or speeds up through the benchmark favours neither.
fn split_in(round: usize) -> bool {
    (round % 2 == 1) != (round / 2 % 2 == 1)
}

/// One create of both nodes into `output` (parts of `part_mb` MiB when
/// given), replacing what is there; its wall time in seconds.
fn create(
    setup: &Setup,
    catalog: &Path,
    output: &PathBuf,
    part_mb: Option<u64>,
) -> anyhow::Result<f64> {
    settle();
    let mut command = setup.tool_command(&setup.source);
    command
        .args([
            "create-install-package",
            "--no-pull",
            "--force",
            "--catalog",
        ])
        .arg(catalog)
        .args(["--nodes", "Bench A,Bench B", "--output"])
        .arg(output);
    if let Some(mb) = part_mb {
        command.arg("--split-size").arg(format!("{}", mb * MIB));
    }
    let run = run_ok(&mut command, "create-install-package")?;
    Ok(run.wall.as_secs_f64())
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_order_goes_one_parts_parts_one() {
        let order: Vec<bool> = (0..8).map(super::split_in).collect();
        assert_eq!(order, [false, true, true, false, false, true, true, false]);
    }
}
