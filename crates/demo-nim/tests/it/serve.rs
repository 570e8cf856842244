//! The server's readiness: from the cache offline, after a first-start
//! download, or not at all (and saying why).

use std::time::Duration;

use crate::support::*;

testkit::tests![
    a_populated_cache_serves_with_the_model_server_gone,
    an_empty_cache_without_a_model_server_stays_not_ready,
    a_flipped_byte_in_a_cached_blob_keeps_it_not_ready,
    first_start_downloads_the_profile_for_the_gpu,
    without_a_required_model_it_is_ready_at_once,
    the_cached_profile_for_the_gpu_is_preferred,
];

fn a_populated_cache_serves_with_the_model_server_gone() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    populate(&server, dir.path(), "demo-base-cpu");
    let url = server.url();
    drop(server);

    let nim = Server::start(dir.path(), &[("DEMO_NIM_MODEL_SERVER", &url)]);
    nim.wait_ready();
    let log = nim.log();
    assert!(
        log.contains("checking sha256 of text_encoder/model.safetensors"),
        "{log}"
    );
    assert!(
        log.contains("ready: serving profile demo-base-cpu"),
        "{log}"
    );
    let (status, body) = nim.post(
        "/v1/infer",
        r#"{"prompt":"a fox","seed":3,"width":16,"height":16}"#,
    );
    assert_eq!(status, 200, "{body}");
    let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["artifacts"][0]["finishReason"], "SUCCESS");
    assert_eq!(answer["artifacts"][0]["seed"], 3);
    let meta: serde_json::Value = serde_json::from_str(&nim.get("/v1/metadata").1).unwrap();
    assert_eq!(meta["profile"], "demo-base-cpu");
    // Hashed once at start, not per request.
    assert_eq!(nim.log().matches("checking sha256").count(), 3);
    assert!(nim.terminate().success(), "SIGTERM ends it cleanly");

    // A pinned profile that is not cached keeps it not ready.
    let pinned = Server::start(dir.path(), &[("NIM_MODEL_PROFILE", "demo-base-fp4")]);
    pinned.wait_for(Duration::from_secs(30), "the reason", |s| {
        s.log()
            .contains("not ready: profile demo-base-fp4 (NIM_MODEL_PROFILE) is not in the cache")
    });
    assert_eq!(pinned.get("/v1/health/ready").0, 503);
}

fn an_empty_cache_without_a_model_server_stays_not_ready() {
    let dir = tempfile::tempdir().unwrap();
    let nim = Server::start(dir.path(), &[]);
    nim.wait_for(Duration::from_secs(30), "the reason", |s| {
        s.log().contains("not ready:")
    });
    let log = nim.log();
    assert!(
        log.contains("holds no profile of budgetguard/demo-flux"),
        "{log}"
    );
    assert!(log.contains("DEMO_NIM_MODEL_SERVER is not set"), "{log}");
    assert_eq!(
        nim.get("/v1/health/ready"),
        (503, r#"{"status":"not ready"}"#.to_owned())
    );
    assert_eq!(nim.get("/v1/health/live").0, 200);
    assert_eq!(nim.post("/v1/infer", r#"{"prompt":"x"}"#).0, 503);

    let url = format!("http://127.0.0.1:{}", free_port());
    let nim = Server::start(dir.path(), &[("DEMO_NIM_MODEL_SERVER", &url)]);
    nim.wait_for(Duration::from_secs(30), "the reason", |s| {
        s.log().contains("not ready:")
    });
    assert!(
        nim.log()
            .contains(&format!("cannot reach the model server at {url}")),
        "{}",
        nim.log()
    );
    // Retries log nothing new while the reason stays the same.
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(nim.log().matches("not ready:").count(), 1, "{}", nim.log());
    assert_eq!(nim.get("/v1/health/ready").0, 503);
}

fn a_flipped_byte_in_a_cached_blob_keeps_it_not_ready() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    populate(&server, dir.path(), "demo-base-cpu");
    let transformer = server.files("demo-base-cpu")[2].clone();
    drop(server);
    flip_byte(
        &repo(dir.path()).join("blobs").join(&transformer.sha256),
        4321,
    );

    let nim = Server::start(dir.path(), &[]);
    nim.wait_for(Duration::from_secs(60), "the reason", |s| {
        s.log().contains("not ready:")
    });
    assert!(
        nim.log()
            .contains("transformer/diffusion-cpu.safetensors does not match its sha256"),
        "{}",
        nim.log()
    );
    assert_eq!(nim.get("/v1/health/ready").0, 503);
}

fn first_start_downloads_the_profile_for_the_gpu() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let nim = Server::start(
        dir.path(),
        &[
            ("DEMO_NIM_MODEL_SERVER", &url),
            ("DEMO_NIM_GPUS", "NVIDIA GeForce RTX 4090"),
            ("NGC_API_KEY", "nvapi-x"),
        ],
    );
    nim.wait_ready();
    let meta: serde_json::Value = serde_json::from_str(&nim.get("/v1/metadata").1).unwrap();
    assert_eq!(meta["profile"], "demo-base-fp8");
    let log = nim.log();
    assert!(
        log.contains("downloading profile demo-base-fp8 from"),
        "{log}"
    );
    // Verified while downloading: not hashed a second time.
    assert_eq!(log.matches("checking sha256").count(), 0, "{log}");
    assert!(dir
        .path()
        .join("demo-nim/profiles/demo-base-fp8.json")
        .is_file());
    assert_eq!(server.total_file_requests(), 3);
}

fn without_a_required_model_it_is_ready_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let nim = Server::start(
        dir.path(),
        &[
            ("DEMO_NIM_REQUIRE_MODEL", "0"),
            ("NIM_MODEL_VARIANT", "depth"),
        ],
    );
    assert_eq!(nim.get("/v1/health/ready").0, 200);
    let meta: serde_json::Value = serde_json::from_str(&nim.get("/v1/metadata").1).unwrap();
    assert_eq!(
        (&meta["profile"], &meta["variant"]),
        (&serde_json::Value::Null, &"depth".into())
    );
    assert!(names(dir.path()).is_empty(), "the cache is not touched");
}

fn the_cached_profile_for_the_gpu_is_preferred() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    populate(&server, dir.path(), "demo-base-cpu,demo-base-fp8");
    drop(server);
    let served = |gpus: &str| {
        let nim = Server::start(dir.path(), &[("DEMO_NIM_GPUS", gpus)]);
        nim.wait_ready();
        let meta: serde_json::Value = serde_json::from_str(&nim.get("/v1/metadata").1).unwrap();
        (meta["profile"].as_str().unwrap().to_owned(), nim.log())
    };
    assert_eq!(served("NVIDIA GeForce RTX 4090").0, "demo-base-fp8");
    assert_eq!(served("NVIDIA GeForce RTX 5090").0, "demo-base-cpu");

    // Only a profile for other GPUs: served, with a warning.
    std::fs::remove_file(dir.path().join("demo-nim/profiles/demo-base-cpu.json")).unwrap();
    let (profile, log) = served("NVIDIA GeForce RTX 5090");
    assert_eq!(profile, "demo-base-fp8");
    assert!(
        log.contains("warning: profile demo-base-fp8 is built for NVIDIA GeForce RTX 4090"),
        "{log}"
    );
}
