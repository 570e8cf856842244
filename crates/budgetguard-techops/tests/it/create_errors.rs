//! Bad input and interruption: one clear line naming the fix, a non-zero exit
//! code, and nothing left at or beside the output.

use std::process::Command;

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};
use testkit::proxy::CuttingProxy;

use crate::support::*;

testkit::tests![
    an_unknown_node_is_a_usage_error_listing_the_known_ones,
    bad_arguments_exit_with_2,
    an_unreachable_engine_names_the_socket_tried,
    a_missing_image_with_no_pull_is_refused,
    an_existing_output_is_untouched_without_force_and_replaced_with_it,
    a_missing_output_folder_is_named,
    a_full_disk_is_refused_before_writing,
    ctrl_c_stops_the_export_and_leaves_nothing,
    an_engine_dying_mid_export_leaves_nothing,
    only_a_regular_file_is_replaced_and_never_the_base,
    a_killed_creates_partial_file_is_removed_by_the_next_create_but_a_running_ones_is_not,
    more_nodes_than_install_opens_are_refused_at_create,
];

/// The one `error:` line of a failed run.
fn error_line(run: &Run) -> &str {
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("error: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected in: {}", run.stderr);
    lines[0]
}

fn an_unknown_node_is_a_usage_error_listing_the_known_ones() {
    let home = tempfile::tempdir().unwrap();
    let run = run(bin(home.path(), Some("unix:///nonexistent.sock"))
        .args([
            "create-install-package",
            "--nodes",
            "FLUX Dev,FLUX Pro",
            "--output",
        ])
        .arg(home.path().join("p.zip")));
    assert_eq!(run.code, 2);
    let line = error_line(&run);
    assert!(line.contains("unknown node `FLUX Pro`"), "{line}");
    assert!(
        line.contains("FLUX Dev, FLUX Canny, FLUX Depth, FLUX Schnell, FLUX Kontext, Demo"),
        "{line}"
    );
    assert_eq!(left_in(home.path()), Vec::<String>::new());
}

fn bad_arguments_exit_with_2() {
    let home = tempfile::tempdir().unwrap();
    let run = run(bin(home.path(), None).args([
        "create-install-package",
        "--nodes",
        "Demo",
        "--compression",
        "rar",
    ]));
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("invalid value 'rar' for '--compression <METHOD>'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("[possible values: none, deflate, zstd]"),
        "{}",
        run.stderr
    );
}

fn an_unreachable_engine_names_the_socket_tried() {
    let home = tempfile::tempdir().unwrap();
    let run = run(bin(
        home.path(),
        Some("unix:///tmp/budgetguard-no-such-engine.sock"),
    )
    .args(["create-install-package", "--nodes", "Demo", "--output"])
    .arg(home.path().join("p.zip")));
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(
        line.contains("unix:///tmp/budgetguard-no-such-engine.sock` (from DOCKER_HOST)"),
        "{line}"
    );
    assert!(line.contains("start Docker"), "{line}");
    assert_eq!(left_in(home.path()), Vec::<String>::new());
}

fn a_missing_image_with_no_pull_is_refused() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let catalog = write_catalog(
        home.path(),
        &[("Ghost", "budgetguard-test/never-built:1", 9120)],
    );
    let run = run(bin(home.path(), Some(&engine.host))
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Ghost",
            "--output",
        ])
        .arg(home.path().join("p.zip"))
        .arg("--catalog")
        .arg(&catalog));
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(
        line.contains("`budgetguard-test/never-built:1` is not in the Docker engine"),
        "{line}"
    );
    assert!(
        !line.contains("--no-pull"),
        "the library names no option: {line}"
    );
    assert_eq!(
        run.hints(),
        ["leave out `--no-pull` to let the engine pull it"]
    );
    assert_eq!(left_in(home.path()), ["catalog.json"]);
}

/// A small loaded image and a catalog naming it `Small`.
fn small_image(
    engine: &engines::TestEngine,
    home: &std::path::Path,
    layer: Layer,
) -> images::ImageGuard {
    let spec = ImageSpec {
        reference: images::unique_reference("small"),
        layers: vec![layer],
    };
    let guard = images::load(engine, std::slice::from_ref(&spec));
    write_catalog(home, &[("Small", &spec.reference, 9121)]);
    guard
}

fn create_small(
    engine: &engines::TestEngine,
    home: &std::path::Path,
    output: &std::path::Path,
) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command
        .args([
            "create-install-package",
            "--no-pull",
            "--nodes",
            "Small",
            "--output",
        ])
        .arg(output)
        .arg("--catalog")
        .arg(home.join("catalog.json"));
    command
}

fn an_existing_output_is_untouched_without_force_and_replaced_with_it() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(10_000, 7));
    let output = home.path().join("package.zip");
    std::fs::write(&output, b"precious").unwrap();
    let run = run(&mut create_small(&engine, home.path(), &output));
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(line.ends_with("package.zip` already exists"), "{line}");
    assert_eq!(
        run.hints(),
        ["pass `--force` to replace it, or choose another `--output`"]
    );
    assert_eq!(std::fs::read(&output).unwrap(), b"precious");

    crate::support::run(create_small(&engine, home.path(), &output).arg("--force")).success();
    real_zip_readers_accept(&output);
    assert_eq!(left_in(home.path()), ["catalog.json", "package.zip"]);
}

fn a_missing_output_folder_is_named() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(10_000, 8));
    let run = run(&mut create_small(
        &engine,
        home.path(),
        &home.path().join("nowhere/p.zip"),
    ));
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(line.contains("nowhere`: no such folder"), "{line}");
}

/// A 4 MiB tmpfs: too small for the image. Needs root (mount); without it
/// the test is ignored unless Docker tests are required.
fn a_full_disk_is_refused_before_writing() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(8 << 20, 9));
    let small = Tmpfs::mount("4m");
    let run = run(&mut create_small(
        &engine,
        home.path(),
        &small.dir.path().join("p.zip"),
    ));
    drop(small);
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(line.contains("not enough free disk in"), "{line}");
    assert!(
        line.contains("free some space, or write the package to another disk"),
        "{line}"
    );
    assert_eq!(
        run.hints(),
        ["choose an `--output` on a disk with more room"]
    );
}

fn ctrl_c_stops_the_export_and_leaves_nothing() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(400 << 20, 10));
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let (code, rest) = interrupt_after(
        &mut create_small(&engine, home.path(), &out_dir.join("p.zip")),
        "Exporting images (",
        "INT",
    );
    assert_eq!(code, Some(1), "{rest}");
    assert!(
        rest.contains("error: interrupted; no package was written"),
        "{rest}"
    );
    assert_eq!(files_in(&out_dir), Vec::<String>::new());
}

fn an_engine_dying_mid_export_leaves_nothing() {
    let engine = engines::require_primary();
    let Some(socket) = engine.host.strip_prefix("unix://") else {
        engines::skip("the engine is not on a unix socket");
    };
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(16 << 20, 11));
    let proxy = CuttingProxy::cut_responses(std::path::Path::new(socket), 4 << 20);
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let existing = out_dir.join("p.zip");
    std::fs::write(&existing, b"old package").unwrap();
    let run = run(bin(home.path(), Some(&proxy.host()))
        .args([
            "create-install-package",
            "--force",
            "--no-pull",
            "--nodes",
            "Small",
            "--output",
        ])
        .arg(&existing)
        .arg("--catalog")
        .arg(home.path().join("catalog.json")));
    assert_eq!(run.code, 1);
    let line = error_line(&run);
    assert!(line.contains("export"), "{line}");
    assert_eq!(files_in(&out_dir), ["p.zip"]);
    assert_eq!(std::fs::read(&existing).unwrap(), b"old package");
}

/// `--force` replaces a regular file or a symbolic link's own entry, never
/// a device or a named pipe (as root, `rename` would replace a device node:
/// the test makes its own `/dev/null` with `mknod` rather than risk the
/// machine's); `--since X --output X` is refused before anything changes.
fn only_a_regular_file_is_replaced_and_never_the_base() {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(10_000, 12));
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    let null = out_dir.join("null.zip");
    let made = Command::new("mknod")
        .arg(&null)
        .args(["c", "1", "3"])
        .status()
        .unwrap();
    if !made.success() {
        engines::skip("mknod needs root");
    }
    let fifo = out_dir.join("fifo.zip");
    crate::install_errors::mkfifo(&fifo);
    for (output, what) in [(&null, "a device"), (&fifo, "a named pipe (FIFO)")] {
        let run = run(create_small(&engine, home.path(), output).arg("--force"));
        assert_eq!(run.code, 1, "{}", run.stderr);
        let line = error_line(&run);
        assert!(
            line.contains(&format!(
                "cannot replace `{}`: it is {what}, not a regular file; name a regular file",
                output.display()
            )),
            "{line}"
        );
    }
    let null = std::fs::symlink_metadata(&null).unwrap();
    let real = std::fs::metadata("/dev/null").unwrap().rdev();
    assert!(null.file_type().is_char_device() && null.rdev() == real);
    assert!(std::fs::symlink_metadata(&fifo)
        .unwrap()
        .file_type()
        .is_fifo());
    assert_eq!(files_in(&out_dir), ["fifo.zip", "null.zip"]);

    // A symbolic link is replaced itself, never its target.
    let target = home.path().join("target.zip");
    std::fs::write(&target, b"kept").unwrap();
    let link = out_dir.join("link.zip");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    crate::support::run(create_small(&engine, home.path(), &link).arg("--force")).success();
    assert!(std::fs::symlink_metadata(&link).unwrap().is_file());
    assert_eq!(std::fs::read(&target).unwrap(), b"kept");

    // The base of an update package is never its output.
    let before = std::fs::read(&link).unwrap();
    for output in [link.clone(), out_dir.join(".").join("link.zip")] {
        let run = run(create_small(&engine, home.path(), &output)
            .arg("--force")
            .arg("--since")
            .arg(&link));
        assert_eq!(run.code, 1, "{}", run.stderr);
        let line = error_line(&run);
        assert!(
            line.contains("link.zip` is both the base package and the output; write the new package to another file"),
            "{line}"
        );
    }
    assert_eq!(
        std::fs::read(&link).unwrap(),
        before,
        "the base is untouched"
    );
    assert_eq!(files_in(&out_dir), ["fifo.zip", "link.zip", "null.zip"]);
}

/// Starts a create of `Small` into `output`, waits until its hidden partial
/// file beside the output has data, and returns the process and that file.
fn create_until_partial(
    engine: &engines::TestEngine,
    home: &std::path::Path,
    output: &std::path::Path,
) -> (std::process::Child, std::path::PathBuf) {
    let mut child = create_small(engine, home, output)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let dir = output.parent().unwrap();
    let prefix = format!(".{}.", output.file_name().unwrap().to_str().unwrap());
    let started = std::time::Instant::now();
    loop {
        let partial = std::fs::read_dir(dir).unwrap().flatten().find(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.starts_with(&prefix)
                && name.ends_with(".partial")
                && e.metadata().is_ok_and(|m| m.len() > 0)
        });
        if let Some(partial) = partial {
            return (child, partial.path());
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the create ended before its partial file had data"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(120));
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn signal(child: &std::process::Child, signal: &str) {
    assert!(Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap()
        .success());
}

/// A create killed mid-write (SIGKILL: no clean-up) leaves its partial
/// file; the next create into the folder removes it. A partial file of a
/// create that still runs (stopped with SIGSTOP, so surely mid-write) is
/// left alone, and that create then finishes.
fn a_killed_creates_partial_file_is_removed_by_the_next_create_but_a_running_ones_is_not() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let _image = small_image(&engine, home.path(), Layer::Random(96 << 20, 13));
    let out_dir = home.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();

    let (mut running, running_partial) =
        create_until_partial(&engine, home.path(), &out_dir.join("a.zip"));
    signal(&running, "STOP");
    let beside = run(&mut create_small(
        &engine,
        home.path(),
        &out_dir.join("b.zip"),
    ));
    signal(&running, "CONT");
    beside.success();
    assert!(running_partial.exists(), "a running create's partial stays");
    assert!(
        running.wait().unwrap().success(),
        "the running create finishes"
    );
    assert_eq!(files_in(&out_dir), ["a.zip", "b.zip"]);

    let (mut killed, killed_partial) =
        create_until_partial(&engine, home.path(), &out_dir.join("c.zip"));
    signal(&killed, "KILL");
    killed.wait().unwrap();
    assert!(killed_partial.exists(), "SIGKILL leaves the partial file");
    crate::support::run(&mut create_small(
        &engine,
        home.path(),
        &out_dir.join("d.zip"),
    ))
    .success();
    assert!(!killed_partial.exists(), "the next create removed it");
    assert_eq!(files_in(&out_dir), ["a.zip", "b.zip", "d.zip"]);
}

/// Create never writes a package install would refuse: more nodes than a
/// package may hold are refused before anything is exported.
fn more_nodes_than_install_opens_are_refused_at_create() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..1_001).map(|i| format!("Many {i}")).collect();
    let nodes: Vec<_> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            serde_json::json!({"name": name, "image": DEMO_IMAGE, "host_port": 20_000 + i})
        })
        .collect();
    let catalog = home.path().join("catalog.json");
    std::fs::write(&catalog, serde_json::json!({ "nodes": nodes }).to_string()).unwrap();
    let output = home.path().join("many.zip");
    let refused = run(bin(home.path(), Some(&engine.host))
        .args(["create-install-package", "--no-pull", "--output"])
        .arg(&output)
        .arg("--catalog")
        .arg(&catalog)
        .args(["--nodes", &names.join(",")]));
    assert_eq!(refused.code, 1, "{}", refused.stderr);
    assert_eq!(
        error_line(&refused),
        "error: 1001 nodes were chosen, more than the 1000 a package may hold; split them over several packages"
    );
    assert_eq!(left_in(home.path()), ["catalog.json"]);
}
