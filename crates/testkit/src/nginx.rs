//! Debian's nginx on a free loopback port, serving a folder: a config of
//! its own in a temporary folder, an access log of every request with the
//! bytes it sent, stopped when dropped. With ranges turned off it answers a
//! range request with the whole file, as a server without range support
//! does.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// One request in the access log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Served {
    /// The status sent.
    pub status: u16,
    /// Bytes sent, the response head included (`$bytes_sent`).
    pub bytes: u64,
    /// The `Range` header asked, or `-`.
    pub range: String,
    /// The `Authorization` header sent, or `-` (the login a test gave).
    pub authorization: String,
}

/// A running nginx.
pub struct Nginx {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
}

impl std::fmt::Debug for Nginx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Nginx")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Nginx {
    /// Serves `root` (range requests answered).
    pub fn serve(root: &Path) -> Self {
        Self::start(root, true, None)
    }

    /// Serves `root` ignoring `Range` (`max_ranges 0`: the whole file,
    /// status 200, for every request).
    pub fn serve_without_ranges(root: &Path) -> Self {
        Self::start(root, false, None)
    }

    /// Serves `root` only to requests with the basic login `user` and
    /// `password` (else 401).
    pub fn serve_with_login(root: &Path, user: &str, password: &str) -> Self {
        Self::start(root, true, Some((user, password)))
    }

    fn start(root: &Path, ranges: bool, login: Option<(&str, &str)>) -> Self {
        let dir = tempfile::tempdir().expect("a temp folder");
        let port = crate::fixtures::free_port();
        let d = dir.path().display();
        let mut max_ranges = if ranges { "" } else { "max_ranges 0;" }.to_owned();
        if let Some((user, password)) = login {
            let users = dir.path().join("htpasswd");
            std::fs::write(&users, format!("{user}:{{PLAIN}}{password}\n"))
                .expect("the login file is written");
            max_ranges.push_str(&format!(
                " auth_basic packages; auth_basic_user_file {};",
                users.display()
            ));
        }
        let config = format!(
            "daemon off;\nmaster_process off;\nworker_processes 1;\npid {d}/nginx.pid;\n\
             error_log {d}/error.log;\nevents {{ worker_connections 256; }}\n\
             http {{\n  log_format counted '$status $bytes_sent \"$http_range\" \"$http_authorization\"';\n\
             access_log {d}/access.log counted;\n  default_type application/octet-stream;\n\
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{ listen 127.0.0.1:{port}; root {root}; {max_ranges} }}\n}}\n",
            root = root.display()
        );
        let conf = dir.path().join("nginx.conf");
        std::fs::write(&conf, config).expect("the config is written");
        let child = Command::new(nginx_binary())
            .arg("-p")
            .arg(dir.path())
            .arg("-c")
            .arg(&conf)
            .arg("-e")
            .arg(dir.path().join("error.log"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nginx starts (Debian's nginx-light)");
        let nginx = Self { dir, port, child };
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen on {port}: {}",
                std::fs::read_to_string(nginx.dir.path().join("error.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        nginx
    }

    /// The URL of `name` in the served folder.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Its address, for a proxy in front of it.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Every request logged so far.
    pub fn served(&self) -> Vec<Served> {
        let log = std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        log.lines()
            .filter_map(|line| {
                let mut words = line.splitn(3, ' ');
                let status = words.next()?.parse().ok()?;
                let bytes = words.next()?.parse().ok()?;
                let (range, authorization) = words.next()?.split_once("\" \"")?;
                Some(Served {
                    status,
                    bytes,
                    range: range.trim_matches('"').to_owned(),
                    authorization: authorization.trim_matches('"').to_owned(),
                })
            })
            .collect()
    }

    /// Bytes sent so far, heads included.
    pub fn bytes_sent(&self) -> u64 {
        self.served().iter().map(|s| s.bytes).sum()
    }
}

impl Drop for Nginx {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// nginx: on `PATH`, else Debian's `/usr/sbin/nginx`.
fn nginx_binary() -> PathBuf {
    let sbin = PathBuf::from("/usr/sbin/nginx");
    match Command::new("nginx")
        .arg("-v")
        .stderr(Stdio::null())
        .status()
    {
        Ok(_) => PathBuf::from("nginx"),
        Err(_) => sbin,
    }
}
