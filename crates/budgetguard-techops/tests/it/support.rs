//! Running the binary in an isolated environment, and reading what it wrote.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use testkit::engines::TestEngine;
pub use testkit::fixtures::{
    demo_copy, files_in, free_port, gpu_demo_copy, write_catalog, Tmpfs, DEMO_GPU, DEMO_IMAGE,
};

/// The binary, with an environment of its own: no catalog, config or
/// credentials of the user, no colour, and the engine `host` when given.
pub fn bin(home: &Path, host: Option<&str>) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_budgetguard-techops"));
    command
        .env_remove("NGC_API_KEY")
        .env_remove("BUDGETGUARD_CATALOG")
        .env_remove("DOCKER_HOST")
        .env_remove("CLICOLOR_FORCE")
        .env("NO_COLOR", "1")
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("DOCKER_CONFIG", home.join("docker"));
    if let Some(host) = host {
        command.env("DOCKER_HOST", host);
    }
    command
}

/// The outcome of one run.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// How long one run of the binary may take before it is killed and the
/// test fails: no test waits on a hung engine for ever.
const RUN_LIMIT: Duration = Duration::from_secs(15 * 60);

/// Runs `command` (standard input empty) and collects its outcome; fails
/// the test if it runs longer than [`RUN_LIMIT`].
pub fn run(command: &mut Command) -> Run {
    run_with_input(command, b"")
}

/// Runs `command` with `input` on its standard input, as [`run`] does.
pub fn run_with_input(command: &mut Command, input: &[u8]) -> Run {
    run_within(command, input, RUN_LIMIT)
}

/// Runs `command` with `input` on its standard input; fails the test if it
/// runs longer than `limit`.
pub fn run_within(command: &mut Command, input: &[u8], limit: Duration) -> Run {
    use std::io::Write;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    std::thread::spawn(move || stdin.write_all(&input));
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped")));
    let stderr = read(Box::new(child.stderr.take().expect("piped")));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("the run can be waited for") {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{command:?} ran longer than {} s; stderr: {}",
                limit.as_secs(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().expect("stdout is read"),
        stderr: stderr.join().expect("stderr is read"),
    }
}

impl Run {
    /// Panics with the output unless the run succeeded.
    pub fn success(self) -> Self {
        assert_eq!(
            self.code, 0,
            "failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// The `hint: …` lines of stderr, without the prefix.
    pub fn hints(&self) -> Vec<&str> {
        self.stderr
            .lines()
            .filter_map(|l| l.strip_prefix("hint: "))
            .collect()
    }

    /// The `error: …` lines of stderr (one, for a failure that says what
    /// to do).
    pub fn errors(&self) -> usize {
        self.stderr
            .lines()
            .filter(|l| l.starts_with("error:"))
            .count()
    }

    /// The stdout as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.stdout))
    }
}

/// The files in `home` the run left, but for the tool's own data folder
/// (`XDG_DATA_HOME` is `home/data`), where it writes its log.
pub fn left_in(home: &Path) -> Vec<String> {
    let mut names = files_in(home);
    names.retain(|n| n != "data");
    names
}

/// The package id: the SHA-256 of the manifest entry, read by Python.
pub fn package_id_of(path: &Path) -> String {
    let out = Command::new("python3")
        .args(["-c", "import sys,zipfile,hashlib; print(hashlib.sha256(zipfile.ZipFile(sys.argv[1]).read('budgetguard-package.json')).hexdigest())"])
        .arg(path)
        .output()
        .unwrap();
    assert!(out.status.success());
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Runs `unzip -t` and Python's `zipfile` test on a package.
pub fn real_zip_readers_accept(path: &Path) {
    let out = Command::new("unzip").arg("-tq").arg(path).output().unwrap();
    assert!(
        out.status.success(),
        "unzip -t: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = Command::new("python3")
        .args(["-c", "import sys,zipfile; z=zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; assert z.namelist()[0]=='budgetguard-package.json'"])
        .arg(path)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python zipfile: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Unzips the entries `patterns` (all when none) of `package` into `into`.
pub fn unzip(package: &Path, into: &Path, patterns: &[&str]) {
    let out = Command::new("unzip")
        .arg("-q")
        .arg(package)
        .args(patterns)
        .arg("-d")
        .arg(into)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "unzip: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `verify-package` on `package`; fails the test unless it passes.
pub fn verify_package(home: &Path, package: &Path) {
    run(bin(home, None)
        .args(["verify-package", "--package"])
        .arg(package))
    .success();
}

/// Unzips the package's `images/` folder and streams it through `docker
/// load` on `engine`, as the fallback installer does.
pub fn docker_load_images_folder(package: &Path, engine: &TestEngine) {
    let dir = tempfile::tempdir().unwrap();
    unzip(package, dir.path(), &["images/*"]);
    let out = engine
        .docker()
        .arg("load")
        .arg("-i")
        .arg(tar_of(&dir.path().join("images"), dir.path()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "docker load on {}: {}",
        engine.name,
        String::from_utf8_lossy(&out.stderr)
    );
}

fn tar_of(folder: &Path, into: &Path) -> PathBuf {
    let tar = into.join("images.tar");
    let status = Command::new("tar")
        .arg("-C")
        .arg(folder)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .unwrap();
    assert!(status.success());
    tar
}

/// The manifest of a package, read with Python (an independent reader).
pub fn manifest_of(package: &Path) -> serde_json::Value {
    let out = Command::new("python3")
        .args(["-c", "import sys,zipfile; sys.stdout.write(zipfile.ZipFile(sys.argv[1]).read('budgetguard-package.json').decode())"])
        .arg(package)
        .output()
        .unwrap();
    assert!(out.status.success());
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The entry names of a package.
pub fn entry_names(package: &Path) -> Vec<String> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import sys,zipfile; print('\\n'.join(zipfile.ZipFile(sys.argv[1]).namelist()))",
        ])
        .arg(package)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// Makes a package of the catalog nodes `nodes` (name, image, port) on
/// `engine`, in `home`.
pub fn make_package(
    engine: &TestEngine,
    home: &Path,
    name: &str,
    nodes: &[(&str, &str, u16)],
) -> PathBuf {
    let catalog = write_catalog(home, nodes);
    let output = home.join(name);
    let names: Vec<&str> = nodes.iter().map(|n| n.0).collect();
    run(bin(home, Some(&engine.host))
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            &names.join(","),
            "--output",
        ])
        .arg(&output)
        .arg("--catalog")
        .arg(&catalog))
    .success();
    output
}

/// Writes a catalog of the one node `node` (catalog JSON) in `home` and
/// packages it from `engine` as `home/node.zip`.
pub fn package_one(engine: &TestEngine, home: &Path, node: serde_json::Value) -> PathBuf {
    let name = node["name"].as_str().expect("a node name").to_owned();
    let catalog = home.join("catalog.json");
    std::fs::write(&catalog, serde_json::json!({ "nodes": [node] }).to_string()).unwrap();
    let package = home.join("node.zip");
    run(bin(home, Some(&engine.host))
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            &name,
            "--output",
        ])
        .arg(&package)
        .arg("--catalog")
        .arg(&catalog))
    .success();
    package
}

/// Starts `command`, waits until its stderr shows a line starting with
/// `marker`, lets it run 300 ms more, sends `signal` (`INT` as Ctrl-C does,
/// `TERM` as `kill` does) and returns its exit code and the rest of its
/// stderr.
pub fn interrupt_after(command: &mut Command, marker: &str, signal: &str) -> (Option<i32>, String) {
    use std::io::{BufRead, BufReader};
    let mut child = command
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut line = String::new();
    let started = Instant::now();
    while !line.starts_with(marker) {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "`{marker}` never came"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
    }
    std::thread::sleep(Duration::from_millis(300));
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    let mut rest = String::new();
    stderr.read_to_string(&mut rest).unwrap();
    (child.wait().unwrap().code(), rest)
}

/// `POST /v1/infer` on the node, returning the answer (a base64 PNG).
pub fn infer(port: u16) -> String {
    let out = Command::new("curl")
        .args([
            "-sf",
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            r#"{"prompt":"a red fox","seed":7}"#,
        ])
        .arg(format!("http://127.0.0.1:{port}/v1/infer"))
        .output()
        .unwrap();
    assert!(out.status.success(), "infer failed on port {port}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Removes a node's container and its claim on the engine when a test
/// ends, whatever happened (a test that passes has removed both already).
pub struct NodeLeftovers<'a> {
    engine: &'a TestEngine,
    project: String,
}

impl<'a> NodeLeftovers<'a> {
    /// For the node whose Compose project (and container) is `project`.
    pub fn new(engine: &'a TestEngine, project: &str) -> Self {
        Self {
            engine,
            project: project.to_owned(),
        }
    }
}

impl Drop for NodeLeftovers<'_> {
    fn drop(&mut self) {
        let quiet = |args: &[&str]| {
            let _ = self
                .engine
                .docker()
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        };
        quiet(&["rm", "-f", &self.project]);
        quiet(&["volume", "rm", &format!("{}.owner", self.project)]);
    }
}
