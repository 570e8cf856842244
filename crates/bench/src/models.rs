//! `models`: a package of an image plus two model caches of about 2 GB
//! together, one file shared by both (as two FLUX images share a text
//! encoder), against the engine's own commands and `tar` in the same run:
//! create against `docker save -o` + `tar -cf` of the caches and install
//! against `docker load -i` + `tar -xf` (each the median of alternated
//! runs), then a second install.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;
use testkit::images::ImageGuard;
use testkit::model_cache::{write_cache, CacheFileSpec};
use testkit::process::Measured;

use crate::measure::{
    docker_load, docker_save_to, gb, median_of, mib, remove_images, run_ok, runs, settle, MIB,
};
use crate::setup::{target, Setup, TARGET_EXTRA_MIB, TARGET_RSS_MIB};

/// The slowest create and first install allowed, as a multiple of the
/// engine's own command plus `tar`.
const TARGET_RATIO: f64 = 1.05;
/// The slowest second install allowed, as a multiple of the first.
const TARGET_AGAIN: f64 = 0.05;
/// Rounds of create and of install, each the baseline then the tool; the
/// ratios compare their medians, since single runs here vary by half (when the page cache's
/// writeback slows a writer down depends on what ran before).
const ROUNDS: usize = 3;

/// The two caches, by name; the `text_encoder` file is the same in both.
fn caches(mib_each: u64) -> Vec<(&'static str, Vec<CacheFileSpec>)> {
    let shared = (
        "text_encoder/model.safetensors".to_owned(),
        mib_each * 2 * MIB,
        7,
    );
    vec![
        (
            "bench-a",
            vec![
                shared.clone(),
                (
                    "transformer/a.safetensors".to_owned(),
                    mib_each * 2 * MIB,
                    11,
                ),
                ("vae/a.safetensors".to_owned(), mib_each * MIB / 2, 12),
                ("model_index.json".to_owned(), 600, 13),
            ],
        ),
        (
            "bench-b",
            vec![
                shared,
                (
                    "transformer/b.safetensors".to_owned(),
                    mib_each * 2 * MIB,
                    21,
                ),
                ("vae/b.safetensors".to_owned(), mib_each * MIB / 2, 22),
                ("model_index.json".to_owned(), 601, 23),
            ],
        ),
    ]
}

/// Runs the benchmark; `Ok(false)` when a target is missed.
pub fn run() -> anyhow::Result<bool> {
    let setup = Setup::prepare_with(100)?;
    let engine = &setup.engine;
    let dir = setup.dir().to_owned();
    let mib_each: u64 = std::env::var("BENCH_MODEL_MB")
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(256);
    eprintln!("bench: writing two model caches");
    let mut on_disk = 0;
    let mut cache_dirs = Vec::new();
    for (name, files) in caches(mib_each) {
        let root = dir.join("caches").join(name);
        on_disk += write_cache(&root, &files)?;
        cache_dirs.push((name, root));
    }
    let made = setup.load_images();
    let references = made.references().to_vec();
    let layers = setup.diff_ids()?;
    let images = ImageGuard::new(engine, references.clone());
    let catalog = catalog(&dir, &references[0])?;

    // Create: rounds of baseline then tool.
    let save_tar = dir.join("save.tar");
    let models_tar = dir.join("models.tar");
    let package = dir.join("pkg.zip");
    let mut bases = Vec::new();
    let mut creates = Vec::new();
    for _ in 0..ROUNDS {
        bases.push(create_baseline(
            &setup,
            &save_tar,
            &models_tar,
            &cache_dirs,
            &references[..1],
        )?);
        let _ = std::fs::remove_file(&package);
        creates.push(create(&setup, &catalog, &cache_dirs, &package)?);
    }
    let package_size = std::fs::metadata(&package)?.len();
    let tar_size = std::fs::metadata(&save_tar)?.len() + std::fs::metadata(&models_tar)?.len();
    drop(made);

    // Install: rounds of baseline then tool, each on an engine without the
    // images and into a fresh folder; the first round installs twice.
    remove_images(engine, &references, &layers)?;
    let extract = dir.join("extracted");
    let install_dir = dir.join("install");
    let mut install_bases = Vec::new();
    let mut firsts = Vec::new();
    let mut again = None;
    for _ in 0..ROUNDS {
        install_bases.push(install_baseline(
            &setup,
            &save_tar,
            &models_tar,
            &extract,
            &references,
            &layers,
        )?);
        firsts.push(setup.install(&package, &install_dir, &[], &[])?.run);
        if again.is_none() {
            again = Some(setup.install(&package, &install_dir, &[], &[])?.run);
        }
        setup.uninstall_all(&install_dir)?;
        remove_images(engine, &references, &layers)?;
    }
    let again = again.context("at least one round")?;
    drop(images);

    setup.print_engine();
    println!(
        "models: two caches, {} on disk, one {} file in both",
        gb(on_disk),
        gb(mib_each * 2 * MIB)
    );
    let create_base = median_of(&bases);
    let create_walls: Vec<Duration> = creates.iter().map(|c| c.wall).collect();
    let create_time = median_of(&create_walls);
    let create_ratio = create_time / create_base;
    let peak_rss = creates.iter().map(|c| c.peak_rss).max().unwrap_or(0);
    let extra = creates
        .iter()
        .map(|c| c.write_bytes as i64 - package_size as i64)
        .max()
        .unwrap_or(0);
    let unique = on_disk - mib_each * 2 * MIB;
    let ok_create = [
        create_ratio <= TARGET_RATIO,
        mib(peak_rss as i64) <= TARGET_RSS_MIB,
        mib(extra) < TARGET_EXTRA_MIB,
        package_size < tar_size - mib_each * 2 * MIB,
    ];
    println!(
        "docker save -o + tar -cf: median {create_base:.1} s (runs {}), tars {}",
        runs(&bases),
        gb(tar_size)
    );
    println!(
        "create: median {create_time:.1} s (runs {})  ratio {create_ratio:.2}{}  peak RSS {:.0} MiB{}  extra disk {:.2} MiB{}",
        runs(&create_walls),
        target(&format!("<= {TARGET_RATIO:.2}"), ok_create[0]),
        mib(peak_rss as i64),
        target(&format!("<= {TARGET_RSS_MIB:.0}"), ok_create[1]),
        mib(extra),
        target(&format!("< {TARGET_EXTRA_MIB:.0}"), ok_create[2]),
    );
    println!(
        "    package {} against tars {} (models {} unique){}",
        gb(package_size),
        gb(tar_size),
        gb(unique),
        target("the shared file once", ok_create[3])
    );
    let install_base = median_of(&install_bases);
    let first_walls: Vec<Duration> = firsts.iter().map(|f| f.wall).collect();
    let first_time = median_of(&first_walls);
    let install_ratio = first_time / install_base;
    let again_ratio = again.wall.as_secs_f64() / first_time;
    let install_rss = firsts.iter().map(|f| f.peak_rss).max().unwrap_or(0);
    let install_extra = firsts
        .iter()
        .map(|f| f.write_bytes as i64 - on_disk as i64)
        .max()
        .unwrap_or(0);
    let ok_install = [
        install_ratio <= TARGET_RATIO,
        again_ratio <= TARGET_AGAIN,
        mib(install_rss as i64) <= TARGET_RSS_MIB,
        mib(install_extra) < TARGET_EXTRA_MIB,
    ];
    println!(
        "docker load -i + tar -xf: median {install_base:.1} s (runs {})",
        runs(&install_bases)
    );
    println!(
        "install first: median {first_time:.1} s (runs {})  ratio {install_ratio:.2}{}  peak RSS {:.0} MiB{}  extra disk {:.2} MiB{}",
        runs(&first_walls),
        target(&format!("<= {TARGET_RATIO:.2}"), ok_install[0]),
        mib(install_rss as i64),
        target(&format!("<= {TARGET_RSS_MIB:.0}"), ok_install[2]),
        mib(install_extra),
        target(&format!("< {TARGET_EXTRA_MIB:.0}"), ok_install[3]),
    );
    println!(
        "install again: {:.2} s  ratio to first {again_ratio:.3}{}",
        again.wall.as_secs_f64(),
        target(&format!("<= {TARGET_AGAIN:.2}"), ok_install[1]),
    );
    let met = ok_create.iter().chain(&ok_install).all(|&ok| ok);
    println!(
        "{}",
        if met {
            "result: models meet every target"
        } else {
            "result: models MISS a target"
        }
    );
    setup.finish()?;
    Ok(met)
}

/// Two nodes of the same image, each with its model cache.
fn catalog(dir: &Path, image: &str) -> anyhow::Result<PathBuf> {
    let node = |name: &str, port: u16, cache: &str| {
        serde_json::json!({
            "name": name, "image": image, "host_port": port, "cache_mount": "/opt/nim/.cache",
            "model": { "cache": cache, "fill": ["download-to-cache", "--profiles", "{profiles}"] },
        })
    };
    let path = dir.join("catalog.json");
    let catalog = serde_json::json!({
        "nodes": [node("Model A", 9111, "bench-a"), node("Model B", 9112, "bench-b")]
    });
    std::fs::write(&path, serde_json::to_vec_pretty(&catalog)?)?;
    Ok(path)
}

/// `create-install-package` of both nodes with their caches into `package`,
/// measured after a settle.
fn create(
    setup: &Setup,
    catalog: &Path,
    caches: &[(&str, PathBuf)],
    package: &Path,
) -> anyhow::Result<Measured> {
    settle();
    let mut command = setup.tool_command(&setup.engine);
    command
        .args(["create-install-package", "--no-pull", "--json", "--catalog"])
        .arg(catalog)
        .args(["--nodes", "Model A,Model B", "--output"])
        .arg(package);
    for (name, root) in caches {
        command.arg(format!("--model-cache={name}={}", root.display()));
    }
    run_ok(&mut command, "create-install-package")
}

/// `docker save -o` of the image, then `tar -cf` of both caches; the
/// tars stay for the install baseline.
fn create_baseline(
    setup: &Setup,
    save_tar: &Path,
    models_tar: &Path,
    caches: &[(&str, PathBuf)],
    references: &[String],
) -> anyhow::Result<Duration> {
    settle();
    let save = docker_save_to(&setup.engine, save_tar, references)?;
    let mut tar = Command::new("tar");
    tar.arg("-cf").arg(models_tar);
    for (_, root) in caches {
        tar.arg("-C")
            .arg(root.parent().context("a cache has a folder")?);
        tar.arg(root.file_name().context("a cache has a name")?);
    }
    let packed = run_ok(&mut tar, "tar -cf")?;
    Ok(save.wall + packed.wall)
}

/// `docker load -i` of the image, then `tar -xf` of the caches into a fresh
/// folder; removes both again.
fn install_baseline(
    setup: &Setup,
    save_tar: &Path,
    models_tar: &Path,
    extract: &Path,
    references: &[String],
    layers: &[String],
) -> anyhow::Result<Duration> {
    let loaded = docker_load(&setup.engine, save_tar)?;
    std::fs::create_dir_all(extract)?;
    let mut tar = Command::new("tar");
    tar.arg("-xf").arg(models_tar).arg("-C").arg(extract);
    let unpacked = run_ok(&mut tar, "tar -xf")?;
    std::fs::remove_dir_all(extract)?;
    remove_images(&setup.engine, references, layers)?;
    Ok(loaded + unpacked.wall)
}
