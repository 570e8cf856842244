//! `list-model-profiles`, from the model server and offline from the cache.

use crate::support::*;

testkit::tests![
    offline_it_lists_the_cached_profile,
    online_it_lists_every_profile_for_the_gpus,
];

fn offline_it_lists_the_cached_profile() {
    let server = ModelServer::demo(SMALL);
    let dir = tempfile::tempdir().unwrap();
    populate(&server, dir.path(), "demo-base-cpu");
    let url = server.url();
    drop(server);
    for env in [vec![], vec![("DEMO_NIM_MODEL_SERVER", url.as_str())]] {
        let run = run(dir.path(), &env, &["list-model-profiles"]).ok();
        assert_eq!(
            run.stdout,
            "SYSTEM INFO\n\
             - Free GPUs: <None>\n\
             MODEL PROFILES\n\
             - Compatible with system and runnable:\n  \
             - demo-base-cpu (FLUX demo base for any machine; gpus=; cached)\n\
             - Incompatible with system:\n"
        );
        assert!(
            run.stderr.contains("listing the profiles cached in"),
            "{}",
            run.stderr
        );
    }
}

fn online_it_lists_every_profile_for_the_gpus() {
    let server = ModelServer::demo(SMALL);
    server.set_token(Some("nvapi-k"));
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let env = [
        ("DEMO_NIM_MODEL_SERVER", url.as_str()),
        ("NGC_API_KEY", "nvapi-k"),
        ("DEMO_NIM_GPUS", "NVIDIA GeForce RTX 4090"),
    ];
    run(
        dir.path(),
        &env,
        &["download-to-cache", "-p", "demo-base-fp8"],
    )
    .ok();
    let run = run(dir.path(), &env, &["list-model-profiles"]).ok();
    assert_eq!(
        run.stdout,
        "SYSTEM INFO\n\
         - Free GPUs:\n  \
         -  [0] NVIDIA GeForce RTX 4090\n\
         MODEL PROFILES\n\
         - Compatible with system and runnable:\n  \
         - demo-base-fp8 (FLUX demo base in FP8 for Ada and Hopper GPUs; gpus=NVIDIA GeForce RTX 4090,NVIDIA GeForce RTX 4080,NVIDIA RTX 6000 Ada Generation,NVIDIA L40S,NVIDIA H100 80GB HBM3; cached)\n  \
         - demo-base-cpu (FLUX demo base for any machine; gpus=)\n\
         - Incompatible with system:\n  \
         - demo-base-fp4 (FLUX demo base in FP4 for Blackwell GPUs; gpus=NVIDIA GeForce RTX 5090,NVIDIA GeForce RTX 5080,NVIDIA GeForce RTX 5070 Ti)\n"
    );
    assert_eq!(server.manifest_requests(), 2);
}
