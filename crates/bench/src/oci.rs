//! `oci`: a package published to Debian's `docker-registry` on loopback
//! (`publish-package`), then `install-package --package oci://…` against
//! the same install from the local file (medians of alternated runs;
//! target 1.05); the publication's time and a second publication's (which
//! sends nothing) are printed too.

use anyhow::Context;
use testkit::images::ImageGuard;
use testkit::registry::TestRegistry;

use crate::http::against_file;
use crate::measure::median;
use crate::measure::{gb, run_ok};
use crate::setup::{target, Setup};

/// The slowest install from a registry allowed, as a multiple of the same
/// from the file.
const TARGET_RATIO: f64 = 1.05;

/// Runs the benchmark; `Ok(false)` when the target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare_with(300)?;
    let engine = &setup.engine;
    let dir = setup.dir().to_owned();
    let made = setup.load_images();
    let layers = setup.diff_ids()?;
    let _images = ImageGuard::new(engine, made.references().to_vec());
    let catalog = setup.write_catalog()?;
    let package = dir.join("bench.zip");
    let created = setup.create_package(&catalog, "none", &package)?;
    drop(made);
    let registry =
        TestRegistry::start().context("docker-registry is not installed (.ci/deps.sh)")?;
    let to = format!("{}/bench/package:1", registry.host());
    let mut publish_times = Vec::new();
    for _ in 0..2 {
        eprintln!("bench: publish-package to {to}");
        let published = run_ok(
            setup
                .tool_command(engine)
                .args(["publish-package", "--quiet", "--package"])
                .arg(&package)
                .args(["--to", &to]),
            "publish-package",
        )?;
        publish_times.push(published.wall.as_secs_f64());
    }
    let address = format!("oci://{to}");
    let times = against_file(
        &setup,
        (&package, &layers),
        (address.as_ref(), &[]),
        "the registry",
    )?;
    let (file, oci) = (median(times[0].clone()), median(times[1].clone()));
    let ratio = oci / file;
    let met = ratio <= TARGET_RATIO;

    setup.print_engine();
    println!(
        "publish of a {} package: {:.2} s; again (nothing sent): {:.2} s",
        gb(created.size),
        publish_times[0],
        publish_times[1]
    );
    println!(
        "install from oci://: {oci:.2} s against {file:.2} s from the file, ratio {ratio:.3}{}",
        target(&format!("<= {TARGET_RATIO}"), met)
    );
    println!(
        "{}",
        if met {
            "result: oci meets its target"
        } else {
            "result: oci MISSES its target"
        }
    );
    setup.finish()?;
    Ok(met)
}
