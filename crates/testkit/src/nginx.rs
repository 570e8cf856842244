//! Debian's nginx on a free loopback port, serving a folder: a config of
//! its own in a temporary folder, an access log of every request with the
//! bytes it sent, stopped when dropped. With ranges turned off it answers a
//! range request with the whole file, as a server without range support
//! does. It is only taken as started once the port answers a request for a
//! token of this start's own, which its config alone serves: another
//! process on the port fails the start, named as such.

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
    /// The request's target as sent (`$request_uri`), e.g. `/v1.zip`.
    pub target: String,
}

/// How many free ports a start tries.
const PORT_ATTEMPTS: u32 = 5;

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

    /// Starts on a free port; when another process takes that port between
    /// its choice and nginx's start (tests run side by side), starts again
    /// on another, [`PORT_ATTEMPTS`] times at most.
    fn start(root: &Path, ranges: bool, login: Option<(&str, &str)>) -> Self {
        let mut attempt = 1;
        loop {
            match Self::try_start_on(crate::fixtures::free_port(), root, ranges, login) {
                Ok(nginx) => return nginx,
                Err(taken) if attempt < PORT_ATTEMPTS => {
                    eprintln!("{taken}; starting nginx again on another port");
                    attempt += 1;
                }
                Err(taken) => panic!("{taken} ({attempt} ports tried)"),
            }
        }
    }

    /// Starts on `port`, failing the test when it is taken.
    #[cfg(test)]
    fn start_on(port: u16, root: &Path, ranges: bool, login: Option<(&str, &str)>) -> Self {
        Self::try_start_on(port, root, ranges, login).unwrap_or_else(|taken| panic!("{taken}"))
    }

    /// Starts on `port`; `Err` says the port is another process's.
    fn try_start_on(
        port: u16,
        root: &Path,
        ranges: bool,
        login: Option<(&str, &str)>,
    ) -> Result<Self, String> {
        let dir = tempfile::tempdir().expect("a temp folder");
        let token = start_token(dir.path());
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
             http {{\n  log_format counted '$status $bytes_sent $request_uri \"$http_range\" \"$http_authorization\"';\n\
             access_log {d}/access.log counted;\n  default_type application/octet-stream;\n\
             client_body_temp_path {d}/body;\n  proxy_temp_path {d}/proxy;\n\
             fastcgi_temp_path {d}/fastcgi;\n  uwsgi_temp_path {d}/uwsgi;\n  scgi_temp_path {d}/scgi;\n\
             server {{ listen 127.0.0.1:{port}; root {root}; {max_ranges}\n\
             location = {TOKEN_PATH} {{ access_log off; return 200 \"{token}\"; }} }}\n}}\n",
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
        let mut nginx = Self { dir, port, child };
        nginx.wait_until_serving(&token)?;
        Ok(nginx)
    }

    /// Waits until the port answers the token of this start (its config's
    /// alone); `Err` when nginx ends for want of the port, or another
    /// process answers instead; fails the test when nginx ends otherwise,
    /// or after 10 seconds.
    fn wait_until_serving(&mut self, token: &str) -> Result<(), String> {
        let started = Instant::now();
        loop {
            let error_log =
                || std::fs::read_to_string(self.dir.path().join("error.log")).unwrap_or_default();
            if let Some(status) = self.child.try_wait().expect("nginx can be waited for") {
                let log = error_log();
                let message = format!(
                    "nginx ended ({status}) before serving on port {}: {log}",
                    self.port
                );
                if log.contains("Address already in use") {
                    return Err(message);
                }
                panic!("{message}");
            }
            match crate::http::send(self.addr(), "GET", TOKEN_PATH, &[], std::io::empty(), 0) {
                Ok(answer) if answer.body == token.as_bytes() => return Ok(()),
                Ok(answer) => {
                    return Err(format!(
                        "port {} is answered by another process than the nginx started here ({})",
                        self.port, answer.head.first_line
                    ))
                }
                Err(_) => {}
            }
            assert!(
                started.elapsed() < Duration::from_secs(10),
                "nginx did not listen on {}: {}",
                self.port,
                error_log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The URL of `name` in the served folder.
    pub fn url(&self, name: &str) -> String {
        format!("http://127.0.0.1:{}/{name}", self.port)
    }

    /// Its address, for a proxy in front of it.
    pub fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Every request logged so far. nginx logs a request after its
    /// response (a cut one when it sees the connection gone), so a client
    /// can be done before the line is there: the log is read until it
    /// stays the same for 50 ms (at most 3 s).
    pub fn served(&self) -> Vec<Served> {
        let read =
            || std::fs::read_to_string(self.dir.path().join("access.log")).unwrap_or_default();
        let mut log = read();
        for _ in 0..60 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let again = read();
            if again == log {
                break;
            }
            log = again;
        }
        log.lines()
            .filter_map(|line| {
                let mut words = line.splitn(4, ' ');
                let status = words.next()?.parse().ok()?;
                let bytes = words.next()?.parse().ok()?;
                let target = words.next()?.to_owned();
                let (range, authorization) = words.next()?.split_once("\" \"")?;
                Some(Served {
                    status,
                    bytes,
                    range: range.trim_matches('"').to_owned(),
                    authorization: authorization.trim_matches('"').to_owned(),
                    target,
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

/// Where the config serves the start's token (not logged, so counts of
/// requests and bytes see only a test's own).
const TOKEN_PATH: &str = "/.testkit-nginx-start";

/// A token no other process serves: this start's temporary folder's name
/// (unique on the machine) and the time.
fn start_token(dir: &Path) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let name = dir
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    format!("nginx-{name}-{nanos}")
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_what_it_serves_but_not_its_start_check() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("f.bin"), [7u8; 1000]).unwrap();
        let nginx = Nginx::serve(root.path());
        assert!(nginx.served().is_empty(), "{:?}", nginx.served());
        let answer = crate::http::send(
            nginx.addr(),
            "GET",
            "/f.bin",
            &[("Range", "bytes=0-99")],
            std::io::empty(),
            0,
        )
        .unwrap();
        assert_eq!(answer.head.status(), 206);
        assert_eq!(answer.body, [7u8; 100]);
        let served = nginx.served();
        assert_eq!(served.len(), 1, "{served:?}");
        assert_eq!(
            (
                served[0].status,
                served[0].target.as_str(),
                served[0].range.as_str()
            ),
            (206, "/f.bin", "bytes=0-99")
        );
        assert!(served[0].bytes > 100);
    }

    #[test]
    fn a_port_another_process_holds_fails_the_start_naming_the_port() {
        let root = tempfile::tempdir().unwrap();
        let other = crate::plain_http::Endpoint::start([127, 0, 0, 1].into(), "200 OK", &[]);
        let port: u16 = other.host().rsplit(':').next().unwrap().parse().unwrap();
        let started = std::panic::catch_unwind(|| Nginx::start_on(port, root.path(), true, None));
        let message = match started {
            Ok(nginx) => panic!("{nginx:?} started on a port another process holds"),
            Err(payload) => payload
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_default(),
        };
        assert!(
            message.contains(&format!("port {port}")) && !message.contains("did not listen"),
            "{message}"
        );
    }
}
