//! `registry`: `create-install-package --from-registry` against `skopeo copy
//! docker://… oci:DIR` (Debian's skopeo) from a local registry (Debian's
//! `docker-registry`), against `docker pull` + a create from the engine, and
//! the size of an update package (`--since`) whose image changed one 50 MB
//! layer.
//!
//! The image is image A of the create benchmark with one 200 MiB random
//! layer and one 50 MB random layer on top, its layers gzip-compressed as
//! `docker push` compresses them: about 1 GB served (1.5 GB uncompressed)
//! with the default `BENCH_LAYER_MB`. The update's image has another 50 MB
//! layer on top instead.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{ensure, Context};
use testkit::images::Layer;
use testkit::process::{run_measured, Measured};
use testkit::registry::{PushLayer, PushedImage, TestRegistry};

use crate::measure::{gb, mib, run_ok, settle};
use crate::setup::{phases_text, target, Setup, TARGET_RSS_MIB};

/// The slowest create from the registry allowed, against skopeo's copy.
const TARGET_COPY_RATIO: f64 = 1.0;
/// The largest package allowed, against the bytes the registry serves.
const TARGET_SIZE_RATIO: f64 = 1.01;
/// A layer on image A's, so that the registry serves about 1 GB.
const EXTRA_LAYER: u64 = 200 << 20;
/// The changed layer of the update (random bytes: it does not compress).
const CHANGED_LAYER: u64 = 50_000_000;
/// The largest update package allowed, against the changed layer.
const TARGET_UPDATE_RATIO: f64 = 1.05;

/// Runs the benchmark; `Ok(false)` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare()?;
    let registry = TestRegistry::start().context("docker-registry is not installed")?;
    let (v1, v2) = push_images(&setup, &registry);
    let served = v1.config.size + v1.layers.iter().map(|l| l.size).sum::<u64>();
    let dir = setup.dir();

    eprintln!("bench: skopeo copy (1/2)");
    let copy1 = skopeo_copy(&v1.reference, &dir.join("oci"))?;
    eprintln!("bench: create-install-package --from-registry (1/2)");
    let first = create_from_registry(&setup, &v1, &dir.join("v1.zip"), &[])?;
    eprintln!("bench: skopeo copy (2/2)");
    let copy2 = skopeo_copy(&v1.reference, &dir.join("oci"))?;
    eprintln!("bench: create-install-package --from-registry (2/2)");
    let output = dir.join("v1.zip");
    std::fs::remove_file(&output).context("remove the first package")?;
    let second = create_from_registry(&setup, &v1, &output, &[])?;
    let size = std::fs::metadata(&output)?.len();

    eprintln!("bench: docker pull + create-install-package from the engine");
    let (pull, engine_create, engine_size) = pull_and_create(&setup, &v1)?;

    eprintln!("bench: create-install-package --from-registry --since");
    let since = output.to_str().context("a UTF-8 path")?.to_owned();
    let update_path = dir.join("update.zip");
    let update = create_from_registry(&setup, &v2, &update_path, &["--since", &since])?;
    let update_size = std::fs::metadata(&update_path)?.len();

    setup.print_engine();
    println!(
        "registry image: {} layers, {} served ({} uncompressed), machine load {}",
        v1.layers.len(),
        gb(served),
        gb(uncompressed(&setup)),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    let copy = (copy1 + copy2).as_secs_f64() / 2.0;
    let ours = (first.wall + second.wall).as_secs_f64() / 2.0;
    let ratio = ours / copy;
    let size_ratio = size as f64 / served as f64;
    let rss = mib(first.peak_rss.max(second.peak_rss) as i64);
    let update_ratio = update_size as f64 / CHANGED_LAYER as f64;
    let met = [
        ratio <= TARGET_COPY_RATIO,
        size_ratio <= TARGET_SIZE_RATIO,
        rss <= TARGET_RSS_MIB,
        update_ratio <= TARGET_UPDATE_RATIO,
    ];
    println!(
        "skopeo copy docker:// oci:        {copy:>5.1} s (runs {:.1} s, {:.1} s)",
        copy1.as_secs_f64(),
        copy2.as_secs_f64()
    );
    println!(
        "create --from-registry            {ours:>5.1} s (runs {:.1} s, {:.1} s)  ratio {ratio:.2}{}  peak RSS {rss:.0} MiB{}",
        first.wall.as_secs_f64(),
        second.wall.as_secs_f64(),
        target(&format!("<= {TARGET_COPY_RATIO:.2}"), met[0]),
        target(&format!("<= {TARGET_RSS_MIB:.0}"), met[2]),
    );
    println!(
        "    package {} / served {}: {size_ratio:.4}{}; {}",
        gb(size),
        gb(served),
        target(&format!("<= {TARGET_SIZE_RATIO:.2}"), met[1]),
        phases_text(&second.stderr, second.wall)
    );
    let engine_total = pull + engine_create;
    println!(
        "docker pull + create from engine  {:>5.1} s (pull {:.1} s, create {:.1} s), package {}: --from-registry takes {:.2} of the time ({:.0} % less) and {:.2} of the size",
        engine_total.as_secs_f64(),
        pull.as_secs_f64(),
        engine_create.as_secs_f64(),
        gb(engine_size),
        ours / engine_total.as_secs_f64(),
        100.0 * (1.0 - ours / engine_total.as_secs_f64()),
        size as f64 / engine_size as f64,
    );
    println!(
        "update (--since), one changed {} layer: package {} in {:.1} s, {update_ratio:.3} of the layer{}",
        gb(CHANGED_LAYER),
        gb(update_size),
        update.wall.as_secs_f64(),
        target(&format!("<= {TARGET_UPDATE_RATIO:.2}"), met[3]),
    );
    let all = met.iter().all(|&ok| ok);
    println!(
        "{}",
        if all {
            "result: registry meets every target"
        } else {
            "result: registry MISSES a target"
        }
    );
    drop(registry);
    setup.finish()?;
    Ok(all)
}

/// Pushes image A's layers, a 200 MiB layer and a 50 MB layer as
/// `bench/app:1`, and the same with another 50 MB layer as `bench/app:2`.
fn push_images(setup: &Setup, registry: &TestRegistry) -> (PushedImage, PushedImage) {
    let base: Vec<PushLayer> = setup.specs[0]
        .layers
        .iter()
        .map(|l| PushLayer::Gzip(*l))
        .collect();
    let seed = match setup.specs[0].layers[0] {
        Layer::Random(_, seed) | Layer::Compressible(_, seed) => seed,
    };
    eprintln!(
        "bench: pushing {} layers (gzip) and two 50 MB top layers to {}",
        base.len(),
        registry.host()
    );
    let with_top = |top: u64| {
        let mut layers = base.clone();
        layers.push(PushLayer::Gzip(Layer::Random(EXTRA_LAYER, seed + 99)));
        layers.push(PushLayer::Gzip(Layer::Random(CHANGED_LAYER, seed + top)));
        layers
    };
    let v1 = registry.push_image("bench/app", "1", &with_top(100));
    let v2 = registry.push_image("bench/app", "2", &with_top(101));
    (v1, v2)
}

/// The bytes of the image's layers' data, uncompressed.
fn uncompressed(setup: &Setup) -> u64 {
    let data = |layer: &Layer| match *layer {
        Layer::Random(size, _) | Layer::Compressible(size, _) => size,
    };
    setup.specs[0].layers.iter().map(data).sum::<u64>() + EXTRA_LAYER + CHANGED_LAYER
}

/// `skopeo copy docker://<reference> oci:<dir>`, timed; the folder is
/// removed afterwards.
fn skopeo_copy(reference: &str, dir: &Path) -> anyhow::Result<Duration> {
    settle();
    let mut command = Command::new("skopeo");
    command
        .args(["copy", "--quiet", "--src-tls-verify=false"])
        .arg(format!("docker://{reference}"))
        .arg(format!("oci:{}:bench", dir.display()));
    let run = run_ok(&mut command, "skopeo copy")?;
    std::fs::remove_dir_all(dir).with_context(|| format!("remove {}", dir.display()))?;
    Ok(run.wall)
}

/// `create-install-package --from-registry` of `image` into `output`, with
/// no engine, timed.
fn create_from_registry(
    setup: &Setup,
    image: &PushedImage,
    output: &Path,
    extra: &[&str],
) -> anyhow::Result<Measured> {
    settle();
    let catalog = catalog(setup, image)?;
    let mut command = Command::new(&setup.tool);
    command
        .env("DOCKER_HOST", "unix:///nonexistent/budgetguard-bench.sock")
        .args([
            "create-install-package",
            "--from-registry",
            "--nodes",
            "Bench",
        ])
        .arg("--catalog")
        .arg(&catalog)
        .arg("--output")
        .arg(output)
        .args(extra);
    run_ok(&mut command, "create-install-package --from-registry")
}

/// `docker pull` of `image` into the engine, then a create from the engine;
/// returns both times and the package's size, and removes the image.
fn pull_and_create(
    setup: &Setup,
    image: &PushedImage,
) -> anyhow::Result<(Duration, Duration, u64)> {
    settle();
    let mut pull = setup.engine.docker();
    pull.args(["pull", "--quiet", &image.reference]);
    let pulled = run_ok(&mut pull, "docker pull")?;
    let output = setup.dir().join("engine.zip");
    let catalog = catalog(setup, image)?;
    settle();
    let mut create = setup.tool_command(&setup.engine);
    create
        .args(["create-install-package", "--no-pull", "--nodes", "Bench"])
        .arg("--catalog")
        .arg(&catalog)
        .arg("--output")
        .arg(&output);
    let created = run_measured(&mut create);
    let _ = setup
        .engine
        .docker()
        .args(["rmi", &image.reference])
        .output();
    ensure!(
        created.status.success(),
        "create-install-package from the engine failed ({}): {}",
        created.status,
        created.stderr.trim()
    );
    let size = std::fs::metadata(&output)?.len();
    std::fs::remove_file(&output)?;
    Ok((pulled.wall, created.wall, size))
}

/// A catalog of one node, "Bench", running `image`.
fn catalog(setup: &Setup, image: &PushedImage) -> anyhow::Result<PathBuf> {
    let path = setup.dir().join("registry-catalog.json");
    let catalog = serde_json::json!({
        "nodes": [{ "name": "Bench", "image": image.reference, "host_port": 9103 }]
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&catalog)?)
        .with_context(|| format!("write {}", path.display()))?;
    Ok(path)
}
