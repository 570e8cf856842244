//! A fleet installing from the studio's server (issue 20): eight
//! workstations, each its own home and install folder, spread over the
//! engines under test, run `install-package --package http://…` against one
//! loopback nginx at the same moment, then an update package of it the same
//! way. All succeed, and what nginx served each workstation (its own URL,
//! counted in the access log) is what the workstation lacked, predicted
//! from the package's manifest: its images' blobs but those the engine
//! holds already, and its model files. Before the first install an engine
//! holds, per node, nothing, the image's base layer, or the whole image;
//! the fleet runs three times, so that each engine meets each of those
//! (about 40 s in all here: a sample would save little).

use std::path::{Path, PathBuf};
use std::time::Instant;

use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageGuard, ImageSpec, Layer};
use testkit::model_cache::write_cache;
use testkit::nginx::Nginx;

use crate::http::{install_from, uninstall, END_WINDOW, MIB};
use crate::install_errors::{assert_untouched, engine_state, package_traces};
use crate::support::*;

testkit::tests![eight_workstations_install_and_update_at_once_downloading_only_what_each_lacks];

/// The workstations installing at once.
const WORKSTATIONS: usize = 8;

/// What an engine holds of a node's image before the fleet installs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    /// Nothing of it.
    Nothing,
    /// Its base layer, as the only layer of an image of the user's.
    BaseLayer,
    /// The whole image, loaded by the user from the package's `images/`.
    WholeImage,
}

const HELD: [Held; 3] = [Held::Nothing, Held::BaseLayer, Held::WholeImage];

/// One node of the fleet's packages: installs of different nodes never
/// share a container, a claim or an image, so two workstations on one
/// engine are as independent as two machines.
struct Node {
    /// Its image's base layer (version 1 and 2 share it).
    base: Layer,
    /// Its version 1 and version 2 packages, in nginx's folder.
    packages: [PathBuf; 2],
    /// Its Compose project (and container).
    project: String,
}

/// One workstation: its engine, the node it installs, what the engine
/// holds of that node's image, its home (the tool's own files) and the
/// folder nginx serves its copies of the packages from.
struct Workstation {
    engine: usize,
    node: usize,
    held: Held,
    home: PathBuf,
    folder: String,
}

impl Workstation {
    fn install_dir(&self) -> PathBuf {
        self.home.join("install")
    }

    /// The URL of its copy of `version` (1 or 2).
    fn url(&self, nginx: &Nginx, version: usize) -> String {
        nginx.url(&format!("{}/v{version}.zip", self.folder))
    }

    /// The bytes nginx sent for its copy of `version`.
    fn served(&self, nginx: &Nginx, version: usize) -> u64 {
        let target = format!("/{}/v{version}.zip", self.folder);
        nginx
            .served()
            .iter()
            .filter(|s| s.target == target)
            .map(|s| s.bytes)
            .sum()
    }
}

fn eight_workstations_install_and_update_at_once_downloading_only_what_each_lacks() {
    let engines = engines::require_available();
    let before: Vec<_> = engines.iter().map(engine_state).collect();
    let home = tempfile::tempdir().unwrap();
    let traces = fleet(&engines, home.path());
    // Every image, layer, container, claim and folder the fleet made is gone.
    for (engine, before) in engines.iter().zip(&before) {
        assert_untouched(engine, before, &traces, &engine.name);
    }
}

/// Runs the fleet on `engines` once for each offset of what the engines
/// hold (each engine meets each [`Held`]); returns what its packages
/// would leave on an engine (references, layers, blobs), for the check that
/// nothing is left.
fn fleet(engines: &[TestEngine], home: &Path) -> Vec<String> {
    let per_engine = WORKSTATIONS.div_ceil(engines.len());
    let served = home.join("served");
    let nodes = packages(&engines[0], home, &served, per_engine);
    // Every reference any engine may end up with, removed at the end.
    let _guards: Vec<ImageGuard> = engines
        .iter()
        .map(|engine| {
            let references = nodes
                .iter()
                .flat_map(|n| n.packages.iter().map(|p| image_reference(p)))
                .collect();
            ImageGuard::new(engine, references)
        })
        .collect();
    let _leftovers: Vec<NodeLeftovers> = engines
        .iter()
        .flat_map(|engine| nodes.iter().map(|n| NodeLeftovers::new(engine, &n.project)))
        .collect();
    let nginx = Nginx::serve(&served);
    for offset in 0..HELD.len() {
        // Workstation i: engine i % n, node i / n (so no two on one engine
        // install the same node); held state rotated by engine, node and offset.
        let workstations: Vec<Workstation> = (0..WORKSTATIONS)
            .map(|i| {
                let (engine, node) = (i % engines.len(), i / engines.len());
                let folder = format!("ws{offset}-{i}");
                std::fs::create_dir(served.join(&folder)).unwrap();
                for (v, package) in nodes[node].packages.iter().enumerate() {
                    std::fs::hard_link(
                        package,
                        served.join(&folder).join(format!("v{}.zip", v + 1)),
                    )
                    .unwrap();
                }
                Workstation {
                    engine,
                    node,
                    held: HELD[(engine + node + offset) % HELD.len()],
                    home: home.join(&folder),
                    folder,
                }
            })
            .collect();
        let _held = hold(engines, &nodes, &workstations);
        // Version 1 on each, then version 2 over it.
        for (version, what) in [(1, "installs"), (2, "updates")] {
            let started = Instant::now();
            let reports = at_once(engines, &workstations, &nginx, version);
            for (ws, report) in workstations.iter().zip(&reports) {
                let engine = &engines[ws.engine];
                let node = &nodes[ws.node];
                let (outcome, written, lacks) = match version {
                    // The two model files and the cache's `refs/main`.
                    1 if ws.held == Held::WholeImage => (
                        "already_present",
                        3,
                        first_install_lacks(engine, node, ws.held),
                    ),
                    1 => ("loaded", 3, first_install_lacks(engine, node, ws.held)),
                    _ => ("loaded", 1, update_lacks(node)),
                };
                assert_eq!(report["images"][0]["outcome"], outcome, "{report}");
                assert_eq!(report["models"]["written"], written, "{report}");
                let package = &node.packages[version - 1];
                check_served(engine, ws, package, ws.served(&nginx, version), lacks);
            }
            println!(
                "fleet (offset {offset}): {WORKSTATIONS} {what} at once in {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
        for ws in &workstations {
            uninstall(&ws.home, &engines[ws.engine], &ws.install_dir());
        }
    }
    nodes
        .iter()
        .flat_map(|n| n.packages.iter().flat_map(|p| package_traces(p)))
        .collect()
}

/// Makes `count` nodes' version 1 and 2 packages on `engine` into
/// `served`: each node's two images share a 2 MiB base layer and differ by
/// a 6 MiB layer; its model cache has a 3 MiB file both versions share and
/// one of 3 MiB that changes. The images are removed from the engine again.
fn packages(engine: &TestEngine, home: &Path, served: &Path, count: usize) -> Vec<Node> {
    let salt = u64::from(std::process::id()) << 24
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos() as u64;
    std::fs::create_dir_all(served).unwrap();
    // Even steps apart: a layer's generator takes its seed with the lowest
    // bit set, so seeds differing only there give the same bytes.
    let seed = |node: usize, what: u64| salt + 2 * (100 * node as u64 + what);
    let specs: Vec<[ImageSpec; 2]> = (0..count)
        .map(|node| {
            [1, 2].map(|version| ImageSpec {
                reference: images::unique_reference(&format!("fleet-{node}")),
                layers: vec![
                    Layer::Random(2 * MIB, seed(node, 1)),
                    Layer::Random(6 * MIB, seed(node, 10 + version)),
                ],
            })
        })
        .collect();
    let loaded = images::load(engine, &specs.concat());
    let nodes = specs
        .iter()
        .enumerate()
        .map(|(node, versions)| {
            let name = format!("Fleet {node}");
            let port = free_port();
            let packages = [0, 1].map(|v| {
                let cache = home.join(format!("cache-{node}-v{}", v + 1));
                let files = [
                    ("transformer/stable.safetensors".to_owned(), 3 * MIB, seed(node, 20)),
                    ("vae/changing.safetensors".to_owned(), 3 * MIB, seed(node, 30 + v as u64)),
                ];
                write_cache(&cache, &files).unwrap();
                let catalog = home.join(format!("catalog-{node}-v{}.json", v + 1));
                let entry = serde_json::json!({ "nodes": [{
                    "name": name, "image": versions[v].reference, "host_port": port,
                    "cache_mount": "/opt/nim/.cache",
                    "model": { "cache": format!("fleet-{node}"), "fill": ["download-to-cache", "--profiles", "{profiles}"] },
                }]});
                std::fs::write(&catalog, entry.to_string()).unwrap();
                let package = served.join(format!("fleet-{node}-v{}.zip", v + 1));
                run(bin(home, Some(&engine.host))
                    .args(["create-install-package", "--no-pull", "--catalog"])
                    .arg(&catalog)
                    .args(["--nodes", &name, "--output"])
                    .arg(&package)
                    .arg(format!("--model-cache={}", cache.display())))
                .success();
                package
            });
            Node {
                base: versions[0].layers[0],
                packages,
                project: format!("budgetguard-fleet-{node}"),
            }
        })
        .collect();
    drop(loaded);
    nodes
}

/// The reference of a package's one image.
fn image_reference(package: &Path) -> String {
    manifest_of(package)["images"][0]["references"][0]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Puts on each workstation's engine what it holds of its node's image;
/// returns the guards that remove it again.
fn hold(engines: &[TestEngine], nodes: &[Node], workstations: &[Workstation]) -> Vec<ImageGuard> {
    let mut guards = Vec::new();
    for ws in workstations {
        let engine = &engines[ws.engine];
        match ws.held {
            Held::Nothing => {}
            Held::BaseLayer => guards.push(images::load(
                engine,
                &[ImageSpec {
                    reference: images::unique_reference("fleet-base"),
                    layers: vec![nodes[ws.node].base],
                }],
            )),
            Held::WholeImage => {
                let package = &nodes[ws.node].packages[0];
                docker_load_images_folder(package, engine);
                guards.push(ImageGuard::new(engine, vec![image_reference(package)]));
            }
        }
    }
    guards
}

/// Starts `install-package --json` of its copy of `version` from `nginx`
/// on every workstation at once and waits for all; each must succeed.
/// Returns their reports, in order.
fn at_once(
    engines: &[TestEngine],
    workstations: &[Workstation],
    nginx: &Nginx,
    version: usize,
) -> Vec<serde_json::Value> {
    std::thread::scope(|scope| {
        let runs: Vec<_> = workstations
            .iter()
            .map(|ws| {
                let url = ws.url(nginx, version);
                let engine = &engines[ws.engine];
                scope.spawn(move || install_from(&ws.home, engine, &ws.install_dir(), &url, &[]))
            })
            .collect();
        runs.into_iter()
            .zip(workstations)
            .map(|(handle, ws)| {
                let done = handle.join().expect("the install thread ends");
                assert_eq!(
                    done.code, 0,
                    "workstation {} on {}: {}",
                    ws.folder, engines[ws.engine].name, done.stderr
                );
                done.json()
            })
            .collect()
    })
}

/// The sizes of a package's image blobs (manifest, config, layers, in that
/// order) and of its model files by SHA-256.
fn sizes(package: &Path) -> (Vec<u64>, Vec<(String, u64)>) {
    let manifest = manifest_of(package);
    let image = &manifest["images"][0];
    let size = |v: &serde_json::Value| v["size"].as_u64().unwrap();
    let mut blobs = vec![size(&image["manifest"]), size(&image["config"])];
    blobs.extend(image["layers"].as_array().unwrap().iter().map(size));
    let files = manifest["caches"][0]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["sha256"].as_str().unwrap().to_owned(), size(f)))
        .collect();
    (blobs, files)
}

/// What a first install of `node` lacks on `engine` holding `held`: the
/// bytes no store of the engine has, and those of blobs its containerd
/// store has only under an image of the user's from elsewhere, which it
/// downloads: the engine's API names no blob of an image, and a load
/// leaving out a blob the store lacks (it may hold that layer compressed)
/// is not refused but makes an image without it.
fn first_install_lacks(engine: &TestEngine, node: &Node, held: Held) -> (u64, u64) {
    let (blobs, files) = sizes(&node.packages[0]);
    let models: u64 = files.iter().map(|f| f.1).sum();
    let image: u64 = blobs.iter().sum();
    let base = blobs[2];
    match held {
        Held::Nothing => (image + models, 0),
        Held::BaseLayer if engine.containerd_store() => (image - base + models, base),
        Held::BaseLayer => (image - base + models, 0),
        Held::WholeImage => (models, 0),
    }
}

/// What the update of `node` lacks once version 1 is installed, on every
/// store: the new layer, config and manifest, and the changed model file.
/// (A containerd store whose version 1 was the user's, loaded before the
/// tool came, holds the base layer under that image: the tool knows its
/// blobs from version 1's package.)
fn update_lacks(node: &Node) -> (u64, u64) {
    let (blobs, files) = sizes(&node.packages[1]);
    let (_, old_files) = sizes(&node.packages[0]);
    let models: u64 = files
        .iter()
        .filter(|f| !old_files.contains(f))
        .map(|f| f.1)
        .sum();
    let image = blobs.iter().sum::<u64>() - blobs[2];
    (image + models, 0)
}

/// nginx sent `ws` at least the `lacking` bytes of `package` and at most
/// 1.01 times those and the `unknown` ones, plus the end of the package the
/// reader reads first (its central directory).
fn check_served(
    engine: &TestEngine,
    ws: &Workstation,
    package: &Path,
    served: u64,
    (lacking, unknown): (u64, u64),
) {
    let missing = lacking + unknown;
    let allowed = missing + missing / 100 + END_WINDOW;
    let size = std::fs::metadata(package).unwrap().len();
    let what = format!(
        "{} on {} holding {:?} of node {}",
        package.file_name().unwrap().to_string_lossy(),
        engine.name,
        ws.held,
        ws.node
    );
    println!(
        "{what}: {served} bytes served of {size}, {missing} missing (ratio {:.4})",
        served as f64 / missing as f64
    );
    assert!(
        (lacking..=allowed).contains(&served),
        "{what}: {served} bytes served, {lacking} lacking, at most {allowed} allowed"
    );
}
