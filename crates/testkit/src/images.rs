//! Synthetic images, written in the `docker save` format straight into
//! `docker load`, so tests and the benchmark need no registry and no build.
//! An [`ImageGuard`] removes the images when dropped.

use std::io::{self, Read, Write};
use std::process::Stdio;

use flate2::read::GzEncoder;
use sha2::{Digest, Sha256};

use crate::engines::TestEngine;

/// The gzip level of compressed layer files: fast, as the benchmark makes
/// gigabytes of them.
const FAST: flate2::Compression = flate2::Compression::fast();

/// The content of one layer: one file of that many bytes.
#[derive(Debug, Clone, Copy)]
pub enum Layer {
    /// Pseudo-random bytes (incompressible), from a seed.
    Random(u64, u64),
    /// Text-like bytes that compress well, from a seed.
    Compressible(u64, u64),
}

impl Layer {
    fn size(self) -> u64 {
        match self {
            Layer::Random(size, _) | Layer::Compressible(size, _) => size,
        }
    }

    /// The layer's file content, generated as it is read.
    pub fn reader(self) -> Box<dyn Read> {
        match self {
            Layer::Random(size, seed) => Box::new(Random { state: seed | 1 }.take(size)),
            Layer::Compressible(size, seed) => Box::new(Compressible { line: seed }.take(size)),
        }
    }
}

/// An image made of layers, bottom first.
#[derive(Debug, Clone)]
pub struct ImageSpec {
    /// Its reference, e.g. `budgetguard-test/x:1`.
    pub reference: String,
    /// Its layers.
    pub layers: Vec<Layer>,
}

/// Removes the named images from an engine when dropped.
#[derive(Debug)]
pub struct ImageGuard {
    engine: TestEngine,
    references: Vec<String>,
}

impl ImageGuard {
    /// Guards `references` on `engine`.
    pub fn new(engine: &TestEngine, references: Vec<String>) -> Self {
        Self {
            engine: engine.clone(),
            references,
        }
    }

    /// The guarded references.
    pub fn references(&self) -> &[String] {
        &self.references
    }
}

impl Drop for ImageGuard {
    fn drop(&mut self) {
        if self.references.is_empty() {
            return;
        }
        let _ = self
            .engine
            .docker()
            .args(["rmi", "-f"])
            .args(&self.references)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A reference unique to this process and call, under `budgetguard-test/`.
pub fn unique_reference(name: &str) -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    format!(
        "budgetguard-test/{name}-{}-{}:1",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// Loads the images into `engine` (one `docker load`) and guards them.
pub fn load(engine: &TestEngine, images: &[ImageSpec]) -> ImageGuard {
    load_as(engine, images, LayerFiles::Plain)
}

/// How the layer files of a written `docker save` tar are stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LayerFiles {
    /// Uncompressed tars, as `docker save` writes them.
    Plain,
    /// Gzip-compressed (fast level): the containerd image store keeps them
    /// so, as it keeps the layers of a pulled image.
    Gzip,
}

/// Loads the images into `engine` with their layer files stored as `files`
/// say (one `docker load`) and guards them.
pub fn load_as(engine: &TestEngine, images: &[ImageSpec], files: LayerFiles) -> ImageGuard {
    let guard = ImageGuard::new(engine, images.iter().map(|i| i.reference.clone()).collect());
    let mut child = engine
        .docker()
        .args(["load", "-q"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("docker load starts");
    let stdin = child.stdin.take().expect("stdin is piped");
    write_save_tar_as(io::BufWriter::with_capacity(1 << 20, stdin), images, files)
        .expect("docker load reads the images");
    let out = child.wait_with_output().expect("docker load ends");
    assert!(
        out.status.success(),
        "docker load on {} failed: {}",
        engine.name,
        String::from_utf8_lossy(&out.stderr)
    );
    guard
}

/// Writes `images` as a classic `docker save` tar (layers shared by content
/// are written once), with the layer files stored as `files` say.
pub fn write_save_tar_as(
    out: impl Write,
    images: &[ImageSpec],
    files: LayerFiles,
) -> io::Result<()> {
    let mut tar = tar::Builder::new(out);
    let mut written: Vec<(String, String)> = Vec::new(); // (layer key, diff id)
    let mut manifest = Vec::new();
    for image in images {
        let mut diff_ids = Vec::new();
        let mut paths = Vec::new();
        for layer in &image.layers {
            let key = format!("{layer:?}");
            let diff_id = match written.iter().find(|(k, _)| *k == key) {
                Some((_, id)) => id.clone(),
                None => {
                    let id = append_layer(&mut tar, *layer, files)?;
                    written.push((key, id.clone()));
                    id
                }
            };
            paths.push(format!("{}/layer.tar", &diff_id[7..]));
            diff_ids.push(diff_id);
        }
        let config = serde_json::to_vec(&serde_json::json!({
            "architecture": "amd64",
            "os": "linux",
            "created": "2026-01-01T00:00:00Z",
            "config": { "Cmd": ["/data"] },
            "rootfs": { "type": "layers", "diff_ids": diff_ids },
            "history": image.layers.iter().map(|_| serde_json::json!({"created_by": "testkit"})).collect::<Vec<_>>(),
        }))?;
        let config_name = format!("{}.json", hex::encode(Sha256::digest(&config)));
        append_file(&mut tar, &config_name, config.len() as u64, &config[..])?;
        manifest.push(serde_json::json!({
            "Config": config_name,
            "RepoTags": [image.reference],
            "Layers": paths,
        }));
    }
    let manifest = serde_json::to_vec(&manifest)?;
    append_file(
        &mut tar,
        "manifest.json",
        manifest.len() as u64,
        &manifest[..],
    )?;
    tar.into_inner()?.flush()
}

/// Appends `<diff id hex>/layer.tar`: a tar holding one file, `/data`,
/// stored as `files` say.
fn append_layer<W: Write>(
    tar: &mut tar::Builder<W>,
    layer: Layer,
    files: LayerFiles,
) -> io::Result<String> {
    // The inner tar: a header, the data padded to 512 bytes, two zero blocks.
    let inner_size = 512 + layer.size().div_ceil(512) * 512 + 1024;
    let mut inner_header = tar::Header::new_gnu();
    inner_header.set_path("data")?;
    inner_header.set_size(layer.size());
    inner_header.set_mode(0o755);
    inner_header.set_mtime(1_767_225_600);
    inner_header.set_cksum();
    // First pass: the digest. The data is generated, so reading it twice is cheap.
    let diff_id = {
        let mut hasher = HashWriter(Sha256::new());
        write_inner(&mut hasher, &inner_header, layer)?;
        format!("sha256:{}", hex::encode(hasher.0.finalize()))
    };
    let name = format!("{}/layer.tar", &diff_id[7..]);
    match files {
        LayerFiles::Plain => {
            append_file(tar, &name, inner_size, inner_tar(&inner_header, layer))?;
        }
        LayerFiles::Gzip => {
            // Compressed twice (the same bytes): once to learn the size the
            // tar header needs, once into the tar; never held in memory.
            let gzip = |layer| GzEncoder::new(inner_tar(&inner_header, layer), FAST);
            let size = io::copy(&mut gzip(layer), &mut io::sink())?;
            append_file(tar, &name, size, gzip(layer))?;
        }
    }
    Ok(diff_id)
}

fn write_inner(out: &mut impl Write, header: &tar::Header, layer: Layer) -> io::Result<()> {
    io::copy(&mut inner_tar(header, layer), out).map(|_| ())
}

/// The bytes of a one-file layer tar, generated on the fly.
fn inner_tar(header: &tar::Header, layer: Layer) -> impl Read {
    let padding = (layer.size().div_ceil(512) * 512 - layer.size()) as usize;
    io::Cursor::new(header.as_bytes().to_vec())
        .chain(layer.reader())
        .chain(io::Cursor::new(vec![0u8; padding + 1024]))
}

fn append_file<W: Write>(
    tar: &mut tar::Builder<W>,
    name: &str,
    size: u64,
    data: impl Read,
) -> io::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(size);
    header.set_mode(0o644);
    header.set_mtime(1_767_225_600);
    tar.append_data(&mut header, name, data)
}

struct HashWriter(Sha256);

impl Write for HashWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// xorshift64: fast, incompressible enough for tests.
struct Random {
    state: u64,
}

impl Read for Random {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for chunk in buf.chunks_mut(8) {
            self.state ^= self.state << 13;
            self.state ^= self.state >> 7;
            self.state ^= self.state << 17;
            let bytes = self.state.to_le_bytes();
            chunk.copy_from_slice(&bytes[..chunk.len()]);
        }
        Ok(buf.len())
    }
}

/// Numbered log-like lines: compress about 5 to 10 times.
struct Compressible {
    line: u64,
}

impl Read for Compressible {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let text = format!(
            "{:012} INFO worker-{} processed request {} in {} ms\n",
            self.line,
            self.line % 7,
            self.line.wrapping_mul(2_654_435_761) % 100_000,
            self.line % 97
        );
        self.line += 1;
        let n = text.len().min(buf.len());
        buf[..n].copy_from_slice(&text.as_bytes()[..n]);
        Ok(n)
    }
}
