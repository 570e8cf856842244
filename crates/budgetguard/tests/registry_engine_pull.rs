//! The engine's pulls use the same login resolver as the registry client:
//! a credential helper's login reaches the engine, and a missing helper is
//! named. Needs a Docker engine and Debian's `docker-registry`.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use budgetguard::engine::{Engine, EngineError, RegistryAuth};
use budgetguard::progress::Silent;
use testkit::engines::run;
use testkit::images::{ImageGuard, Layer};
use testkit::registry::{no_registry, PushLayer, TestRegistry};

testkit::tests![engine_pulls_take_logins_from_credential_helpers];

/// How long one test may take.
const LIMIT: Duration = Duration::from_secs(300);

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(tests())
}

/// A Docker configuration whose `credsStore` is `helper`, and the helper
/// search path holding the folder.
fn config_with_store(dir: &std::path::Path, helper: &str) -> RegistryAuth {
    std::fs::write(
        dir.join("config.json"),
        format!(r#"{{"credsStore":"{helper}"}}"#),
    )
    .unwrap();
    let mut path = dir.as_os_str().to_owned();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    RegistryAuth {
        docker_config: Some(dir.join("config.json")),
        helper_path: Some(path),
        ..RegistryAuth::default()
    }
}

fn engine_pulls_take_logins_from_credential_helpers() {
    run(LIMIT, async {
        let test_engine = testkit::engines::require_primary();
        let registry = TestRegistry::with_login("techops", "s3cret").unwrap_or_else(no_registry);
        let name = format!("team/engine-pull-{}", std::process::id());
        let image = registry.push_image(&name, "1", &[PushLayer::Gzip(Layer::Random(300_000, 7))]);
        let _guard = ImageGuard::new(&test_engine, vec![image.reference.clone()]);
        let engine = Engine::connect(Some(&test_engine.host)).await.unwrap();

        let dir = tempfile::tempdir().unwrap();
        let helper = dir.path().join("docker-credential-testkit");
        std::fs::write(
            &helper,
            format!(
                "#!/bin/sh\nserver=$(cat)\n[ \"$server\" = '{}' ] || exit 1\nprintf '%s' '{{\"ServerURL\":\"x\",\"Username\":\"techops\",\"Secret\":\"s3cret\"}}'\n",
                registry.host()
            ),
        )
        .unwrap();
        std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();

        // A helper that is not installed: named before the engine is asked.
        let absent = config_with_store(dir.path(), "absent");
        let error = engine
            .pull(&image.reference, &absent, &Silent)
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, EngineError::PullFailed { .. }), "{message}");
        assert!(message.contains("docker-credential-absent"), "{message}");

        let auth = config_with_store(dir.path(), "testkit");
        engine.pull(&image.reference, &auth, &Silent).await.unwrap();
        let info = engine
            .image(&image.reference)
            .await
            .unwrap()
            .expect("pulled");
        // The classic store names images by config, containerd's by manifest.
        assert!(
            [&image.config.digest, &image.manifest_digest].contains(&&info.id.to_string()),
            "{info:?}"
        );
    });
}
