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

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
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
