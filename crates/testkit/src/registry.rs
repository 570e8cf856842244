//! A real registry for tests: Debian's `docker-registry` (distribution 2.8)
//! on a free loopback port, storing in a temp folder, optionally behind
//! htpasswd logins; stopped when dropped. Images are pushed over the
//! registry's HTTP API directly (no engine): generated layers, a config,
//! a Docker schema 2 manifest, or an OCI index of several platforms.

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use flate2::write::GzEncoder;
use sha2::{Digest, Sha256};

use crate::engines::TestEngine;
use crate::images::Layer;
use crate::{engines, fixtures, http, layer_tar};

/// The media types pushed images use.
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const OCI_LAYER_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A layer as pushed.
#[derive(Debug, Clone, Copy)]
pub enum PushLayer {
    /// Gzip-compressed at gzip's default level, as `docker push` compresses
    /// and registries usually serve layers (built in memory).
    Gzip(Layer),
    /// An uncompressed tar (OCI's `…layer.v1.tar`), streamed from the
    /// generator: any size.
    Tar(Layer),
}

/// A blob as pushed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedBlob {
    /// Its media type.
    pub media_type: String,
    /// Its digest.
    pub digest: String,
    /// Its size.
    pub size: u64,
}

/// An image as pushed.
#[derive(Debug, Clone)]
pub struct PushedImage {
    /// Its reference, `127.0.0.1:<port>/<name>:<tag>`.
    pub reference: String,
    /// The manifest's digest.
    pub manifest_digest: String,
    /// The manifest's size.
    pub manifest_size: u64,
    /// The config blob.
    pub config: PushedBlob,
    /// The layers, bottom first.
    pub layers: Vec<PushedBlob>,
    /// The platform it was pushed for (`linux/amd64`).
    pub platform: String,
}

/// A running registry.
pub struct TestRegistry {
    child: Child,
    addr: SocketAddr,
    login: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl std::fmt::Debug for TestRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestRegistry")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// Ends the running test as skipped (failed when Docker is required):
/// Debian's `docker-registry` is missing. For `TestRegistry::start().unwrap_or_else(no_registry)`.
pub fn no_registry() -> TestRegistry {
    engines::skip("docker-registry is not installed (.ci/deps.sh)")
}

impl TestRegistry {
    /// An anonymous registry; `None` (the test skips) when `docker-registry`
    /// is missing and Docker is not required, a failure when it is.
    pub fn start() -> Option<Self> {
        Self::launch(None)
    }

    /// A registry that takes only `user` with `password` (htpasswd, bcrypt).
    pub fn with_login(user: &str, password: &str) -> Option<Self> {
        Self::launch(Some((user.to_owned(), password.to_owned())))
    }

    fn launch(login: Option<(String, String)>) -> Option<Self> {
        if !engines::tool_found(
            "docker-registry",
            "docker-registry is not installed (.ci/deps.sh)",
        ) {
            return None;
        }
        let dir = tempfile::tempdir().expect("a temp folder");
        let port = fixtures::free_port();
        let auth = match &login {
            Some((user, password)) => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, password])
                    .output()
                    .expect("htpasswd runs (package apache2-utils)");
                assert!(
                    out.status.success(),
                    "htpasswd: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, &out.stdout).expect("htpasswd is written");
                format!(
                    "auth:\n  htpasswd:\n    realm: testkit\n    path: {}\n",
                    path.display()
                )
            }
            None => String::new(),
        };
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: 127.0.0.1:{port}\n{auth}",
                dir.path().join("data").display()
            ),
        )
        .expect("the registry config is written");
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry starts");
        let registry = Self {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
            login,
            _dir: dir,
        };
        let started = Instant::now();
        while http::send(registry.addr, "GET", "/v2/", &[], std::io::empty(), 0).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the registry did not answer within 20 s"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(registry)
    }

    /// Its address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its host for references, `127.0.0.1:<port>`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Pushes an image of `layers` for linux/amd64 as `<name>:<tag>` with a
    /// Docker schema 2 manifest.
    pub fn push_image(&self, name: &str, tag: &str, layers: &[PushLayer]) -> PushedImage {
        self.push_platform_image(name, tag, layers, "linux/amd64")
    }

    /// Pushes an image of `layers` for `platform` (`"linux/arm64"`) as
    /// `<name>:<tag>` (by its digest when `tag` is empty) with a Docker
    /// schema 2 manifest.
    pub fn push_platform_image(
        &self,
        name: &str,
        tag: &str,
        layers: &[PushLayer],
        platform: &str,
    ) -> PushedImage {
        let (pushed, diff_ids): (Vec<_>, Vec<_>) =
            layers.iter().map(|l| self.push_layer(name, *l)).unzip();
        let (os, architecture) = platform.split_once('/').expect("os/architecture");
        let config = serde_json::json!({
            "architecture": architecture,
            "os": os,
            "created": "2026-01-01T00:00:00Z",
            "config": {"Cmd": ["/data"]},
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
        });
        self.push_config_and_manifest(name, tag, &config, pushed, platform)
    }

    /// Pushes one image per `(platform, layers)` (`"linux/arm64"`) and an
    /// OCI index of them as `<name>:<tag>`; returns the index's digest and
    /// the images.
    pub fn push_index(
        &self,
        name: &str,
        tag: &str,
        platforms: &[(&str, Vec<PushLayer>)],
    ) -> (String, Vec<PushedImage>) {
        let images: Vec<PushedImage> = platforms
            .iter()
            .map(|(platform, layers)| self.push_platform_image(name, "", layers, platform))
            .collect();
        let digest = self.push_index_of(name, tag, &images.iter().collect::<Vec<_>>());
        (digest, images)
    }

    /// Pushes an OCI index of `images` (pushed to `name` already, by tag or
    /// digest) as `<name>:<tag>`; returns its digest.
    pub fn push_index_of(&self, name: &str, tag: &str, images: &[&PushedImage]) -> String {
        let entries: Vec<_> = images
            .iter()
            .map(|image| {
                let (os, architecture) = image.platform.split_once('/').expect("os/architecture");
                serde_json::json!({
                    "mediaType": DOCKER_MANIFEST,
                    "digest": image.manifest_digest,
                    "size": image.manifest_size,
                    "platform": {"os": os, "architecture": architecture},
                })
            })
            .collect();
        let index = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        }))
        .expect("JSON serializes");
        self.put_manifest(name, tag, OCI_INDEX, &index)
    }

    /// Pushes the image `local` of `engine` as `<name>:<tag>` with skopeo
    /// (which gzips its layers, as `docker push` does); `None` (the test
    /// skips) when skopeo is missing and Docker is not required.
    pub fn push_from_engine(
        &self,
        engine: &TestEngine,
        local: &str,
        name: &str,
        tag: &str,
    ) -> Option<PushedImage> {
        if !engines::tool_found("skopeo", "skopeo is not installed (.ci/deps.sh)") {
            return None;
        }
        let mut command = Command::new("skopeo");
        command
            .args(["copy", "--quiet", "--dest-tls-verify=false"])
            .args(["--src-daemon-host", &engine.host]);
        if let Some((user, password)) = &self.login {
            command
                .arg("--dest-creds")
                .arg(format!("{user}:{password}"));
        }
        let out = command
            .arg(format!("docker-daemon:{local}"))
            .arg(format!("docker://{}/{name}:{tag}", self.host()))
            .output()
            .expect("skopeo runs");
        assert!(
            out.status.success(),
            "skopeo copy {local}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let manifest = self.get(&format!("/v2/{name}/manifests/{tag}"), DOCKER_MANIFEST);
        let document: serde_json::Value =
            serde_json::from_slice(&manifest).expect("a JSON manifest");
        let blob = |d: &serde_json::Value| PushedBlob {
            media_type: d["mediaType"].as_str().unwrap_or_default().to_owned(),
            digest: d["digest"].as_str().expect("a digest").to_owned(),
            size: d["size"].as_u64().expect("a size"),
        };
        Some(PushedImage {
            reference: format!("{}/{name}:{tag}", self.host()),
            manifest_digest: format!("sha256:{}", hex::encode(Sha256::digest(&manifest))),
            manifest_size: manifest.len() as u64,
            config: blob(&document["config"]),
            layers: document["layers"]
                .as_array()
                .expect("layers")
                .iter()
                .map(blob)
                .collect(),
            platform: "linux/amd64".to_owned(),
        })
    }

    /// Pushes `base` with `layers` added on top as `<name>:<tag>`: its
    /// config gets their diff IDs and the time `created`.
    pub fn push_on_top(
        &self,
        base: &PushedImage,
        name: &str,
        tag: &str,
        layers: &[PushLayer],
        created: &str,
    ) -> PushedImage {
        let config = self.get(&format!("/v2/{name}/blobs/{}", base.config.digest), "*/*");
        let mut config: serde_json::Value = serde_json::from_slice(&config).expect("a config");
        let mut pushed = base.layers.clone();
        for layer in layers {
            let (blob, diff_id) = self.push_layer(name, *layer);
            pushed.push(blob);
            config["rootfs"]["diff_ids"]
                .as_array_mut()
                .expect("diff IDs")
                .push(diff_id.into());
        }
        config["created"] = created.into();
        self.push_config_and_manifest(name, tag, &config, pushed, &base.platform)
    }

    /// Pushes one layer; returns its blob and diff ID.
    fn push_layer(&self, name: &str, layer: PushLayer) -> (PushedBlob, String) {
        match layer {
            PushLayer::Gzip(layer) => {
                let tar = layer_tar::bytes(layer);
                let diff_id = format!("sha256:{}", hex::encode(Sha256::digest(&tar)));
                let mut gzip = GzEncoder::new(Vec::new(), flate2::Compression::default());
                std::io::Write::write_all(&mut gzip, &tar).expect("gzip in memory");
                let gzipped = gzip.finish().expect("gzip in memory");
                let digest = self.push_bytes(name, &gzipped);
                let blob = PushedBlob {
                    media_type: DOCKER_LAYER_GZIP.into(),
                    digest,
                    size: gzipped.len() as u64,
                };
                (blob, diff_id)
            }
            PushLayer::Tar(layer) => {
                let (digest, size) = layer_tar::digest_of(layer_tar::reader(layer).0);
                self.push_stream(name, &digest, layer_tar::reader(layer).0, size);
                let blob = PushedBlob {
                    media_type: OCI_LAYER_TAR.into(),
                    digest: digest.clone(),
                    size,
                };
                (blob, digest)
            }
        }
    }

    /// Pushes `config` and a Docker schema 2 manifest of it and `layers`
    /// (pushed already) as `<name>:<tag>`, or by its digest when `tag` is
    /// empty.
    fn push_config_and_manifest(
        &self,
        name: &str,
        tag: &str,
        config: &serde_json::Value,
        layers: Vec<PushedBlob>,
        platform: &str,
    ) -> PushedImage {
        let config = serde_json::to_vec(config).expect("JSON serializes");
        let config = PushedBlob {
            media_type: DOCKER_CONFIG.into(),
            digest: self.push_bytes(name, &config),
            size: config.len() as u64,
        };
        let mut image = PushedImage {
            reference: String::new(),
            manifest_digest: String::new(),
            manifest_size: 0,
            config,
            layers,
            platform: platform.to_owned(),
        };
        let manifest = manifest_json(&image);
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(&manifest)));
        let (reference, separator) = if tag.is_empty() {
            (digest.as_str(), '@')
        } else {
            (tag, ':')
        };
        let pushed = self.put_manifest(name, reference, DOCKER_MANIFEST, &manifest);
        assert_eq!(pushed, digest);
        image.reference = format!("{}/{name}{separator}{reference}", self.host());
        image.manifest_digest = digest;
        image.manifest_size = manifest.len() as u64;
        image
    }

    /// `GET`s `path` (with the registry's login), accepting `accept`;
    /// fails the test unless it answers 200.
    pub fn get(&self, path: &str, accept: &str) -> Vec<u8> {
        let auth = self.authorization();
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        headers.push(("Accept", accept));
        let answer = http::send(self.addr, "GET", path, &headers, std::io::empty(), 0)
            .expect("the registry answers");
        assert_eq!(answer.head.status(), 200, "GET {path}");
        answer.body
    }

    /// Pushes a blob held in memory; returns its digest.
    pub fn push_bytes(&self, name: &str, bytes: &[u8]) -> String {
        let digest = format!("sha256:{}", hex::encode(Sha256::digest(bytes)));
        self.push_stream(name, &digest, bytes, bytes.len() as u64);
        digest
    }

    /// Pushes a blob of `size` bytes with `digest` from `content`: a
    /// monolithic upload (`POST` a session, `PUT` the bytes with the digest).
    pub fn push_stream(&self, name: &str, digest: &str, content: impl Read, size: u64) {
        let auth = self.authorization();
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        let started = http::send(
            self.addr,
            "POST",
            &format!("/v2/{name}/blobs/uploads/"),
            &headers,
            std::io::empty(),
            0,
        )
        .expect("the upload starts");
        assert_eq!(
            started.head.status(),
            202,
            "POST upload: {}",
            String::from_utf8_lossy(&started.body)
        );
        let location = started.head.header("location").expect("an upload location");
        let path = location
            .strip_prefix(&format!("http://{}", self.host()))
            .unwrap_or(location);
        let separator = if path.contains('?') { '&' } else { '?' };
        let mut put_headers = headers.clone();
        put_headers.push(("Content-Type", "application/octet-stream"));
        let done = http::send(
            self.addr,
            "PUT",
            &format!("{path}{separator}digest={digest}"),
            &put_headers,
            content,
            size,
        )
        .expect("the upload completes");
        assert_eq!(
            done.head.status(),
            201,
            "PUT blob: {}",
            String::from_utf8_lossy(&done.body)
        );
    }

    /// Pushes a manifest under `reference` (a tag or digest); returns the
    /// digest the registry gives it.
    pub fn put_manifest(
        &self,
        name: &str,
        reference: &str,
        media_type: &str,
        body: &[u8],
    ) -> String {
        let auth = self.authorization();
        let mut headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("Authorization", a.as_str())).collect();
        headers.push(("Content-Type", media_type));
        let answer = http::send(
            self.addr,
            "PUT",
            &format!("/v2/{name}/manifests/{reference}"),
            &headers,
            body,
            body.len() as u64,
        )
        .expect("the manifest is pushed");
        assert_eq!(
            answer.head.status(),
            201,
            "PUT manifest: {}",
            String::from_utf8_lossy(&answer.body)
        );
        answer
            .head
            .header("docker-content-digest")
            .expect("a digest")
            .to_owned()
    }

    fn authorization(&self) -> Option<String> {
        self.login.as_ref().map(|(user, password)| {
            format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
            )
        })
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The Docker schema 2 manifest of an image.
fn manifest_json(image: &PushedImage) -> Vec<u8> {
    let descriptor = |blob: &PushedBlob| serde_json::json!({"mediaType": blob.media_type, "digest": blob.digest, "size": blob.size});
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": DOCKER_MANIFEST,
        "config": descriptor(&image.config),
        "layers": image.layers.iter().map(descriptor).collect::<Vec<_>>(),
    }))
    .expect("JSON serializes")
}
