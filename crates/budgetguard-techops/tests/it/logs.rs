//! Logs for support: every run writes its command line, the library's engine
//! calls and decisions, and its outcome to `<data dir>/logs/`; `-v` shows
//! them on stderr; and no secret ever reaches a log or the terminal.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use budgetguard::credentials::Credentials;
use budgetguard::engine::RegistryAuth;
use testkit::engines;

use crate::support::*;

testkit::tests![
    every_run_is_logged_with_its_command_line_and_outcome,
    verbose_shows_the_log_on_stderr_and_quiet_only_errors,
    no_secret_reaches_a_log_or_the_terminal,
];

/// The log folder of runs in `home` (`XDG_DATA_HOME` is `home/data`).
fn log_dir(home: &Path) -> PathBuf {
    home.join("data/budgetguard-techops/logs")
}

/// Everything logged in `home`, all files.
fn logged(home: &Path) -> String {
    let dir = log_dir(home);
    files_in(&dir)
        .iter()
        .map(|name| std::fs::read_to_string(dir.join(name)).unwrap())
        .collect()
}

fn every_run_is_logged_with_its_command_line_and_outcome() {
    let home = tempfile::tempdir().unwrap();
    let offline = Some("unix:///nonexistent/docker.sock");
    run(bin(home.path(), offline).arg("catalog")).success();
    let failed =
        run(bin(home.path(), offline).args(["create-install-package", "--nodes", "FLUX Pro"]));
    assert_eq!(failed.code, 2);

    let files = files_in(&log_dir(home.path()));
    assert_eq!(files.len(), 1, "one file a day: {files:?}");
    let name = &files[0];
    assert!(
        name.starts_with("budgetguard-techops.") && name.ends_with(".log"),
        "{name}"
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(log_dir(home.path()))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700, "the log folder is the user's alone");
    let log = logged(home.path());
    for expected in [
        r#"command line version="#,
        r#""catalog"]"#,
        r#""create-install-package", "--nodes", "FLUX Pro"]"#,
        "unknown node `FLUX Pro`",
        "exit_code=2",
    ] {
        assert!(
            log.contains(expected),
            "`{expected}` not in the log:\n{log}"
        );
    }
}

fn verbose_shows_the_log_on_stderr_and_quiet_only_errors() {
    let home = tempfile::tempdir().unwrap();
    let offline = Some("unix:///nonexistent/docker.sock");
    let args = ["create-install-package", "--nodes", "Demo"];
    let verbose = run(bin(home.path(), offline).arg("-v").args(args));
    assert_eq!(verbose.code, 1);
    assert!(
        verbose.stderr.lines().any(|l| l.starts_with("DEBUG ")
            && l.contains("budgetguard::engine: connecting to the Docker engine")),
        "{}",
        verbose.stderr
    );
    let quiet = run(bin(home.path(), offline).arg("--quiet").args(args));
    assert_eq!(quiet.code, 1);
    assert!(quiet.stdout.is_empty());
    assert!(
        quiet
            .stderr
            .lines()
            .all(|l| l.starts_with("error: ") || l.starts_with("hint: ")),
        "{}",
        quiet.stderr
    );
    let quiet_data = run(bin(home.path(), offline).args(["catalog", "-q"]));
    assert_eq!(quiet_data.stdout, "", "--quiet prints no report");
    let json = run(bin(home.path(), offline).args(["catalog", "-q", "--json"]));
    assert!(json.json()["nodes"].is_array(), "--json still prints JSON");
}

/// A recognisable NGC API key, Hugging Face token and `docker login`
/// password are planted in the environment, on stdin and in the Docker
/// configuration; several commands run with `-vv`, one of them a pull with
/// that login from a registry nothing listens at. None of the secrets is in
/// the log folder, on stdout or on stderr.
fn no_secret_reaches_a_log_or_the_terminal() {
    const KEY: &str = "nvapi-PLANTED-9d1f0c5e-ngc-key";
    const TOKEN: &str = "hf_PLANTEDa83b7hugging-face-token";
    const PASSWORD: &str = "PLANTED-5c2e-docker-login";
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let dir = home.path().join("install");
    let port = free_port();
    let login = base64::engine::general_purpose::STANDARD.encode(format!("techops:{PASSWORD}"));
    std::fs::create_dir_all(home.path().join("docker")).unwrap();
    std::fs::write(
        home.path().join("docker/config.json"),
        serde_json::json!({"auths": {format!("127.0.0.1:{port}"): {"auth": login}}}).to_string(),
    )
    .unwrap();
    let secrets = [KEY, TOKEN, PASSWORD, login.as_str()];
    let catalog = write_catalog(
        home.path(),
        &[("Far", &format!("127.0.0.1:{port}/nim/far:1"), free_port())],
    );
    let tool = || {
        let mut command = bin(home.path(), Some(&engine.host));
        command
            .env("NGC_API_KEY", KEY)
            .env("HF_TOKEN", TOKEN)
            .env("BUDGETGUARD_INSTALL_DIR", &dir)
            .env("BUDGETGUARD_CATALOG", &catalog)
            .arg("-vv");
        command
    };
    let mut shown = Vec::new();

    let stored = run_with_input(
        tool().args(["install-credentials", "--stdin"]),
        format!("NGC_API_KEY={KEY}\nHF_TOKEN={TOKEN}\n").as_bytes(),
    )
    .success();
    shown.extend([stored.stdout, stored.stderr]);

    let pull = run(tool()
        .args(["create-install-package", "--nodes", "Far", "--output"])
        .arg(home.path().join("p.zip")));
    assert_eq!(pull.code, 1, "{}", pull.stderr);
    assert!(
        pull.stderr.contains("cannot reach 127.0.0.1:"),
        "{}",
        pull.stderr
    );
    for args in [
        &["install-credentials", "--from-env"][..],
        &["catalog"],
        &["deploy-local", "--nodes", "Far"],
        &["status"],
        &["start", "Far"],
    ] {
        let run = run(tool().args(args));
        shown.extend([run.stdout, run.stderr]);
    }
    shown.extend([pull.stdout, pull.stderr]);
    shown.push(format!(
        "{:?}",
        Credentials::load(&dir.join("credentials.env")).unwrap()
    ));
    shown.push(format!("{:?}", RegistryAuth::new(Some(KEY.to_owned()))));

    let log = logged(home.path());
    assert!(
        log.contains(r#"login="user and password""#) && log.contains("pull failed"),
        "the pull with the planted login is logged:\n{log}"
    );
    for secret in secrets {
        assert!(!log.contains(secret), "`{secret}` is in the log:\n{log}");
        for text in &shown {
            assert!(!text.contains(secret), "`{secret}` was shown:\n{text}");
        }
    }
}
