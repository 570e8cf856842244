//! The engines under test, from `BUDGETGUARD_TEST_ENGINES`
//! (`name=unix:///…,name=…`; `.ci/engines.sh env` prints it), or the machine's
//! default engine. With `BUDGETGUARD_REQUIRE_DOCKER=1` an engine that does
//! not answer fails the test instead of skipping it.

use std::process::Command;

/// One Docker engine to run tests against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEngine {
    /// A short name for messages, e.g. `docker26-containerd`.
    pub name: String,
    /// Its address, e.g. `unix:///run/budgetguard/e26.sock`.
    pub host: String,
}

impl TestEngine {
    /// A `docker` CLI command aimed at this engine (for test set-up only).
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.env("DOCKER_HOST", &self.host);
        command
    }

    /// Runs the `docker` CLI with `args`; panics with its output on failure.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        let out = self
            .docker()
            .args(args)
            .output()
            .expect("the docker CLI runs");
        assert!(
            out.status.success(),
            "docker {args:?} on {} failed: {}",
            self.name,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Whether the engine answers.
    pub fn answers(&self) -> bool {
        self.docker()
            .args(["version", "--format", "{{.Server.Version}}"])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Whether this engine stores images in containerd.
    pub fn containerd_store(&self) -> bool {
        self.docker_ok(&["info", "--format", "{{json .DriverStatus}}"])
            .contains("io.containerd.snapshotter")
    }

    /// The layers the engine stores: the classic store's layer database, or
    /// containerd's content blobs, read from its data folder (tests run as root).
    pub fn layer_ids(&self) -> Vec<String> {
        let root = self.docker_ok(&["info", "--format", "{{.DockerRootDir}}"]);
        let root = std::path::Path::new(root.trim());
        let content = "io.containerd.content.v1.content/blobs/sha256";
        let candidates = [
            root.join("image/overlay2/layerdb/sha256"),
            root.join("containerd/daemon").join(content),
            root.parent()
                .unwrap_or(root)
                .join("containerd")
                .join(content),
        ];
        let mut ids: Vec<String> = candidates
            .iter()
            .filter_map(|dir| std::fs::read_dir(dir).ok())
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect();
        ids.sort();
        ids
    }

    /// The sorted IDs of all images, for before/after comparisons.
    pub fn image_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self
            .docker_ok(&[
                "images",
                "-a",
                "--no-trunc",
                "--format",
                "{{.ID}} {{.Repository}}:{{.Tag}}",
            ])
            .lines()
            .map(str::to_owned)
            .collect();
        ids.sort();
        ids
    }
}

/// Whether Docker tests must fail rather than skip when no engine answers.
pub fn docker_required() -> bool {
    std::env::var("BUDGETGUARD_REQUIRE_DOCKER").is_ok_and(|v| v == "1")
}

/// The engines listed in `BUDGETGUARD_TEST_ENGINES`, or the default engine.
pub fn listed() -> Vec<TestEngine> {
    match std::env::var("BUDGETGUARD_TEST_ENGINES") {
        Ok(list) if !list.trim().is_empty() => list
            .split(',')
            .filter_map(|item| item.split_once('='))
            .map(|(name, host)| TestEngine {
                name: name.trim().to_owned(),
                host: host.trim().to_owned(),
            })
            .collect(),
        _ => vec![TestEngine {
            name: "default".to_owned(),
            host: std::env::var("DOCKER_HOST")
                .unwrap_or_else(|_| "unix:///var/run/docker.sock".to_owned()),
        }],
    }
}

/// The engines that answer. A silent one fails the test when Docker is
/// required, and is skipped with a message otherwise.
pub fn available() -> Vec<TestEngine> {
    listed()
        .into_iter()
        .filter(|engine| {
            let answers = engine.answers();
            if !answers {
                assert!(
                    !docker_required(),
                    "engine {} at {} does not answer and BUDGETGUARD_REQUIRE_DOCKER=1",
                    engine.name,
                    engine.host
                );
                eprintln!(
                    "skipped: engine {} at {} does not answer",
                    engine.name, engine.host
                );
            }
            answers
        })
        .collect()
}

/// The first engine that answers (the machine's own one, normally), or
/// `None` when Docker is not required and none answers.
pub fn primary() -> Option<TestEngine> {
    available().into_iter().next()
}
