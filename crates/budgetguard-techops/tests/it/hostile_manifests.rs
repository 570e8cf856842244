//! Packages whose manifests are hostile but well-formed, forged with
//! Python's `zipfile` (no engine needed): opening one takes linear time,
//! counts beyond what a package may hold are refused at once, sums of sizes
//! that overflow are refused cleanly, and text from the manifest reaches the
//! terminal escaped.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use testkit::fixtures::{forge_package, Forge};
use testkit::process::run_measured;

use crate::support::*;

testkit::tests![
    packages_of_many_nodes_images_entries_and_model_files_are_opened_or_refused_quickly,
    sizes_whose_sums_overflow_are_refused_cleanly,
    invisible_format_characters_in_a_node_name_are_escaped,
];

/// What opening a package may take, by the issue's measure.
const OPEN_LIMIT: Duration = Duration::from_secs(2);

const NONE: Forge = Forge {
    nodes: 1,
    images: 1,
    blobs: 0,
    model_files: 0,
};

/// Runs `inspect-package` on `package`, within [`OPEN_LIMIT`] of CPU time:
/// tests running beside it stretch its wall time, never its CPU time, while
/// a quadratic opening of these counts would take minutes of either.
fn inspect(home: &Path, package: &Path) -> Run {
    let measured = run_measured(
        bin(home, None)
            .args(["inspect-package", "--package"])
            .arg(package)
            .stdin(Stdio::null()),
    );
    let run = Run {
        code: measured.status.code().unwrap_or(-1),
        stdout: measured.stdout,
        stderr: measured.stderr,
    };
    assert!(
        measured.cpu < OPEN_LIMIT,
        "{}: inspect-package took {:?} of CPU time ({:?} in all); stderr: {}",
        package.display(),
        measured.cpu,
        measured.wall,
        run.stderr
    );
    run
}

/// The one error line of a refused run (hint lines may follow).
fn error_line(run: &Run) -> &str {
    assert_eq!(run.code, 1, "stdout {}\nstderr {}", run.stdout, run.stderr);
    let lines: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| !l.starts_with("hint: "))
        .collect();
    assert_eq!(lines.len(), 1, "one line: {}", run.stderr);
    assert!(lines[0].len() < 600, "short: {}", lines[0]);
    lines[0]
}

fn packages_of_many_nodes_images_entries_and_model_files_are_opened_or_refused_quickly() {
    let home = tempfile::tempdir().unwrap();
    let path = |name: &str| home.path().join(name);
    let refused = [
        (
            "nodes.zip",
            Forge {
                nodes: 40_000,
                ..NONE
            },
            "lists 40000 nodes, more than the 1000",
        ),
        (
            "images.zip",
            Forge {
                images: 40_000,
                ..NONE
            },
            "lists 40000 images, more than the 1000",
        ),
    ];
    for (name, forge, expected) in refused {
        forge_package(&path(name), forge, "");
        let run = inspect(home.path(), &path(name));
        let error = error_line(&run);
        assert!(error.contains(expected), "{name}: {error}");
    }
    let opened = [
        (
            "most-nodes.zip",
            Forge {
                nodes: 1_000,
                images: 1_000,
                ..NONE
            },
        ),
        (
            "many-files.zip",
            Forge {
                blobs: 20_000,
                model_files: 20_000,
                ..NONE
            },
        ),
    ];
    for (name, forge) in opened {
        forge_package(&path(name), forge, "");
        inspect(home.path(), &path(name)).success();
    }
}

fn sizes_whose_sums_overflow_are_refused_cleanly() {
    let home = tempfile::tempdir().unwrap();
    let package = home.path().join("overflow.zip");
    // An update package whose base holds two layers of 2^63 bytes: each
    // size is a valid u64, their sum is not.
    let change = r#"
big = [{'digest': 'sha256:%064x' % (0xa0 + i), 'size': 1 << 63} for i in range(2)]
manifest['format_version'] = 3
manifest['base'] = {'package_id': '%064x' % 7, 'blobs': big}
manifest['images'][0]['layers'] = big
"#;
    forge_package(&package, NONE, change);
    let run = inspect(home.path(), &package);
    let error = error_line(&run);
    assert!(
        error.contains("lists sizes whose sum is more than 16 EiB"),
        "{error}"
    );
}

fn invisible_format_characters_in_a_node_name_are_escaped() {
    let home = tempfile::tempdir().unwrap();
    for (i, format) in ['\u{202e}', '\u{2066}', '\u{200b}', '\u{feff}', '\u{61c}']
        .into_iter()
        .enumerate()
    {
        let package = home.path().join(format!("bidi{i}.zip"));
        // The name's service is still `n0`, so that only the character is
        // wrong with the package.
        let change = format!(
            "manifest['nodes'][0]['name'] = 'n0' + chr({})",
            format as u32
        );
        forge_package(&package, NONE, &change);
        let run = inspect(home.path(), &package);
        let output = format!("{}{}", run.stdout, run.stderr);
        assert!(
            !output.contains(format),
            "{format:?} reached the terminal: {output}"
        );
        let error = error_line(&run);
        assert!(
            error.contains(&format!("`n0{}`", format.escape_unicode())),
            "{error}"
        );
    }
}
