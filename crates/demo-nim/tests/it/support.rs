//! Running the built demo-nim against testkit's model server: commands to
//! the end, servers in the background, plain HTTP to them, and the cache.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub use testkit::fixtures::free_port;
pub use testkit::model_server::{ModelServer, DEMO_MODEL};

/// Total size of the model for most tests.
pub const SMALL: u64 = 8 << 20;

/// Every variable of the contract, cleared so the caller's environment
/// cannot leak into a test.
const CONTRACT: [&str; 9] = [
    "NIM_CACHE_PATH",
    "DEMO_NIM_MODEL_SERVER",
    "DEMO_NIM_MODEL",
    "NGC_API_KEY",
    "NIM_MODEL_PROFILE",
    "DEMO_NIM_REQUIRE_MODEL",
    "DEMO_NIM_GPUS",
    "DEMO_NIM_PORT",
    "NIM_MODEL_VARIANT",
];

/// demo-nim with a clean contract environment, the cache at `cache` and
/// `env` on top.
pub fn demo_nim(cache: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_demo-nim"));
    for name in CONTRACT {
        cmd.env_remove(name);
    }
    cmd.env("NIM_CACHE_PATH", cache);
    cmd.envs(env.iter().copied());
    cmd
}

/// A finished run.
#[derive(Debug)]
pub struct Run {
    /// How it ended.
    pub status: ExitStatus,
    /// Its stdout.
    pub stdout: String,
    /// Its stderr.
    pub stderr: String,
}

impl Run {
    /// Panics with the output unless it exited 0.
    pub fn ok(self) -> Self {
        assert!(self.status.success(), "demo-nim failed: {self:#?}");
        self
    }
}

/// Runs demo-nim with `args` to the end.
pub fn run(cache: &Path, env: &[(&str, &str)], args: &[&str]) -> Run {
    let out = demo_nim(cache, env)
        .args(args)
        .output()
        .expect("demo-nim runs");
    Run {
        status: out.status,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// `download-to-cache` of `profiles` from `server`, which must succeed.
pub fn populate(server: &ModelServer, cache: &Path, profiles: &str) -> Run {
    let url = server.url();
    run(
        cache,
        &[("DEMO_NIM_MODEL_SERVER", &url)],
        &["download-to-cache", "--profiles", profiles],
    )
    .ok()
}

/// The model's repo folder in the cache.
pub fn repo(cache: &Path) -> PathBuf {
    cache.join("huggingface/hub/models--budgetguard--demo-flux")
}

/// The sorted names in `dir` (empty when it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}

/// Flips one bit of the file at `path` in place (same size).
pub fn flip_byte(path: &Path, at: u64) {
    use std::os::unix::fs::FileExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .unwrap();
    let mut b = [0u8];
    file.read_exact_at(&mut b, at).unwrap();
    b[0] ^= 1;
    file.write_all_at(&b, at).unwrap();
}

/// A demo-nim server running in the background; killed when dropped.
pub struct Server {
    child: Child,
    port: u16,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Starts `demo-nim` (no command) on a free port.
    pub fn start(cache: &Path, env: &[(&str, &str)]) -> Self {
        let port = free_port();
        let mut child = demo_nim(cache, env)
            .env("DEMO_NIM_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("demo-nim starts");
        let stderr = Arc::new(Mutex::new(String::new()));
        let sink = Arc::clone(&stderr);
        let pipe = child.stderr.take().expect("piped");
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        let server = Server {
            child,
            port,
            stderr,
        };
        server.wait_for(Duration::from_secs(30), "it to listen", |s| {
            s.log().contains("listening on")
        });
        server
    }

    /// Its stderr so far.
    pub fn log(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Polls `done` every 50 ms; panics with the log after `limit`.
    pub fn wait_for(&self, limit: Duration, what: &str, done: impl Fn(&Self) -> bool) {
        let start = Instant::now();
        while !done(self) {
            assert!(
                start.elapsed() < limit,
                "timed out waiting for {what}; log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Waits until `/v1/health/ready` answers 200.
    pub fn wait_ready(&self) {
        self.wait_for(Duration::from_secs(120), "readiness", |s| {
            s.get("/v1/health/ready").0 == 200
        });
    }

    /// A GET; returns status and body.
    pub fn get(&self, path: &str) -> (u16, String) {
        self.request(&format!("GET {path} HTTP/1.1\r\nHost: t\r\n\r\n"))
    }

    /// A POST of a JSON body; returns status and body.
    pub fn post(&self, path: &str, body: &str) -> (u16, String) {
        self.request(&format!(
            "POST {path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        ))
    }

    fn request(&self, raw: &str) -> (u16, String) {
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return (0, String::new());
        };
        s.write_all(raw.as_bytes()).unwrap();
        let mut answer = String::new();
        s.read_to_string(&mut answer).unwrap();
        let (head, body) = answer.split_once("\r\n\r\n").expect("a response");
        (head[9..12].parse().unwrap(), body.to_owned())
    }

    /// Sends SIGTERM and waits for the exit (at most 10 s).
    pub fn terminate(mut self) -> ExitStatus {
        let kill = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(kill.success());
        let start = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "no exit after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
