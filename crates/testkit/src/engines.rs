//! The engines under test, from `BUDGETGUARD_TEST_ENGINES`
//! (`name=unix:///…,name=…`; `.ci/engines.sh env` prints it), or the machine's
//! default engine. With `BUDGETGUARD_REQUIRE_DOCKER=1` an engine that does
//! not answer fails the test instead of skipping it.
//!
//! A test that cannot run here (no engine, no Demo image, no root) never
//! counts as passed: it calls [`skip`], and [`run_tests`], the harness of a
//! test binary with `harness = false`, reports it as `ignored` with the
//! reason, or as failed when `BUDGETGUARD_REQUIRE_DOCKER=1`. Every test of
//! that harness also has a time limit.

use std::process::Command;
use std::sync::mpsc;
use std::time::Duration;

/// One Docker engine to run tests against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestEngine {
    /// A short name for messages, e.g. `docker26-containerd`.
    pub name: String,
    /// Its address, e.g. `unix:///run/budgetguard/e26.sock`.
    pub host: String,
}

impl TestEngine {
    /// The engine's socket path, for a proxy in front of it; a test of an
    /// engine not on a unix socket is skipped.
    pub fn socket(&self) -> &std::path::Path {
        match self.host.strip_prefix("unix://") {
            Some(socket) => std::path::Path::new(socket),
            None => skip("the engine is not on a unix socket"),
        }
    }

    /// A `docker` CLI command aimed at this engine (for test set-up only).
    pub fn docker(&self) -> Command {
        let mut command = Command::new("docker");
        command.env("DOCKER_HOST", &self.host);
        command
    }

    /// Runs the `docker` CLI with `args`; panics with its output on failure.
    pub fn docker_ok(&self, args: &[&str]) -> String {
        self.docker_retried(args, |_| false)
    }

    /// [`TestEngine::docker_ok`] for a listing of images, asked again (up
    /// to ten times, 0.3 s apart) while the containerd store cannot size or
    /// read an image that another test is removing at that moment ("failed
    /// to calculate size of image …: not found", "content digest …: not
    /// found").
    pub fn docker_list(&self, args: &[&str]) -> String {
        self.docker_retried(args, |stderr| {
            stderr.contains("failed to calculate size of image")
                || (stderr.contains("content digest") && stderr.contains("not found"))
        })
    }

    /// Runs the `docker` CLI with `args`, again (up to ten runs in all,
    /// 0.3 s apart) while its error output is one `passing` says will go;
    /// panics with its output on any other failure.
    fn docker_retried(&self, args: &[&str], passing: impl Fn(&str) -> bool) -> String {
        let mut runs = 1;
        loop {
            let out = self
                .docker()
                .args(args)
                .output()
                .expect("the docker CLI runs");
            let stderr = String::from_utf8_lossy(&out.stderr);
            if out.status.success() {
                return String::from_utf8_lossy(&out.stdout).into_owned();
            }
            assert!(
                runs < 10 && passing(&stderr),
                "docker {args:?} on {} failed: {stderr}",
                self.name
            );
            runs += 1;
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
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
            .docker_list(&[
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

/// Whether the program `tool` runs here (`tool --version`); when it does
/// not, fails with `missing` when Docker tests are required, else says
/// `skipped: <missing>` and returns false.
pub fn tool_found(tool: &str, missing: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(found || !docker_required(), "{missing}");
    if !found {
        eprintln!("skipped: {missing}");
    }
    found
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

/// The first engine that answers; with none, the test is skipped (failed
/// when Docker is required).
pub fn require_primary() -> TestEngine {
    primary().unwrap_or_else(|| skip("no Docker engine answers"))
}

/// The engines that answer, at least one; with none, the test is skipped
/// (failed when Docker is required).
pub fn require_available() -> Vec<TestEngine> {
    let engines = available();
    if engines.is_empty() {
        skip("no Docker engine answers");
    }
    engines
}

/// Why a test did not run: the panic payload [`skip`] ends a test with.
#[derive(Debug)]
pub struct Skipped(pub String);

/// Ends the running test as skipped for `reason` (something this machine
/// lacks): [`run_tests`] reports it as ignored, with the reason. When
/// Docker tests are required it fails the test instead.
pub fn skip(reason: impl Into<String>) -> ! {
    let reason = reason.into();
    if docker_required() {
        panic!("{reason}, and BUDGETGUARD_REQUIRE_DOCKER=1 requires it");
    }
    std::panic::panic_any(Skipped(reason))
}

/// One test of a [`run_tests`] harness.
#[derive(Debug, Clone, Copy)]
pub struct Test {
    /// `module::function`.
    pub name: &'static str,
    /// The module path (`it::create`), of which the crate is left out.
    pub module: &'static str,
    /// The test.
    pub run: fn(),
}

/// The tests of a module, for [`run_tests`]: `testkit::tests![first, second]`
/// defines `pub fn tests() -> Vec<Test>` in the module. A test function not
/// listed is dead code, which the lints refuse.
#[macro_export]
macro_rules! tests {
    ($($test:ident),* $(,)?) => {
        /// The tests of this module.
        pub fn tests() -> Vec<$crate::engines::Test> {
            vec![$($crate::engines::Test {
                name: stringify!($test),
                module: module_path!(),
                run: $test,
            }),*]
        }
    };
}

/// Runs an async test's body on a tokio runtime of its own, within `limit`:
/// a test that hangs fails here, dropping its guards (containers, images,
/// mounts, browsers are cleaned up), well before the harness's own limit.
/// A skip ([`skip`]) passes through to the harness.
pub fn run(limit: Duration, body: impl std::future::Future<Output = ()>) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    runtime.block_on(async {
        if tokio::time::timeout(limit, body).await.is_err() {
            panic!("the test did not end within {limit:?}");
        }
    });
}

/// How long one test may take: `BUDGETGUARD_TEST_TIMEOUT` seconds, else
/// 30 minutes (the slowest tests stream gigabytes through three engines).
fn time_limit() -> Duration {
    std::env::var("BUDGETGUARD_TEST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(Duration::from_secs(30 * 60), Duration::from_secs)
}

/// The `main` of a test binary with `harness = false`: runs `tests` as
/// `cargo test` does (same arguments, same output), a skipped test reported
/// as `ignored (reason)`, one that outlives the time limit as failed.
pub fn run_tests(tests: Vec<Test>) -> std::process::ExitCode {
    let args = libtest_mimic::Arguments::from_args();
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<Skipped>().is_none() {
            default_hook(info);
        }
    }));
    let trials = tests
        .into_iter()
        .map(|test| {
            let module = test.module.split_once("::").map_or("", |(_, m)| m);
            let name = if module.is_empty() {
                test.name.to_owned()
            } else {
                format!("{module}::{}", test.name)
            };
            libtest_mimic::Trial::ignorable_test(name, move || outcome(test.run))
        })
        .collect();
    libtest_mimic::run(&args, trials).exit_code()
}

/// Runs one test on a thread of its own, within the time limit.
fn outcome(test: fn()) -> Result<libtest_mimic::Completion, libtest_mimic::Failed> {
    let limit = time_limit();
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(std::panic::catch_unwind(test));
    });
    match result.recv_timeout(limit) {
        Ok(Ok(())) => Ok(libtest_mimic::Completion::Completed),
        Ok(Err(payload)) => match payload.downcast::<Skipped>() {
            Ok(skipped) => Ok(libtest_mimic::Completion::ignored_with(skipped.0)),
            Err(payload) => Err(panic_message(payload.as_ref()).into()),
        },
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!(
            "timed out after {} s (BUDGETGUARD_TEST_TIMEOUT)",
            limit.as_secs()
        )
        .into()),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("the test thread vanished".into()),
    }
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "the test panicked".to_owned())
}
