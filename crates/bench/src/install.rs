//! `install`: `budgetguard-techops install-package` against the engine's own
//! `docker load -i` of the same images' `docker save` tar, then a second
//! install of the same package, then `uninstall --all`.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use anyhow::ensure;
use testkit::engines::TestEngine;
use testkit::images::ImageGuard;

use crate::measure::{
    docker_load, docker_save_to, gb, leftover_layers, median_of, mib, present_images,
    remove_images, run_ok, runs,
};
use crate::setup::{
    phases_text, size_against_tar, target, Installed, Setup, OWN_FILES, TARGET_EXTRA_MIB,
    TARGET_RSS_MIB,
};

/// The slowest first install allowed, as a multiple of `docker load -i` of
/// the engine's own tar of the same images.
const TARGET_RATIO: f64 = 1.05;

/// The slowest second install allowed, as a multiple of the first: it
/// changes nothing, so it starts no Compose process, whichever Compose.
const TARGET_AGAIN_RATIO: f64 = 0.05;

/// Alternated rounds of `docker load -i` and the tool's first install.
const ROUNDS: usize = 3;

/// The Compose commands a second install runs with: v2, then v1.
const COMPOSES: [&str; 2] = ["docker compose", "docker-compose"];

/// The containers the tool creates for "Bench A" and "Bench B".
const CONTAINERS: [&str; 2] = ["budgetguard-bench-a", "budgetguard-bench-b"];

/// Removes the named containers from an engine when dropped.
struct ContainerGuard<'a> {
    engine: &'a TestEngine,
}

impl Drop for ContainerGuard<'_> {
    fn drop(&mut self) {
        let _ = self
            .engine
            .docker()
            .args(["rm", "-f"])
            .args(CONTAINERS)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// The names of [`CONTAINERS`] that exist on `engine`.
fn present_containers(engine: &TestEngine) -> Vec<String> {
    let listed = engine.docker_ok(&["ps", "-a", "--format", "{{.Names}}"]);
    listed
        .lines()
        .map(str::trim)
        .filter(|name| CONTAINERS.contains(name))
        .map(str::to_owned)
        .collect()
}

/// What the report of `install` says about the images and the nodes, and
/// the phases.
fn info(install: &Installed) -> String {
    let list = |key: &str, field: &str| -> String {
        install.report[key]
            .as_array()
            .map(|items| {
                items
                    .iter()
                    .map(|i| i[field].as_str().unwrap_or("?"))
                    .collect::<Vec<_>>()
                    .join("/")
            })
            .unwrap_or_else(|| "?".to_owned())
    };
    format!(
        "streamed {}, images {}, nodes {}, changed {}, {}",
        gb(install.report["loaded_bytes"].as_u64().unwrap_or(0)),
        list("images", "outcome"),
        list("nodes", "state"),
        install.report["changed"],
        phases_text(&install.run.stderr, install.run.wall)
    )
}

/// Runs the benchmark; `Ok(false)` when a target is missed or the uninstall
/// leaves something behind.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare()?;
    let engine = &setup.engine;
    let dir = setup.dir();
    let existing = present_containers(engine);
    ensure!(
        existing.is_empty(),
        "container(s) {} already exist on {}: remove them (`docker rm -f`) before benchmarking",
        existing.join(", "),
        engine.host
    );
    let made = setup.load_images();
    let references = made.references().to_vec();
    let layers = setup.diff_ids()?;
    // Whatever happens, the measured engine ends without the images.
    let images = ImageGuard::new(engine, references.clone());
    let catalog = setup.write_catalog()?;
    let tar = dir.join("save.tar");
    eprintln!("bench: docker save -o");
    let save = docker_save_to(&setup.source, &tar, &references)?;
    let package = dir.join("pkg.zip");
    eprintln!("bench: create-install-package --compression none");
    let package_size = setup.create_package(&catalog, "none", &package)?.size;
    drop(made);
    // Dropped before `images`: the images cannot go while containers use them.
    let containers = ContainerGuard { engine };
    let install_dir = dir.join("install");

    // Rounds alternate the engine's load and the tool's first install (with
    // the Compose a user's machine gives it); the last round also installs
    // again, with each Compose. The ratio is of the medians.
    let (mut loads, mut firsts, mut again, mut uninstalls) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let mut left = Vec::new();
    for round in 1..=ROUNDS {
        remove_images(engine, &references, &layers)?;
        eprintln!("bench: round {round}/{ROUNDS}: docker load -i");
        loads.push(baseline(engine, &tar, &references, &layers)?);
        eprintln!("bench: round {round}/{ROUNDS}: install-package (first)");
        firsts.push(install(&setup, &package, &install_dir, None)?);
        if round == ROUNDS {
            for compose in COMPOSES {
                eprintln!("bench: install-package (again, {compose})");
                again.push((
                    compose,
                    install(&setup, &package, &install_dir, Some(compose))?,
                ));
            }
        }
        eprintln!("bench: round {round}/{ROUNDS}: uninstall --all");
        let (wall, round_left) = uninstall(&setup, &install_dir, &references, &layers)?;
        uninstalls.push(wall);
        left.extend(round_left);
    }
    drop(containers);
    remove_images(engine, &references, &layers)?;
    drop(images);

    setup.print_engine();
    let baseline = median_of(&loads);
    println!(
        "docker load -i: median {baseline:.1} s ({}), tar {}",
        runs(&loads),
        gb(save.size)
    );
    let walls: Vec<Duration> = firsts.iter().map(|f| f.run.wall).collect();
    let first_median = median_of(&walls);
    // The run reported on is the one nearest the median.
    let first = firsts
        .iter()
        .min_by(|a, b| {
            (a.secs() - first_median)
                .abs()
                .total_cmp(&(b.secs() - first_median).abs())
        })
        .expect("at least one round ran");
    let uninstall_wall = median_of(&uninstalls);
    let ratio = first_median / baseline;
    let rss = mib(first.run.peak_rss as i64);
    let extra = mib(first.run.write_bytes as i64);
    let again_ok: Vec<bool> = again
        .iter()
        .map(|(_, run)| run.secs() / first.secs() <= TARGET_AGAIN_RATIO)
        .collect();
    let (size_ok, size_text) = size_against_tar(package_size, save.size);
    let ok = [
        ratio <= TARGET_RATIO,
        rss <= TARGET_RSS_MIB,
        extra < TARGET_EXTRA_MIB,
        again_ok.iter().all(|&o| o),
        size_ok,
    ];
    println!(
        "install first: median {first_median:.1} s ({})  ratio {ratio:.2}{}  size/tar {size_text}{}  peak RSS {rss:.0} MiB{}  extra disk {extra:.2} MiB{}",
        runs(&walls),
        target(&format!("<= {TARGET_RATIO:.2}"), ok[0]),
        target(&format!("<= tar + {} KiB", OWN_FILES >> 10), ok[4]),
        target(&format!("<= {TARGET_RSS_MIB:.0}"), ok[1]),
        target(&format!("< {TARGET_EXTRA_MIB:.0}"), ok[2]),
    );
    println!("    info: {}", info(first));
    for ((compose, run), ok) in again.iter().zip(&again_ok) {
        println!(
            "install again ({compose}): {:>5.2} s  ratio to first {:.3}{}",
            run.secs(),
            run.secs() / first.secs(),
            target(&format!("<= {TARGET_AGAIN_RATIO:.2}"), *ok),
        );
        println!(
            "    info: peak RSS {:.0} MiB, extra disk {:.2} MiB, {}",
            mib(run.run.peak_rss as i64),
            mib(run.run.write_bytes as i64),
            info(run)
        );
    }
    println!(
        "uninstall --all: median {uninstall_wall:.1} s, {}",
        if left.is_empty() {
            "containers and images removed".to_owned()
        } else {
            format!("LEFT {}", left.join(", "))
        }
    );
    let met = ok.iter().all(|&o| o) && left.is_empty();
    println!(
        "{}",
        if met {
            "result: install meets every target"
        } else {
            "result: install MISSES a target"
        }
    );
    setup.finish()?;
    Ok(met)
}

/// Times `docker load -i <tar>` into an engine without the images, then
/// removes them again.
fn baseline(
    engine: &TestEngine,
    tar: &Path,
    references: &[String],
    diff_ids: &[String],
) -> anyhow::Result<Duration> {
    let wall = docker_load(engine, tar)?;
    remove_images(engine, references, diff_ids)?;
    Ok(wall)
}

/// [`Setup::install`] of `package` into `install_dir` with `compose`, or
/// the Compose the tool finds.
fn install(
    setup: &Setup,
    package: &Path,
    install_dir: &Path,
    compose: Option<&str>,
) -> anyhow::Result<Installed> {
    let env: Vec<(&str, &str)> = compose
        .map(|compose| ("BUDGETGUARD_COMPOSE", compose))
        .into_iter()
        .collect();
    setup.install(package, install_dir, &[], &env)
}

/// Runs `uninstall --all` on `install_dir` and returns its wall time and
/// the containers, images and layers still there afterwards.
fn uninstall(
    setup: &Setup,
    install_dir: &Path,
    references: &[String],
    diff_ids: &[String],
) -> anyhow::Result<(Duration, Vec<String>)> {
    let mut command = setup.tool_command(&setup.engine);
    command
        .env("BUDGETGUARD_INSTALL_DIR", install_dir)
        .args(["uninstall", "--all"]);
    let run = run_ok(&mut command, "uninstall --all")?;
    let mut left = present_containers(&setup.engine);
    left.extend(present_images(&setup.engine, references));
    let layers = leftover_layers(&setup.engine, diff_ids).unwrap_or_default();
    if !layers.is_empty() {
        left.push(format!("{} layer(s)", layers.len()));
    }
    Ok((run.wall, left))
}
