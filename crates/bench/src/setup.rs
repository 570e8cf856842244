//! What every benchmark shares: the engine in `DOCKER_HOST`, the tool next to
//! this executable, the synthetic two-image set loaded into the engine, its
//! catalog, a temporary folder, a measured `create-install-package` run, the
//! package of one version of a node with a model cache, and a measured
//! `install-package` run.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{ensure, Context};
use tempfile::TempDir;
use testkit::engines::TestEngine;
use testkit::images::{self, ImageGuard, ImageSpec, Layer, LayerFiles};
use testkit::model_cache::{write_cache, CacheFileSpec};
use testkit::process::Measured;

use crate::measure::{gb, run_ok, settle, MIB};

/// The slowest gated run allowed, as a multiple of the engine's own command
/// (`docker save -o` for create, `docker load -i` for install).
pub const TARGET_RATIO: f64 = 1.10;
/// What a package holds beyond the images, which the engine's `docker save`
/// tar of them lacks: the installers, Compose files, README, checksums and
/// manifest (about 8 KiB for two nodes). The size target is the tar's size
/// (a ratio of 1.0) and this.
pub const OWN_FILES: u64 = 64 << 10;

/// The size of a package against the `docker save` tar of its images:
/// whether it meets the target, and the text to print (the ratio and the
/// difference in KiB).
pub fn size_against_tar(package: u64, tar: u64) -> (bool, String) {
    let ratio = package as f64 / tar.max(1) as f64;
    let kib = (package as f64 - tar as f64) / 1024.0;
    (
        package <= tar.saturating_add(OWN_FILES),
        format!("{ratio:.3} ({kib:+.1} KiB)"),
    )
}
/// The highest peak RSS allowed, in MiB.
pub const TARGET_RSS_MIB: f64 = 100.0;
/// The most the tool may write beyond its output (the package for create,
/// nothing for install), in MiB (exclusive).
pub const TARGET_EXTRA_MIB: f64 = 1.0;

/// The engine, the tool, the image set and a temporary folder for one
/// benchmark run.
pub struct Setup {
    /// The engine in `DOCKER_HOST`: the one measured.
    pub engine: TestEngine,
    /// The engine the images are made, saved and packaged on:
    /// `BENCH_SOURCE_HOST`, by default the measured engine itself.
    pub source: TestEngine,
    /// `budgetguard-techops`.
    pub tool: PathBuf,
    /// The engine's version, e.g. `20.10.24+dfsg1`.
    pub version: String,
    /// Whether the engine stores images in containerd.
    pub containerd_store: bool,
    /// The two images.
    pub specs: Vec<ImageSpec>,
    /// The bytes of their distinct layers.
    pub set_size: u64,
    /// The temporary folder (removed when dropped, or by [`Setup::finish`]).
    pub temp: TempDir,
}

impl Setup {
    /// Reads `DOCKER_HOST`, `BENCH_SOURCE_HOST` and `BENCH_LAYER_MB`, checks
    /// that the engines answer and the tool is built, and makes a temporary
    /// folder.
    pub fn prepare() -> anyhow::Result<Self> {
        Self::prepare_with(600)
    }

    /// As [`Setup::prepare`], with big layers of `default_mb` MiB unless
    /// `BENCH_LAYER_MB` says otherwise (an image beside something bigger).
    pub fn prepare_with(default_mb: u64) -> anyhow::Result<Self> {
        let engine = TestEngine {
            name: "bench".to_owned(),
            host: std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned()),
        };
        let source = match std::env::var("BENCH_SOURCE_HOST") {
            Ok(host) if !host.trim().is_empty() && host.trim() != engine.host => TestEngine {
                name: "source".to_owned(),
                host: host.trim().to_owned(),
            },
            _ => engine.clone(),
        };
        for engine in [&engine, &source] {
            ensure!(
                engine.answers(),
                "the engine at {} does not answer",
                engine.host
            );
        }
        let tool = tool_path()?;
        let layer_mb: u64 = match std::env::var("BENCH_LAYER_MB") {
            Ok(v) => v
                .trim()
                .parse()
                .with_context(|| format!("BENCH_LAYER_MB={v:?} is not a number of MiB"))?,
            Err(_) => default_mb,
        };
        let version = engine
            .docker_ok(&["version", "--format", "{{.Server.Version}}"])
            .trim()
            .to_owned();
        let containerd_store = engine.containerd_store();
        let (specs, set_size) = image_set(layer_mb * MIB);
        let temp = tempfile::Builder::new()
            .prefix("budgetguard-bench.")
            .tempdir()
            .context("create a temporary folder")?;
        Ok(Self {
            engine,
            source,
            tool,
            version,
            containerd_store,
            specs,
            set_size,
            temp,
        })
    }

    /// The temporary folder.
    pub fn dir(&self) -> &Path {
        self.temp.path()
    }

    /// The image references, "Bench A" first.
    pub fn references(&self) -> Vec<String> {
        self.specs.iter().map(|s| s.reference.clone()).collect()
    }

    /// How the image set's layers are loaded into the source engine: as a
    /// containerd store keeps pulled images (gzip-compressed) there, else
    /// uncompressed.
    pub fn layer_files(&self) -> LayerFiles {
        if self.source.containerd_store() {
            LayerFiles::Gzip
        } else {
            LayerFiles::Plain
        }
    }

    /// Loads the image set into the source engine (see
    /// [`Setup::layer_files`]); the guard removes it when dropped.
    pub fn load_images(&self) -> ImageGuard {
        eprintln!(
            "bench: loading 2 images ({}, layers {:?}) into the engine at {}",
            gb(self.set_size),
            self.layer_files(),
            self.source.host
        );
        let started = Instant::now();
        let guard = images::load_as(&self.source, &self.specs, self.layer_files());
        eprintln!("bench: loaded in {:.1} s", started.elapsed().as_secs_f64());
        guard
    }

    /// The diff IDs of the image set's layers, asked of the source engine
    /// (the second image holds every layer).
    pub fn diff_ids(&self) -> anyhow::Result<Vec<String>> {
        let references = self.references();
        let listed = self.source.docker_ok(&[
            "image",
            "inspect",
            "--format",
            "{{json .RootFS.Layers}}",
            &references[1],
        ]);
        serde_json::from_str(listed.trim()).with_context(|| {
            format!(
                "the layers of {} are not a JSON list: {listed}",
                references[1]
            )
        })
    }

    /// Writes a catalog naming the images "Bench A" and "Bench B".
    pub fn write_catalog(&self) -> anyhow::Result<PathBuf> {
        let path = self.dir().join("catalog.json");
        let references = self.references();
        let catalog = serde_json::json!({
            "nodes": [
                { "name": "Bench A", "image": references[0], "host_port": 9101 },
                { "name": "Bench B", "image": references[1], "host_port": 9102 },
            ]
        });
        std::fs::write(&path, serde_json::to_vec_pretty(&catalog)?)
            .with_context(|| format!("write {}", path.display()))?;
        Ok(path)
    }

    /// A `budgetguard-techops` command aimed at `engine`.
    pub fn tool_command(&self, engine: &TestEngine) -> Command {
        let mut command = Command::new(&self.tool);
        command.env("DOCKER_HOST", &engine.host);
        command
    }

    /// Runs `uninstall --all --purge-cache` on the measured engine for the
    /// install folder `dir`, and checks that it succeeded.
    pub fn uninstall_all(&self, dir: &Path) -> anyhow::Result<()> {
        let mut uninstall = self.tool_command(&self.engine);
        uninstall
            .env("BUDGETGUARD_INSTALL_DIR", dir)
            .args(["uninstall", "--all", "--purge-cache"]);
        run_ok(&mut uninstall, "uninstall --all --purge-cache")?;
        Ok(())
    }

    /// Runs `create-install-package --no-pull --json` of both nodes with
    /// `compression` into `output` on the source engine, measured, and
    /// checks that it succeeded and wrote the size it reported.
    pub fn create_package(
        &self,
        catalog: &Path,
        compression: &str,
        output: &Path,
    ) -> anyhow::Result<PackageRun> {
        let mut command = self.tool_command(&self.source);
        command
            .arg("create-install-package")
            .arg("--no-pull")
            .arg("--json")
            .arg("--catalog")
            .arg(catalog)
            .args(["--nodes", "Bench A,Bench B", "--compression", compression])
            .arg("--output")
            .arg(output);
        let run = run_ok(
            &mut command,
            &format!("create-install-package --compression {compression}"),
        )?;
        let size = std::fs::metadata(output)
            .with_context(|| {
                format!(
                    "the tool reported success but wrote no {}",
                    output.display()
                )
            })?
            .len();
        let report: serde_json::Value = serde_json::from_str(&run.stdout)
            .with_context(|| format!("the tool's --json output is not JSON: {}", run.stdout))?;
        ensure!(
            report["size"].as_u64() == Some(size),
            "the tool reported size {} but {} holds {size} bytes",
            report["size"],
            output.display()
        );
        Ok(PackageRun { run, size })
    }

    /// Writes the model cache of `files` and a catalog of `node` on `image`
    /// (both named for `version`) in the temporary folder, and packages them
    /// into `output` on the measured engine.
    pub fn package_version(
        &self,
        node: &ModelNode,
        version: usize,
        image: &str,
        files: &[CacheFileSpec],
        output: &Path,
    ) -> anyhow::Result<()> {
        let cache = self.dir().join(format!("cache-v{version}"));
        write_cache(&cache, files)?;
        let catalog = self.dir().join(format!("catalog-v{version}.json"));
        let entry = serde_json::json!({ "nodes": [{
            "name": node.name, "image": image, "host_port": node.host_port,
            "cache_mount": "/opt/nim/.cache",
            "model": { "cache": node.cache, "fill": ["download-to-cache", "--profiles", "{profiles}"] },
        }]});
        std::fs::write(&catalog, serde_json::to_vec_pretty(&entry)?)
            .with_context(|| format!("write {}", catalog.display()))?;
        let mut create = self.tool_command(&self.engine);
        create
            .args(["create-install-package", "--no-pull", "--catalog"])
            .arg(&catalog)
            .args(["--nodes", node.name, "--output"])
            .arg(output)
            .arg(format!("--model-cache={}", cache.display()));
        run_ok(
            &mut create,
            &format!("create-install-package of version {version}"),
        )?;
        Ok(())
    }

    /// Runs `install-package --json` of `package` (a file, a part or a
    /// URL) into the install folder `dir` on the measured engine with the
    /// further arguments `args` and environment `env`, measured after
    /// [`settle`]; checks that it succeeded and reads its report.
    pub fn install(
        &self,
        package: impl AsRef<OsStr>,
        dir: &Path,
        args: &[String],
        env: &[(&str, &str)],
    ) -> anyhow::Result<Installed> {
        settle();
        let mut command = self.tool_command(&self.engine);
        command
            .env("BUDGETGUARD_INSTALL_DIR", dir)
            .envs(env.iter().copied())
            .args(["install-package", "--json", "--package"])
            .arg(package)
            .args(args);
        let run = run_ok(&mut command, "install-package")?;
        let report = serde_json::from_str(&run.stdout)
            .with_context(|| format!("the tool's --json output is not JSON: {}", run.stdout))?;
        Ok(Installed { run, report })
    }

    /// The first line of every report, e.g. `engine Docker 20.10.24 (classic
    /// store) at unix:///var/run/docker.sock, images 1.26 GB`.
    pub fn print_engine(&self) {
        println!(
            "engine Docker {} ({}) at {}, images {} (layers {:?}){}",
            self.version,
            if self.containerd_store {
                "containerd store"
            } else {
                "classic store"
            },
            self.engine.host,
            gb(self.set_size),
            self.layer_files(),
            if self.source == self.engine {
                String::new()
            } else {
                format!(" (made, saved and packaged at {})", self.source.host)
            }
        );
    }

    /// Removes the temporary folder, reporting a failure to do so.
    pub fn finish(self) -> anyhow::Result<()> {
        let path = self.temp.path().to_owned();
        self.temp
            .close()
            .with_context(|| format!("remove {}", path.display()))
    }
}

/// A node with a model cache, of which [`Setup::package_version`] packages
/// versions.
pub struct ModelNode<'a> {
    /// Its name in the catalog.
    pub name: &'a str,
    /// Its host port.
    pub host_port: u16,
    /// Its model cache's name.
    pub cache: &'a str,
}

/// A successful, measured `install-package --json` run.
pub struct Installed {
    /// What the run used.
    pub run: Measured,
    /// Its `--json` report.
    pub report: serde_json::Value,
}

impl Installed {
    /// Its wall time in seconds.
    pub fn secs(&self) -> f64 {
        self.run.wall.as_secs_f64()
    }
}

/// A successful, measured `create-install-package` run.
pub struct PackageRun {
    /// What the run used.
    pub run: Measured,
    /// The package's size in bytes.
    pub size: u64,
}

/// `budgetguard-techops`, next to this executable.
pub fn tool_path() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("find this executable")?;
    let tool = exe
        .parent()
        .context("this executable has no folder")?
        .join("budgetguard-techops");
    ensure!(
        tool.is_file(),
        "{} is missing: build it with `cargo build --release -p budgetguard-techops` (scripts/bench does)",
        tool.display()
    );
    Ok(tool)
}

/// The two-image set and the bytes of its distinct layers: image 1 has a few
/// small layers, one random and one compressible layer of `big` bytes; image
/// 2 has the same layers and one small layer on top.
///
/// The layers' content is unique to this run: a layer with the same content
/// left in the engine by another run (an image of a concurrent run, or a
/// layer an engine failed to delete) would let `docker load` skip it and
/// make the baseline meaningless.
fn image_set(big: u64) -> (Vec<ImageSpec>, u64) {
    let salt = run_salt();
    let base = vec![
        Layer::Compressible(1000, salt + 1),
        Layer::Random(100 * 1024, salt + 2),
        Layer::Compressible(2 * MIB, salt + 3),
        Layer::Random(big, salt + 4),
        Layer::Compressible(big, salt + 5),
        Layer::Random(64 * 1024, salt + 6),
    ];
    let mut top = base.clone();
    top.push(Layer::Compressible(300 * 1024, salt + 7));
    let size = top
        .iter()
        .map(|l| match *l {
            Layer::Random(size, _) | Layer::Compressible(size, _) => size,
        })
        .sum();
    let specs = vec![
        ImageSpec {
            reference: images::unique_reference("bench-a"),
            layers: base,
        },
        ImageSpec {
            reference: images::unique_reference("bench-b"),
            layers: top,
        },
    ];
    (specs, size)
}

/// A seed offset unique to this run: a multiple of 16 (the random layers'
/// seeds stay distinct after `| 1`), below 10^11 (the compressible layers'
/// line numbers keep their width).
pub(crate) fn run_salt() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mixed = (nanos as u64) ^ (u64::from(std::process::id()) << 32);
    (mixed % 5_000_000_000) * 16
}

/// The tool's own "<step>: done in <t>s" lines of `stderr`, as "<step> <t>s",
/// and the part of `wall` outside them, e.g. `Loading images 11.8s, other
/// 0.8s`.
pub fn phases_text(stderr: &str, wall: Duration) -> String {
    let mut parts = Vec::new();
    let mut inside = 0.0;
    for (step, time) in stderr.lines().filter_map(|l| l.split_once(": done in ")) {
        inside += time.trim_end_matches('s').parse::<f64>().unwrap_or(0.0);
        parts.push(format!("{step} {time}"));
    }
    if parts.is_empty() {
        parts.push("no phase times reported".to_owned());
    }
    parts.push(format!("other {:.1}s", wall.as_secs_f64() - inside));
    parts.join(", ")
}

/// ` (target <text>)`, or ` (target <text>: MISSED)` when not `ok`.
pub fn target(text: &str, ok: bool) -> String {
    if ok {
        format!(" (target {text})")
    } else {
        format!(" (target {text}: MISSED)")
    }
}
