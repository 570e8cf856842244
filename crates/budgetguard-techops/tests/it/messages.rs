//! Snapshots (insta) of what the real binary prints: `--help` of every
//! command and the main messages, with paths, times, sizes, digests, ports
//! and image names filtered. `cargo insta review` (or `INSTA_UPDATE=always`)
//! accepts a change; CI refuses a snapshot that differs.

use std::path::Path;

use testkit::engines;

use crate::support::*;

testkit::tests![
    help_of_every_command,
    an_unknown_node,
    a_bad_option_value,
    an_unreachable_engine,
    a_node_that_is_not_installed,
    a_file_that_is_not_a_package,
    an_error_as_json,
    credentials_without_a_terminal,
    the_catalog_table,
    an_existing_output,
    a_missing_image_with_pulling_turned_off,
    colour_only_on_a_terminal_and_never_with_no_color,
];

/// The commands whose `--help` is kept (`man` is hidden but kept too).
const COMMANDS: [&str; 19] = [
    "catalog",
    "create-install-package",
    "inspect-package",
    "verify-package",
    "split-package",
    "publish-package",
    "install-credentials",
    "install-package",
    "deploy-local",
    "status",
    "start",
    "stop",
    "uninstall",
    "gui",
    "keygen",
    "trust-key",
    "completions",
    "man",
    "help",
];

/// Snapshot settings: what changes from run to run is replaced by a name.
fn settings(home: &Path) -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.set_omit_expression(true);
    for (pattern, name) in [
        (escape(&home.display().to_string()), "[HOME]"),
        (r"budgetguard-test/[a-z0-9-]+:1".to_owned(), "[IMAGE]"),
        (r"sha256:[0-9a-f]{64}".to_owned(), "[DIGEST]"),
        (r"\b[0-9a-f]{64}\b".to_owned(), "[SHA256]"),
        (r"\b\d+(\.\d)? (B|KiB|MiB|GiB|TiB)\b".to_owned(), "[SIZE]"),
        (r"\b\d+\.\d+ ?s\b".to_owned(), "[TIME]"),
        (r"127\.0\.0\.1:\d+".to_owned(), "127.0.0.1:[PORT]"),
        (
            r"budgetguard-techops \d+\.\d+\.\d+".to_owned(),
            "budgetguard-techops [VERSION]",
        ),
    ] {
        settings.add_filter(&pattern, name);
    }
    settings
}

/// `text` as a regular expression that matches it literally.
fn escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let special = "\\.+*?()|[]{}^$#&-~".contains(c);
            special.then_some('\\').into_iter().chain([c])
        })
        .collect()
}

/// The exit code, stdout and stderr of a run, as one text.
fn shown(run: &Run) -> String {
    format!(
        "exit code: {}\n----- stdout -----\n{}----- stderr -----\n{}",
        run.code, run.stdout, run.stderr
    )
}

/// Runs `args` with no engine reachable, in a fresh home.
fn offline(args: &[&str]) -> (tempfile::TempDir, Run) {
    let home = tempfile::tempdir().unwrap();
    let run = run(bin(home.path(), Some("unix:///nonexistent/docker.sock"))
        .current_dir(home.path())
        .args(args));
    (home, run)
}

fn help_of_every_command() {
    let home = tempfile::tempdir().unwrap();
    let help = |args: &[&str]| run(bin(home.path(), None).args(args));
    settings(home.path()).bind(|| {
        insta::assert_snapshot!("help", shown(&help(&["--help"])));
        for command in COMMANDS {
            insta::assert_snapshot!(
                format!("help-{command}"),
                shown(&help(&[command, "--help"]))
            );
        }
    });
}

fn an_unknown_node() {
    let (home, run) = offline(&["create-install-package", "--nodes", "FLUX Dev,FLUX Pro"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("unknown-node", shown(&run)));
}

fn a_bad_option_value() {
    let (home, run) = offline(&[
        "create-install-package",
        "--nodes",
        "Demo",
        "--compression",
        "rar",
    ]);
    settings(home.path()).bind(|| insta::assert_snapshot!("bad-option-value", shown(&run)));
}

fn an_unreachable_engine() {
    let (home, run) = offline(&["create-install-package", "--nodes", "Demo"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("unreachable-engine", shown(&run)));
}

fn a_node_that_is_not_installed() {
    let (home, run) = offline(&["stop", "FLUX Dev"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("not-installed", shown(&run)));
}

fn a_file_that_is_not_a_package() {
    let home = tempfile::tempdir().unwrap();
    let file = home.path().join("holiday-photos.zip");
    std::fs::write(&file, b"PK\x03\x04 not really").unwrap();
    let run = run(bin(home.path(), None)
        .args(["inspect-package", "--package"])
        .arg(&file));
    settings(home.path()).bind(|| insta::assert_snapshot!("not-a-package", shown(&run)));
}

fn an_error_as_json() {
    let (home, run) = offline(&["--json", "stop", "FLUX Dev"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("error-json", shown(&run)));
}

fn credentials_without_a_terminal() {
    let (home, run) = offline(&["install-credentials"]);
    settings(home.path())
        .bind(|| insta::assert_snapshot!("credentials-without-terminal", shown(&run)));
}

fn the_catalog_table() {
    let (home, run) = offline(&["catalog"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("catalog", shown(&run)));
}

/// `create-install-package` of a node whose image the engine lacks.
fn create_missing(home: &Path, engine: &engines::TestEngine, extra: &[&str]) -> Run {
    let catalog = write_catalog(home, &[("Ghost", "budgetguard-test/never-built:1", 9120)]);
    run(bin(home, Some(&engine.host))
        .current_dir(home)
        .args(["create-install-package", "--no-pull", "--nodes", "Ghost"])
        .arg("--catalog")
        .arg(&catalog)
        .args(extra))
}

fn an_existing_output() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    std::fs::write(home.path().join("install-package.zip"), b"precious").unwrap();
    let run = create_missing(home.path(), &engine, &[]);
    settings(home.path()).bind(|| insta::assert_snapshot!("output-exists", shown(&run)));
}

fn a_missing_image_with_pulling_turned_off() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let run = create_missing(home.path(), &engine, &["--output", "p.zip"]);
    settings(home.path()).bind(|| insta::assert_snapshot!("image-missing", shown(&run)));
    assert!(!home.path().join("p.zip").exists());
}

/// Colour on a terminal (a pseudo-terminal from util-linux's `script`),
/// none when NO_COLOR is set there, none when stderr is not a terminal.
fn colour_only_on_a_terminal_and_never_with_no_color() {
    let home = tempfile::tempdir().unwrap();
    let missing = home.path().join("missing.zip");
    let line = format!(
        "{} inspect-package --package {}",
        env!("CARGO_BIN_EXE_budgetguard-techops"),
        missing.display()
    );
    let on_terminal = |no_color: bool| {
        let mut script = std::process::Command::new("script");
        script
            .args(["-q", "-e", "-c", &line, "/dev/null"])
            .env("HOME", home.path())
            .env("XDG_CONFIG_HOME", home.path().join("config"))
            .env("XDG_DATA_HOME", home.path().join("data"))
            .env("TERM", "xterm")
            .env_remove("NO_COLOR")
            .env_remove("CLICOLOR_FORCE");
        if no_color {
            script.env("NO_COLOR", "1");
        }
        let out = script.output().unwrap();
        assert_eq!(out.status.code(), Some(1), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let coloured = on_terminal(false);
    assert!(
        coloured.contains("error") && coloured.contains('\u{1b}'),
        "{coloured:?}"
    );
    let plain = on_terminal(true);
    assert!(
        plain.contains("error") && !plain.contains('\u{1b}'),
        "{plain:?}"
    );
    let piped = run(bin(home.path(), None)
        .env_remove("NO_COLOR")
        .args(["inspect-package", "--package"])
        .arg(&missing));
    assert!(
        piped.stderr.contains("error") && !piped.stderr.contains('\u{1b}'),
        "{:?}",
        piped.stderr
    );
}
