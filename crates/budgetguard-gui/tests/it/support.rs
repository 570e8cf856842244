//! Running a test on its own runtime within a time limit, starting a GUI
//! server on a free port, plain HTTP requests with full control of the
//! headers, reading the event stream, and driving Chromium.

use std::future::Future;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use budgetguard::catalog::Catalog;
use budgetguard::install::InstallDir;
use budgetguard::models::ModelStore;
use budgetguard_gui::{Gui, GuiOptions};
use testkit::engines;
pub use testkit::engines::run;
pub use testkit::fixtures::{files_in, free_port, write_catalog, Tmpfs};
use thirtyfour::prelude::*;
use thirtyfour::ChromeCapabilities;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// How long one plain HTTP request to the GUI may take.
const REQUEST_LIMIT: Duration = Duration::from_secs(60);

/// `work` within `limit`, or a panic naming `what`.
pub async fn within<T>(what: &str, limit: Duration, work: impl Future<Output = T>) -> T {
    tokio::time::timeout(limit, work)
        .await
        .unwrap_or_else(|_| panic!("{what} did not end within {limit:?}"))
}

/// An HTTP response.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// The status line and headers, in lower case.
    pub head: String,
    pub body: String,
}

/// A running GUI server; stopped by [`Server::stop`] or when dropped.
pub struct Server {
    pub url: String,
    pub port: u16,
    pub token: String,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), budgetguard_gui::GuiError>>>,
}

/// Options for a test server: `catalog`, the engine at `docker_host`
/// (`None`: an address where no engine answers), installing into `home`.
pub fn options(catalog: Catalog, docker_host: Option<&str>, home: &Path) -> GuiOptions {
    let mut options = GuiOptions::new(catalog);
    options.docker_host = Some(
        docker_host
            .unwrap_or("unix:///nonexistent/docker.sock")
            .to_owned(),
    );
    options.install_dir = Some(InstallDir::new(home.join("install")));
    options.install_dir_given = true;
    options.default_output = home.join("install-package.zip");
    options.model_store = Some(ModelStore::new(home.join("model-cache")));
    options.settings_file = Some(home.join("config/gui.json"));
    options.media_roots = vec![home.join("media")];
    options
}

impl Server {
    /// Binds and runs a server.
    pub async fn start(options: GuiOptions) -> Self {
        let gui = Gui::bind(options).await.expect("the GUI binds a free port");
        let url = gui.url().to_owned();
        let rest = url
            .strip_prefix("http://127.0.0.1:")
            .expect("a loopback URL");
        let (port, token) = rest
            .split_once("/?token=")
            .expect("the URL carries the token");
        let (port, token) = (port.parse().unwrap(), token.to_owned());
        assert_eq!(token.len(), 64, "32 random bytes in hex");
        let (shutdown, signal) = oneshot::channel();
        let task = tokio::spawn(gui.run(async {
            signal.await.ok();
        }));
        Self {
            url,
            port,
            token,
            shutdown: Some(shutdown),
            task: Some(task),
        }
    }

    /// The server's own Host header value.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Stops the server and waits until it has (a running job included).
    pub async fn stop(mut self) {
        self.shutdown.take().unwrap().send(()).ok();
        let run = tokio::time::timeout(Duration::from_secs(60), self.task.take().unwrap())
            .await
            .expect("the server stops within a minute");
        run.unwrap().expect("the server ran without error");
    }

    /// Sends a request with exactly these header lines.
    pub async fn request(
        &self,
        method: &str,
        target: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> Reply {
        let mut request = format!("{method} {target} HTTP/1.1\r\n");
        for (name, value) in headers {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
        request.push_str(&format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        ));
        let exchange = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).await.unwrap();
            response
        };
        let response = within(&format!("{method} {target}"), REQUEST_LIMIT, exchange).await;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
        let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
        Reply {
            status,
            head: head.to_ascii_lowercase(),
            body: body.to_owned(),
        }
    }

    /// A GET with the right Host and the token in the query.
    pub async fn get(&self, path: &str) -> Reply {
        let sep = if path.contains('?') { '&' } else { '?' };
        let target = format!("{path}{sep}token={}", self.token);
        self.request("GET", &target, &[("Host", &self.host())], "")
            .await
    }

    /// A JSON POST as the page's script sends it.
    pub async fn post(&self, path: &str, body: &str) -> Reply {
        let host = self.host();
        let origin = format!("http://{host}");
        let headers = [
            ("Host", host.as_str()),
            ("Origin", origin.as_str()),
            ("Content-Type", "application/json"),
            ("X-BudgetGuard-Token", self.token.as_str()),
        ];
        self.request("POST", path, &headers, body).await
    }

    /// The data of the next `event` on the event stream (the first one
    /// included, which tells the present state), within `timeout`.
    pub async fn next_event(&self, event: &str, timeout: Duration) -> serde_json::Value {
        let read = async {
            let mut stream = TcpStream::connect(("127.0.0.1", self.port)).await.unwrap();
            // HTTP/1.0: the stream comes without chunked framing.
            let request = format!(
                "GET /api/events?token={} HTTP/1.0\r\nHost: {}\r\n\r\n",
                self.token,
                self.host()
            );
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut lines = BufReader::new(stream).lines();
            let mut current = String::new();
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(name) = line.strip_prefix("event: ") {
                    current = name.to_owned();
                } else if let Some(data) = line.strip_prefix("data: ") {
                    if current == event {
                        return serde_json::from_str(data).unwrap();
                    }
                }
            }
            panic!("the event stream ended before a `{event}` event");
        };
        tokio::time::timeout(timeout, read)
            .await
            .unwrap_or_else(|_| panic!("no `{event}` event within {timeout:?}"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(task) = &self.task {
            task.abort();
        }
    }
}

/// A GUI on the primary engine serving one catalog node whose image is a
/// fresh test image, and a browser at its Nodes page; the image goes when
/// dropped.
pub struct OneNode {
    pub home: tempfile::TempDir,
    pub server: Server,
    pub browser: Browser,
    _image: testkit::images::ImageGuard,
}

impl OneNode {
    /// The node `name` on host `port`, its image `bytes` random bytes
    /// tagged after `tag`.
    pub async fn start(tag: &str, name: &str, port: u16, bytes: u64) -> Self {
        use testkit::images::{self, ImageSpec, Layer};
        let engine = engines::require_primary();
        let spec = ImageSpec {
            reference: images::unique_reference(tag),
            layers: vec![Layer::Random(bytes, port.into())],
        };
        let image = images::load(&engine, std::slice::from_ref(&spec));
        let home = tempfile::tempdir().unwrap();
        let catalog = catalog(home.path(), &[(name, &spec.reference, port)]);
        let server = Server::start(options(catalog, Some(&engine.host), home.path())).await;
        let browser = Browser::start().await;
        browser.driver.goto(&server.url).await.unwrap();
        Self {
            home,
            server,
            browser,
            _image: image,
        }
    }

    /// Ends the browser, then the server.
    pub async fn stop(self) {
        let Self {
            server, browser, ..
        } = self;
        browser.quit().await;
        server.stop().await;
    }
}

/// Writes a catalog file with `(name, image, host port)` nodes and loads it
/// over the built-in catalog, as `--catalog` does.
pub fn catalog(dir: &Path, nodes: &[(&str, &str, u16)]) -> Catalog {
    Catalog::load(Some(&write_catalog(dir, nodes)), true).unwrap()
}

/// Where screenshots go: `target/gui-screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("gui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A script: whether the page scrolls sideways, or any table in its frame
/// does.
pub const SIDEWAYS: &str = "return document.documentElement.scrollWidth > window.innerWidth \
    || [...document.querySelectorAll('.table-wrap')].some((t) => t.scrollWidth > t.clientWidth)";

/// Headless Chromium driven over WebDriver by its own `chromedriver`.
pub struct Browser {
    pub driver: WebDriver,
    chromedriver: Child,
    /// The temporary folder of chromedriver and Chromium (their profile,
    /// their temporary files), removed with the browser.
    _tmp: tempfile::TempDir,
}

impl Browser {
    /// Starts `chromedriver` on a free port and a headless Chromium session,
    /// 1280 pixels wide (a laptop).
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// The same, in dark mode: the system setting says dark.
    pub async fn start_dark() -> Self {
        Self::start_with(&[
            "--force-dark-mode",
            "--blink-settings=preferredColorScheme=0",
        ])
        .await
    }

    /// A session with these extra Chromium arguments.
    pub async fn start_with(args: &[&str]) -> Self {
        // The WebDriver client's HTTPS stack is the library's `reqwest`.
        budgetguard::registry::install_tls_provider();
        let port = free_port();
        let mut tmp = Some(tempfile::tempdir().unwrap());
        // In a process group of its own, which its Chromium joins: ended
        // together when the browser is dropped.
        let chromedriver = match Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .env("TMPDIR", tmp.as_ref().unwrap().path())
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
        {
            Ok(child) => child,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => engines::skip(
                "chromedriver is not installed (apt-get install chromium chromium-driver)",
            ),
            Err(e) => panic!("chromedriver does not start: {e}"),
        };
        let mut browser = None;
        let mut chromedriver = Some(chromedriver);
        for _ in 0..100 {
            match WebDriver::new(format!("http://127.0.0.1:{port}"), capabilities(args)).await {
                Ok(driver) => {
                    browser = Some(Browser {
                        driver,
                        chromedriver: chromedriver.take().unwrap(),
                        _tmp: tmp.take().unwrap(),
                    });
                    break;
                }
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
        let browser = browser.unwrap_or_else(|| {
            chromedriver.as_mut().map(|c| c.kill());
            panic!("chromedriver did not start a Chromium session within 10 s")
        });
        browser.resize(1280, 900).await;
        browser
    }

    /// Sets the window's size.
    pub async fn resize(&self, width: u32, height: u32) {
        self.driver
            .set_window_rect(0, 0, width, height)
            .await
            .unwrap();
    }

    /// Saves a PNG of the whole page as `target/gui-screenshots/<name>.png`.
    pub async fn screenshot(&self, name: &str) -> PathBuf {
        let rect = self.driver.get_window_rect().await.unwrap();
        let script = "window.scrollTo(0, 0); \
            return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;";
        let height = self
            .driver
            .execute(script, Vec::new())
            .await
            .unwrap()
            .json()
            .as_u64()
            .unwrap();
        self.resize(rect.width as u32, height as u32).await;
        let path = screenshot_dir().join(format!("{name}.png"));
        self.driver.screenshot(&path).await.unwrap();
        self.resize(rect.width as u32, rect.height as u32).await;
        path
    }

    /// The element with this CSS selector.
    pub async fn find(&self, css: &str) -> WebElement {
        self.driver
            .find(By::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}`: {e}"))
    }

    /// The text of the element with this CSS selector (found again if a
    /// live refresh replaced it meanwhile).
    pub async fn text(&self, css: &str) -> String {
        for _ in 0..50 {
            if let Ok(text) = self.find(css).await.text().await {
                return text;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.find(css).await.text().await.unwrap()
    }

    /// Opens the folds (`<details>`, "More options") around the element
    /// with this CSS selector, as a user would to reach it.
    pub async fn reveal(&self, css: &str) {
        let script = format!(
            "let e = document.querySelector({}); \
             while (e) {{ if (e.tagName === 'DETAILS') e.open = true; e = e.parentElement; }}",
            serde_json::to_string(css).unwrap()
        );
        self.js(&script).await;
    }

    /// Replaces the text of the field with this CSS selector.
    pub async fn set_text(&self, css: &str, text: &str) {
        self.reveal(css).await;
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(text).await.unwrap();
    }

    /// Clicks the element with this CSS selector (found again if a live
    /// refresh replaced it meanwhile).
    pub async fn click(&self, css: &str) {
        self.reveal(css).await;
        for _ in 0..50 {
            if self.find(css).await.click().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        self.find(css).await.click().await.unwrap();
    }

    /// Ticks (`checked`) or unticks the checkbox with this CSS selector,
    /// clicking until it is so: a click the driver reports failed may
    /// still have landed, and clicking again blindly would undo it.
    pub async fn set_checked(&self, css: &str, checked: bool) {
        self.reveal(css).await;
        let state = format!(
            "return document.querySelector({}).checked;",
            serde_json::to_string(css).unwrap()
        );
        for _ in 0..50 {
            if self.js(&state).await == serde_json::Value::Bool(checked) {
                return;
            }
            let _ = self.find(css).await.click().await;
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("`{css}` never became checked={checked}");
    }

    /// Presses Deploy for the selected nodes and waits for the deploy to
    /// end, done.
    pub async fn deploy_selected(&self) {
        self.click("#deploy-button").await;
        self.wait_for("the deploy to end", Duration::from_secs(300), || async {
            self.shown(".outcome").await && !self.shown("#cancel-button").await
        })
        .await;
        assert_eq!(
            self.text("#job-title").await,
            "Deployed on this workstation",
            "{}",
            self.text("#job").await
        );
    }

    /// A session in dark mode if `dark`, else in light mode.
    pub async fn start_in(dark: bool) -> Self {
        if dark {
            Self::start_dark().await
        } else {
            Self::start().await
        }
    }

    /// Runs `script` in the page and returns its JSON result.
    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.driver
            .execute(script, Vec::new())
            .await
            .unwrap()
            .json()
            .clone()
    }

    /// Waits until the text of `css` contains `wanted`.
    pub async fn wait_text(&self, css: &str, wanted: &str, timeout: Duration) {
        self.wait_for(&format!("`{css}` to say {wanted:?}"), timeout, || async {
            match self.driver.find(By::Css(css)).await {
                Ok(element) => element.text().await.unwrap_or_default().contains(wanted),
                Err(_) => false,
            }
        })
        .await;
    }

    /// Whether the element with this CSS selector is enabled.
    pub async fn enabled(&self, css: &str) -> bool {
        self.find(css).await.is_enabled().await.unwrap()
    }

    /// Clicks the checkbox of the catalog node `name`.
    pub async fn toggle_node(&self, name: &str) {
        self.find(&format!("input[name='node'][value='{name}']"))
            .await
            .click()
            .await
            .unwrap();
    }

    /// Waits until the button with this CSS selector is enabled.
    pub async fn wait_enabled(&self, css: &str, timeout: Duration) {
        self.wait_for(&format!("`{css}` to be enabled"), timeout, || {
            self.enabled(css)
        })
        .await;
    }

    /// Shows again the `nth` job of the job list (from 1, newest first),
    /// whose card says `title`.
    pub async fn show_listed_job(&self, nth: usize, title: &str) {
        self.click(&format!(
            "#job-list .job-entry:nth-child({nth}) [data-show-job]"
        ))
        .await;
        self.wait_text("#job-title", title, Duration::from_secs(10))
            .await;
    }

    /// Copies the package of the Create shown to `folder` and waits until
    /// the copy ended, saying `outcome`.
    pub async fn copy_package_to(&self, folder: &Path, outcome: &str) {
        self.set_text("#copy-folder", folder.to_str().unwrap())
            .await;
        self.click("#copy-button").await;
        self.wait_text("#job-title", outcome, Duration::from_secs(120))
            .await;
    }

    /// Waits until the focus is on the job card (a job just started).
    pub async fn wait_job_focused(&self) {
        self.wait_for(
            "the focus on the job card",
            Duration::from_secs(10),
            || async {
                self.js("return document.activeElement && document.activeElement.id")
                    .await
                    == serde_json::json!("job")
            },
        )
        .await;
    }

    /// Waits until `check` holds, polling every 100 ms; panics after `timeout`.
    pub async fn wait_for<F, Fut>(&self, what: &str, timeout: Duration, mut check: F)
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = bool>,
    {
        let started = std::time::Instant::now();
        while !check().await {
            if started.elapsed() > timeout {
                let page = self.driver.source().await.unwrap_or_default();
                panic!("timed out after {timeout:?} waiting for {what}; the page:\n{page}");
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The steps the job card shows, in order, each once, until `done`
    /// holds (polled every 50 ms); panics with the card's text after `limit`.
    pub async fn job_steps<F, Fut>(&self, limit: Duration, mut done: F) -> Vec<String>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = bool>,
    {
        let mut steps: Vec<String> = Vec::new();
        let began = std::time::Instant::now();
        while !done().await {
            assert!(
                began.elapsed() < limit,
                "the job did not end within {limit:?}: {}",
                self.text("#job").await
            );
            let step = self.text("#job-step").await;
            if steps.last() != Some(&step) && !step.is_empty() {
                steps.push(step);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        steps
    }

    /// Samples the job card every 50 ms until the job ended (within
    /// `limit`): each `[step, bytes, rate, time left]` shown together.
    pub async fn progress_samples(&self, limit: Duration) -> Vec<[String; 4]> {
        let mut seen = Vec::new();
        let began = std::time::Instant::now();
        while self.shown("#cancel-button").await || !self.shown(".outcome").await {
            assert!(
                began.elapsed() < limit,
                "the job did not end within {limit:?}: {}",
                self.text("#job").await
            );
            let sample = [
                self.text("#job-step").await,
                self.text("#job-bytes").await,
                self.text("#job-rate").await,
                self.text("#job-eta").await,
            ];
            if sample.iter().all(|s| !s.is_empty()) {
                seen.push(sample);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        seen
    }

    /// Clicks Install, follows the job's steps until it ends (within
    /// `limit`) and checks that the package was installed; returns the steps.
    pub async fn install_package(&self, limit: Duration) -> Vec<String> {
        self.click("#install-button").await;
        let steps = self
            .job_steps(limit, || async {
                !self.shown("#cancel-button").await && self.shown(".outcome").await
            })
            .await;
        assert_eq!(
            self.text("#job-title").await,
            "Package installed",
            "{}",
            self.text("#job").await
        );
        steps
    }

    /// Opens the GUI at `url` (with its token) and goes to the Install page.
    pub async fn open_install_page(&self, url: &str) {
        self.driver.goto(url).await.unwrap();
        self.go_to_install_page().await;
    }

    /// Goes to the Install page from the page shown (its handler asks the
    /// engine, which a loaded CI machine can keep busy for seconds).
    pub async fn go_to_install_page(&self) {
        self.click("nav a[href^='/install?']").await;
        self.wait_for("the install page", Duration::from_secs(30), || {
            self.shown("#package-path")
        })
        .await;
    }

    /// Whether an element with this CSS selector is shown.
    pub async fn shown(&self, css: &str) -> bool {
        match self.driver.find(By::Css(css)).await {
            Ok(element) => element.is_displayed().await.unwrap_or(false),
            Err(_) => false,
        }
    }

    /// Ends the session, then chromedriver (when dropped).
    pub async fn quit(self) {
        self.driver.clone().quit().await.ok();
    }
}

impl Drop for Browser {
    /// Ends chromedriver's process group: Chromium with it, also when a
    /// test failed before [`Browser::quit`] or the session did not end.
    fn drop(&mut self) {
        let group = format!("-{}", self.chromedriver.id());
        let _ = Command::new("kill")
            .args(["-KILL", "--", &group])
            .stderr(Stdio::null())
            .status();
        self.chromedriver.wait().ok();
    }
}

fn capabilities(args: &[&str]) -> ChromeCapabilities {
    let mut caps = DesiredCapabilities::chrome();
    caps.set_headless().unwrap();
    // Root in a container has no user namespace for Chromium's sandbox.
    caps.set_no_sandbox().unwrap();
    caps.set_disable_dev_shm_usage().unwrap();
    caps.add_arg("--hide-scrollbars").unwrap();
    caps.add_arg("--force-device-scale-factor=1").unwrap();
    for arg in args {
        caps.add_arg(arg).unwrap();
    }
    if Path::new("/usr/bin/chromium").exists() {
        caps.set_binary("/usr/bin/chromium").unwrap();
    }
    caps
}

/// Removes a node's container, network and claim (the `<project>.owner`
/// volume) from `engine` when dropped, for tests that fail before their
/// own uninstall, or end without one.
pub struct NodeCleanup {
    pub engine: testkit::engines::TestEngine,
    pub project: String,
}

impl NodeCleanup {
    /// The cleanup of the catalog node `name` on `engine`.
    pub fn of(engine: &testkit::engines::TestEngine, catalog: &Catalog, name: &str) -> Self {
        Self {
            engine: engine.clone(),
            project: budgetguard::compose::project_name(catalog.get(name).unwrap()),
        }
    }
}

impl Drop for NodeCleanup {
    fn drop(&mut self) {
        for args in [
            vec!["rm", "-f", self.project.as_str()],
            vec!["network", "rm", &format!("{}_default", self.project)],
            vec!["volume", "rm", &format!("{}.owner", self.project)],
        ] {
            let _ = self
                .engine
                .docker()
                .args(&args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
