//! `download-to-cache` against testkit's model server.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::*;

testkit::tests![
    one_profile_makes_the_exact_layout_and_a_second_run_downloads_nothing,
    files_shared_by_profiles_are_stored_once,
    a_cut_connection_is_resumed_with_a_range_request,
    a_killed_download_resumes_on_the_next_run,
    a_missing_or_wrong_key_is_refused,
    profile_choice_errors_are_usage_errors,
    an_unreachable_server_is_named,
    a_damaged_blob_is_fetched_again,
    another_model_with_an_empty_file_and_deep_paths,
];

/// A model of a few hundred MB: the cache layout, exactly.
fn one_profile_makes_the_exact_layout_and_a_second_run_downloads_nothing() {
    let server = ModelServer::demo(256 << 20);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    let run = populate(&server, cache, "demo-base-cpu");
    let files = server.files("demo-base-cpu").to_vec();
    let total: u64 = files.iter().map(|f| f.size).sum();
    assert!(total > 100 << 20, "{total}");
    assert_eq!(
        run.stdout,
        format!(
            "download-to-cache: profiles demo-base-cpu cached in {}: 3 files, 3 downloaded ({total} bytes), 0 already cached\n",
            cache.display()
        )
    );
    assert!(
        run.stderr
            .contains("text_encoder/model.safetensors: done, sha256 matches"),
        "{}",
        run.stderr
    );
    assert_eq!(server.bytes_served(), total);

    // blobs/<sha256>, each once; nothing partial left.
    let repo = repo(cache);
    let mut shas: Vec<String> = files.iter().map(|f| f.sha256.clone()).collect();
    shas.sort();
    assert_eq!(names(&repo.join("blobs")), shas);
    for f in &files {
        let blob = repo.join("blobs").join(&f.sha256);
        assert_eq!(std::fs::metadata(&blob).unwrap().len(), f.size);
        // snapshots/<rev>/<path> -> ../../blobs/<sha256>, relative, one ../ more per folder.
        let link = repo
            .join("snapshots")
            .join(&server.spec().revision)
            .join(&f.path);
        let target = std::fs::read_link(&link).unwrap();
        let ups = "../".repeat(2 + f.path.matches('/').count());
        assert_eq!(
            target,
            Path::new(&format!("{ups}blobs/{}", f.sha256)),
            "{}",
            f.path
        );
        assert_eq!(
            std::fs::canonicalize(&link).unwrap(),
            std::fs::canonicalize(&blob).unwrap()
        );
    }
    assert_eq!(
        names(&repo.join("snapshots")),
        [server.spec().revision.clone()]
    );
    assert_eq!(
        std::fs::read_to_string(repo.join("refs/main")).unwrap(),
        server.spec().revision
    );
    assert_eq!(
        names(&cache.join("demo-nim/profiles")),
        ["demo-base-cpu.json"]
    );
    let record: serde_json::Value = serde_json::from_slice(
        &std::fs::read(cache.join("demo-nim/profiles/demo-base-cpu.json")).unwrap(),
    )
    .unwrap();
    let expected_files: Vec<_> = files
        .iter()
        .map(|f| serde_json::json!({"path": f.path, "size": f.size, "sha256": f.sha256}))
        .collect();
    assert_eq!(
        record,
        serde_json::json!({
            "id": "demo-base-cpu",
            "description": "FLUX demo base for any machine",
            "gpus": [],
            "files": expected_files,
            "model": DEMO_MODEL,
            "revision": server.spec().revision,
        })
    );

    // Again: every blob is checked, none fetched.
    let requests = server.total_file_requests();
    let again = populate(&server, cache, "demo-base-cpu");
    assert_eq!(server.total_file_requests(), requests);
    assert!(
        again
            .stdout
            .contains("3 files, 0 downloaded (0 bytes), 3 already cached"),
        "{}",
        again.stdout
    );
    assert!(
        again.stderr.contains("already in the cache"),
        "{}",
        again.stderr
    );
}

fn files_shared_by_profiles_are_stored_once() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    populate(&server, cache, "demo-base-cpu");
    let url = server.url();
    let env = [("DEMO_NIM_MODEL_SERVER", url.as_str())];
    // The nargs form (`--profiles A B`); the cpu profile is there already.
    let run = run(
        cache,
        &env,
        &[
            "download-to-cache",
            "--profiles",
            "demo-base-fp8",
            "demo-base-cpu",
        ],
    )
    .ok();
    assert!(
        run.stdout.contains("4 files, 1 downloaded"),
        "{}",
        run.stdout
    );
    let run = crate::support::run(cache, &env, &["download-to-cache", "--all"]).ok();
    assert!(
        run.stdout.contains("5 files, 1 downloaded"),
        "{}",
        run.stdout
    );
    for profile in ["demo-base-fp8", "demo-base-fp4", "demo-base-cpu"] {
        for f in server.files(profile) {
            assert_eq!(
                server.file_requests(&f.sha256),
                1,
                "{} of {profile}",
                f.path
            );
        }
    }
    // 2 shared files + 3 transformers.
    assert_eq!(names(&repo(cache).join("blobs")).len(), 5);
    assert_eq!(
        names(&cache.join("demo-nim/profiles")),
        [
            "demo-base-cpu.json",
            "demo-base-fp4.json",
            "demo-base-fp8.json"
        ]
    );
    let snapshot = repo(cache).join("snapshots").join(&server.spec().revision);
    assert_eq!(
        names(&snapshot.join("transformer")),
        [
            "diffusion-cpu.safetensors",
            "diffusion-fp4.safetensors",
            "diffusion-fp8.safetensors"
        ]
    );
}

fn a_cut_connection_is_resumed_with_a_range_request() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    let encoder = server.files("demo-base-cpu")[1].clone();
    server.cut_file_after(&encoder.sha256, 300_000);
    let run = populate(&server, dir.path(), "demo-base-cpu");
    assert!(run.stderr.contains("resuming"), "{}", run.stderr);
    let ranges = server.range_requests();
    assert_eq!(ranges.len(), 1, "{ranges:?}");
    assert_eq!(ranges[0].0, encoder.sha256);
    assert!(ranges[0].1 > 0 && ranges[0].1 <= 300_000, "{ranges:?}");
    assert_eq!(server.file_requests(&encoder.sha256), 2);
    let blob = repo(dir.path()).join("blobs").join(&encoder.sha256);
    assert_eq!(std::fs::metadata(blob).unwrap().len(), encoder.size);
}

fn a_killed_download_resumes_on_the_next_run() {
    let server = ModelServer::demo(16 << 20);
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path();
    server.set_throttle(Some(1 << 20));
    let url = server.url();
    let mut child = demo_nim(cache, &[("DEMO_NIM_MODEL_SERVER", &url)])
        .args(["download-to-cache", "--profiles", "demo-base-cpu"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let blobs = repo(cache).join("blobs");
    let start = Instant::now();
    let partial = loop {
        let found = names(&blobs).into_iter().find(|n| {
            n.ends_with(".incomplete")
                && std::fs::metadata(blobs.join(n)).is_ok_and(|m| m.len() >= 1 << 20)
        });
        if let Some(name) = found {
            break name;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no partial file appeared"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap();
    child.wait().unwrap();
    let kept = std::fs::metadata(blobs.join(&partial)).unwrap().len();
    server.set_throttle(None);

    let run = populate(&server, cache, "demo-base-cpu");
    assert!(
        run.stderr.contains(&format!("resuming at {kept} of")),
        "{}",
        run.stderr
    );
    let sha = partial.trim_end_matches(".incomplete");
    assert!(
        server.range_requests().contains(&(sha.to_owned(), kept)),
        "{:?}",
        server.range_requests()
    );
    assert!(!names(&blobs).iter().any(|n| n.ends_with(".incomplete")));
    let size = server
        .files("demo-base-cpu")
        .iter()
        .find(|f| f.sha256 == sha)
        .unwrap()
        .size;
    assert_eq!(std::fs::metadata(blobs.join(sha)).unwrap().len(), size);
}

fn a_missing_or_wrong_key_is_refused() {
    let server = ModelServer::demo(SMALL);
    server.set_token(Some("nvapi-right"));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let args = ["download-to-cache", "--profiles", "demo-base-cpu"];
    for key in [None, Some("nvapi-wrong")] {
        let mut env = vec![("DEMO_NIM_MODEL_SERVER", url.as_str())];
        env.extend(key.map(|k| ("NGC_API_KEY", k)));
        let run = run(dir.path(), &env, &args);
        assert_eq!(run.status.code(), Some(1), "{run:?}");
        assert!(
            run.stderr.contains("NGC_API_KEY is missing or wrong"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains("401"), "{}", run.stderr);
    }
    let env = [
        ("DEMO_NIM_MODEL_SERVER", url.as_str()),
        ("NGC_API_KEY", "nvapi-right"),
    ];
    run(dir.path(), &env, &args).ok();
}

fn profile_choice_errors_are_usage_errors() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let env = [("DEMO_NIM_MODEL_SERVER", url.as_str())];
    let unknown = run(
        dir.path(),
        &env,
        &["download-to-cache", "--profiles", "demo-base-fp16"],
    );
    assert_eq!(unknown.status.code(), Some(2));
    assert!(
        unknown.stderr.contains("unknown profile demo-base-fp16; known profiles: demo-base-fp8, demo-base-fp4, demo-base-cpu"),
        "{}",
        unknown.stderr
    );
    let none = run(dir.path(), &env, &["download-to-cache"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(
        none.stderr.contains("--profiles") && none.stderr.contains("--all"),
        "{}",
        none.stderr
    );
    assert_eq!(server.total_file_requests(), 0);

    // With a pretend Blackwell GPU, no option picks its profile.
    let env = [
        ("DEMO_NIM_MODEL_SERVER", url.as_str()),
        ("DEMO_NIM_GPUS", "NVIDIA GeForce RTX 5090"),
    ];
    let run = run(dir.path(), &env, &["download-to-cache"]).ok();
    assert!(
        run.stdout
            .starts_with("download-to-cache: profiles demo-base-fp4 cached"),
        "{}",
        run.stdout
    );
}

fn an_unreachable_server_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("http://127.0.0.1:{}", free_port());
    let run = run(
        dir.path(),
        &[("DEMO_NIM_MODEL_SERVER", &url)],
        &["download-to-cache", "--all"],
    );
    assert_eq!(run.status.code(), Some(1));
    assert!(
        run.stderr.contains(&format!(
            "cannot reach the model server at {url}/v1/models/{DEMO_MODEL}/manifest"
        )),
        "{}",
        run.stderr
    );
    let unset = crate::support::run(dir.path(), &[], &["download-to-cache", "--all"]);
    assert_eq!(unset.status.code(), Some(1));
    assert!(
        unset.stderr.contains("DEMO_NIM_MODEL_SERVER is not set"),
        "{}",
        unset.stderr
    );
}

fn a_damaged_blob_is_fetched_again() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    populate(&server, dir.path(), "demo-base-cpu");
    let encoder = server.files("demo-base-cpu")[1].clone();
    flip_byte(&repo(dir.path()).join("blobs").join(&encoder.sha256), 1234);
    let run = populate(&server, dir.path(), "demo-base-cpu");
    assert!(run.stderr.contains("damaged"), "{}", run.stderr);
    assert!(
        run.stdout.contains("3 files, 1 downloaded"),
        "{}",
        run.stdout
    );
    assert_eq!(server.file_requests(&encoder.sha256), 2);
}

fn another_model_with_an_empty_file_and_deep_paths() {
    use testkit::model_server::{FileSpec, ModelSpec, ProfileSpec};
    let file = |path: &str, size, seed| FileSpec {
        path: path.to_owned(),
        size,
        seed,
    };
    let server = ModelServer::start(ModelSpec {
        model: "acme/tiny-flux".to_owned(),
        revision: "0123456789abcdef0123456789abcdef01234567".to_owned(),
        profiles: vec![ProfileSpec {
            id: "tiny".to_owned(),
            description: "a tiny one".to_owned(),
            gpus: vec!["NVIDIA L40S".to_owned()],
            files: vec![
                file("empty.txt", 0, 1),
                file("a/b/c/weights.bin", 70_000, 2),
            ],
        }],
    });
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let env = [
        ("DEMO_NIM_MODEL_SERVER", url.as_str()),
        ("DEMO_NIM_MODEL", "acme/tiny-flux"),
        ("DEMO_NIM_GPUS", "NVIDIA L40S"),
    ];
    let run = run(dir.path(), &env, &["download-to-cache"]).ok();
    assert!(
        run.stdout.contains("profiles tiny cached"),
        "{}",
        run.stdout
    );
    let snapshot = dir
        .path()
        .join("huggingface/hub/models--acme--tiny-flux/snapshots")
        .join(&server.spec().revision);
    assert_eq!(
        std::fs::metadata(snapshot.join("empty.txt")).unwrap().len(),
        0
    );
    let deep = std::fs::read_link(snapshot.join("a/b/c/weights.bin")).unwrap();
    assert!(
        deep.starts_with("../../../../../blobs/"),
        "{}",
        deep.display()
    );
    assert_eq!(
        std::fs::metadata(snapshot.join("a/b/c/weights.bin"))
            .unwrap()
            .len(),
        70_000
    );
}
