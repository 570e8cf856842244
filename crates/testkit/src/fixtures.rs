//! Fixtures both test suites use: catalog files, folder listings, free
//! ports, copies of the Demo image under tags of their own, and small
//! tmpfs mounts.

use std::path::{Path, PathBuf};

use crate::engines::{self, TestEngine};
use crate::images::{self, ImageGuard};

/// The Demo node's image, built by `scripts/build-demo-image` (which
/// `scripts/test` runs on the machine's engine).
pub const DEMO_IMAGE: &str = "budgetguard/demo-nim:0.2.0";

/// Writes `catalog.json` in `dir` with `(name, image, host port)` nodes.
/// They have no model section, so a node of the Demo image is told to
/// serve without a model (`DEMO_NIM_REQUIRE_MODEL=0`, the Demo's test knob).
pub fn write_catalog(dir: &Path, nodes: &[(&str, &str, u16)]) -> PathBuf {
    let nodes: Vec<_> = nodes
        .iter()
        .map(|(name, image, port)| {
            serde_json::json!({
                "name": name, "image": image, "host_port": port,
                "environment": {"DEMO_NIM_REQUIRE_MODEL": "0"},
            })
        })
        .collect();
    let path = dir.join("catalog.json");
    std::fs::write(&path, serde_json::json!({ "nodes": nodes }).to_string())
        .expect("the catalog is written");
    path
}

/// The sorted names of the files in `dir`.
pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .expect("the folder is readable")
        .map(|e| {
            e.expect("an entry")
                .file_name()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    names.sort();
    names
}

/// A loopback port nothing listens on right now, below the range the
/// system hands out for `bind(0)` and outgoing connections (32768 and up
/// on Linux): a port from that range could be taken by a GUI, a
/// chromedriver or a connection of a test running at the same time before
/// the node that is given it starts.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static CALLS: AtomicU32 = AtomicU32::new(0);
    let seed = std::process::id()
        .wrapping_mul(2_654_435_761)
        .wrapping_add(CALLS.fetch_add(1, Ordering::Relaxed).wrapping_mul(7_919))
        .wrapping_add(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos()),
        );
    (0..2_000u32)
        .map(|i| 20_000 + (seed.wrapping_add(i.wrapping_mul(4_099)) % 12_000) as u16)
        .find(|port| std::net::TcpListener::bind(("127.0.0.1", *port)).is_ok())
        .expect("a free port below 32000")
}

/// The Demo image tagged under a reference of this test's own, so that
/// removing it (an uninstall does) never removes the image other tests use.
/// When the Demo image is absent the test is skipped (reported as ignored),
/// or fails when Docker is required.
pub fn demo_copy(engine: &TestEngine, name: &str) -> (String, ImageGuard) {
    let present = engine
        .docker()
        .args(["image", "inspect", DEMO_IMAGE])
        .output()
        .is_ok_and(|o| o.status.success());
    if !present {
        engines::skip(format!(
            "{DEMO_IMAGE} is not built on {} (scripts/build-demo-image)",
            engine.name
        ));
    }
    let reference = images::unique_reference(name);
    engine.docker_ok(&["tag", DEMO_IMAGE, &reference]);
    let guard = ImageGuard::new(engine, vec![reference.clone()]);
    (reference, guard)
}

/// The GPU a [`gpu_demo_copy`] image's `nvidia-smi` lists.
pub const DEMO_GPU: &str = "NVIDIA GeForce RTX 4090";

/// The Demo image with a stand-in `nvidia-smi` (the Demo binary under that
/// name, listing [`DEMO_GPU`]), built under a reference of this test's own:
/// the image of a GPU node whose probe runs where the engine grants the
/// GPU (a [`crate::gpu_proxy::GpuProxy`]). Skipped or failed as
/// [`demo_copy`] when the Demo image is absent.
pub fn gpu_demo_copy(engine: &TestEngine, name: &str) -> (String, ImageGuard) {
    let (demo, demo_guard) = demo_copy(engine, name);
    let reference = images::unique_reference(name);
    let dockerfile = format!(
        "FROM {demo}\nCOPY --from={demo} /demo-nim /usr/bin/nvidia-smi\nENV DEMO_NIM_GPUS=\"{DEMO_GPU}\"\n"
    );
    let mut build = engine
        .docker()
        .env("DOCKER_BUILDKIT", "0")
        .args(["build", "--quiet", "--tag", &reference, "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("docker build runs");
    std::io::Write::write_all(
        &mut build.stdin.take().expect("piped"),
        dockerfile.as_bytes(),
    )
    .expect("the Dockerfile is written");
    let built = build.wait_with_output().expect("docker build ends");
    assert!(
        built.status.success(),
        "docker build of {reference}: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    drop(demo_guard);
    let guard = ImageGuard::new(engine, vec![reference.clone()]);
    (reference, guard)
}

/// A small tmpfs mounted on a fresh folder (tests run as root), unmounted
/// and removed when dropped: a disk with almost no room.
pub struct Tmpfs {
    /// The mounted folder.
    pub dir: tempfile::TempDir,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (e.g. `1m`); the test is skipped where
    /// this cannot be done (not root), or fails when Docker is required.
    pub fn mount(size: &str) -> Self {
        let dir = tempfile::tempdir().expect("a temp folder");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            engines::skip("mounting a tmpfs needs root");
        }
        Self { dir }
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.dir.path())
            .status();
    }
}

/// What a forged package holds: how many nodes, images (the nodes run them
/// in turn), extra image blobs, and files of one model cache.
#[derive(Debug, Clone, Copy)]
pub struct Forge {
    /// Nodes, each with its Compose file.
    pub nodes: usize,
    /// Images, sharing one config and one image manifest blob.
    pub images: usize,
    /// Image blobs no image uses (a package may carry them).
    pub blobs: usize,
    /// Files of a model cache, all with the same content.
    pub model_files: usize,
}

/// Writes at `path`, with Python's `zipfile`, a package whose manifest
/// passes every structural check, as `forge` says; `change` (Python code)
/// may change `manifest` (a dict) before it is written, and `listed(name,
/// data)` adds an entry. No engine is needed: the image blobs are stand-ins,
/// which only opening the package does not read.
pub fn forge_package(path: &Path, forge: Forge, change: &str) {
    let script = format!(
        r#"
import sys, zipfile, json, hashlib
out, nodes, images, blobs, files = sys.argv[1], *map(int, sys.argv[2:6])
entries, data = [], {{}}
def listed(name, content):
    data[name] = content
    entries.append({{'name': name, 'size': len(content), 'sha256': hashlib.sha256(content).hexdigest()}})
def blob(content):
    h = hashlib.sha256(content).hexdigest()
    if 'images/blobs/sha256/' + h not in data:
        listed('images/blobs/sha256/' + h, content)
    return {{'digest': 'sha256:' + h, 'size': len(content)}}
config, image_manifest = blob(b'{{"config":1}}'), blob(b'{{"manifest":1}}')
manifest = {{'format': 'budgetguard-install-package', 'format_version': 2 if files else 1,
    'tool_version': '0.0.0', 'created': '2026-12-01T00:00:00Z', 'source_engine': 'forged',
    'compression': 'none', 'nodes': [], 'images': [], 'caches': [], 'entries': entries}}
for i in range(images):
    manifest['images'].append({{'references': ['forged%d:1' % i], 'id': 'sha256:%064x' % (i + 1),
        'manifest': image_manifest, 'config': config, 'layers': []}})
for i in range(nodes):
    listed('compose/n%d/docker-compose.yml' % i, b'services: {{}}\n')
    manifest['nodes'].append({{'name': 'n%d' % i, 'image': 'forged%d:1' % (i % max(images, 1)),
        'host_port': 1 + i % 65535, 'compose_file': 'compose/n%d/docker-compose.yml' % i}})
for i in range(blobs):
    blob(b'blob %d' % i)
if files:
    h = hashlib.sha256(b'weights').hexdigest()
    listed('models/blobs/sha256/' + h, b'weights')
    manifest['caches'].append({{'name': 'forged', 'image': 'forged0:1', 'files': [
        {{'path': 'd%d/f%d' % (i // 1000, i), 'size': 7, 'mode': 420, 'sha256': h}} for i in range(files)]}})
{change}
with zipfile.ZipFile(out, 'w') as z:
    z.writestr('budgetguard-package.json', json.dumps(manifest, separators=(',', ':')))
    for e in entries:
        z.writestr(e['name'], data[e['name']])
"#
    );
    let counts = [forge.nodes, forge.images, forge.blobs, forge.model_files];
    let out = std::process::Command::new("python3")
        .args(["-c", &script])
        .arg(path)
        .args(counts.map(|n| n.to_string()))
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
