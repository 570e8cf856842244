//! The registry client against a real registry (Debian's `docker-registry`
//! on loopback), with each way of logging in `docker pull` knows, and each
//! failure its own message. No Docker engine is involved.

use std::ffi::OsString;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use budgetguard_registry::progress::{BlobEvent, BlobReporter};
use budgetguard_registry::reference::Reference;
use budgetguard_registry::{
    ClientOptions, CredentialError, HelperFault, Platform, RegistryAuth, RegistryClient,
    RegistryError, Resolved,
};
use sha2::{Digest, Sha256};
use testkit::engines::run;
use testkit::images::Layer;
use testkit::plain_http::{non_loopback_ip, Endpoint};
use testkit::process::{hanging_script, wait_ended};
use testkit::registry::{no_registry, PushLayer, PushedImage, TestRegistry};
use testkit::token_auth::TokenFront;

testkit::tests![
    an_anonymous_registry_serves_manifest_config_and_layers,
    htpasswd_logins_come_from_the_docker_config,
    credential_helpers_are_asked_as_docker_asks_them,
    bearer_token_registries_issue_tokens_for_passwords_and_identity_tokens,
    a_multi_platform_index_resolves_to_the_platform_asked_for,
    unknown_tags_missing_blobs_and_unreachable_registries_each_have_their_message,
    helpers_answering_garbage_hanging_or_flooding_are_stopped_and_never_quoted,
    plain_http_token_services_and_redirects_get_no_credential,
];

/// How long one test may take.
const LIMIT: Duration = Duration::from_secs(300);

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(tests())
}

/// Records every event.
#[derive(Default)]
struct Recorder(Mutex<Vec<BlobEvent>>);

impl BlobReporter for Recorder {
    fn report(&self, event: BlobEvent) {
        self.0.lock().unwrap().push(event);
    }
}

/// A sink that hashes what it is given.
struct HashSink(Sha256);

impl std::io::Write for HashSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn client(auth: RegistryAuth) -> RegistryClient {
    RegistryClient::new(
        auth,
        ClientOptions {
            backoff: Duration::from_millis(10),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

fn small_layers(seed: u64) -> Vec<PushLayer> {
    vec![
        PushLayer::Gzip(Layer::Compressible(300_000, seed)),
        PushLayer::Gzip(Layer::Random(2 << 20, seed + 1)),
        PushLayer::Tar(Layer::Random(5000, seed + 2)),
    ]
}

/// A Docker configuration folder holding `json` as `config.json`.
fn docker_config(json: &str) -> (tempfile::TempDir, RegistryAuth) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), json).unwrap();
    let auth = RegistryAuth {
        docker_config: Some(dir.path().join("config.json")),
        helper_path: Some(helper_path(dir.path())),
        ..RegistryAuth::default()
    };
    (dir, auth)
}

/// `dir` first, then this process's `PATH` (the helper scripts need `cat`).
fn helper_path(dir: &Path) -> OsString {
    let mut path = dir.as_os_str().to_owned();
    path.push(":");
    path.push(std::env::var_os("PATH").unwrap_or_default());
    path
}

/// Writes `docker-credential-<name>` into `dir`: it logs each call to
/// `dir/calls` and answers `answer` (a JSON object) for `server`, "not
/// found" for anything else.
fn write_helper(dir: &Path, name: &str, server: &str, answer: &str) {
    let script = format!(
        "#!/bin/sh\nserver=$(cat)\necho \"$1 $server\" >> '{calls}'\nif [ \"$server\" = '{server}' ]; then\n  printf '%s' '{answer}'\nelse\n  echo 'credentials not found in native keychain'\n  exit 1\nfi\n",
        calls = dir.join("calls").display(),
    );
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, script).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Resolves `image` and downloads every layer (two in flight), checking
/// each against what was pushed; returns the events reported.
async fn resolve_and_fetch(
    client: &RegistryClient,
    image: &PushedImage,
) -> (Resolved, Vec<BlobEvent>) {
    let reference = Reference::parse(&image.reference).unwrap();
    let resolved = client
        .resolve(&reference, &Platform::default())
        .await
        .unwrap();
    assert_eq!(resolved.manifest_digest, image.manifest_digest);
    assert_eq!(resolved.config.digest, image.config.digest);
    assert_eq!(
        format!(
            "sha256:{}",
            hex::encode(Sha256::digest(&resolved.config_bytes))
        ),
        image.config.digest
    );
    let pushed: Vec<(String, u64)> = image
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    let listed: Vec<(String, u64)> = resolved
        .layers
        .iter()
        .map(|l| (l.digest.clone(), l.size))
        .collect();
    assert_eq!(listed, pushed);
    let recorder = Arc::new(Recorder::default());
    let (client, layers, reporter) = (client.clone(), resolved.layers.clone(), recorder.clone());
    let cancel = budgetguard_base::Cancel::new();
    tokio::task::spawn_blocking(move || {
        for (descriptor, mut blob) in client.blob_queue(&reference, layers, 2, reporter, &cancel) {
            let mut hasher = HashSink(Sha256::new());
            let size = std::io::copy(&mut blob, &mut hasher).unwrap();
            assert_eq!(size, descriptor.size);
            assert_eq!(
                format!("sha256:{}", hex::encode(hasher.0.finalize())),
                descriptor.digest
            );
        }
    })
    .await
    .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    let finished = events
        .iter()
        .filter(|e| matches!(e, BlobEvent::Finished { .. }))
        .count();
    assert_eq!(finished, image.layers.len(), "{events:?}");
    (resolved, events)
}

fn an_anonymous_registry_serves_manifest_config_and_layers() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image("team/anon", "1", &small_layers(1));
        let (resolved, events) = resolve_and_fetch(&client(RegistryAuth::default()), &image).await;
        assert!(resolved
            .media_type
            .contains("docker.distribution.manifest.v2"));
        // Progress: each blob started with its size and ended with all of it.
        let layer = &image.layers[1];
        let blob = events
            .iter()
            .find_map(|e| match e {
                BlobEvent::Started { blob, total } if *total == layer.size => Some(blob.clone()),
                _ => None,
            })
            .expect("a Started event with the layer's size");
        assert!(blob.starts_with("127.0.0.1:"), "{blob}");
        assert!(events.contains(&BlobEvent::Advanced {
            blob,
            done: layer.size
        }));

        // By digest too, with a tag beside it.
        let pinned = Reference::parse(&format!(
            "{}/team/anon:1@{}",
            registry.host(),
            image.manifest_digest
        ))
        .unwrap();
        let again = client(RegistryAuth::default())
            .resolve(&pinned, &Platform::default())
            .await
            .unwrap();
        assert_eq!(again.manifest_bytes, resolved.manifest_bytes);
    });
}

fn htpasswd_logins_come_from_the_docker_config() {
    run(LIMIT, async {
        let registry = TestRegistry::with_login("techops", "s3cret").unwrap_or_else(no_registry);
        let image = registry.push_image("team/basic", "1", &small_layers(10));
        let reference = Reference::parse(&image.reference).unwrap();

        // `docker login`'s `auths` entry.
        let (_dir, auth) = docker_config(&format!(
            r#"{{"auths":{{"{}":{{"auth":"dGVjaG9wczpzM2NyZXQ="}}}}}}"#,
            registry.host()
        ));
        resolve_and_fetch(&client(auth), &image).await;

        // A wrong password: 401 with the way to log in.
        let (_dir, auth) = docker_config(&format!(
            r#"{{"auths":{{"{}":{{"username":"techops","password":"wrong"}}}}}}"#,
            registry.host()
        ));
        let error = client(auth)
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RegistryError::Unauthorized {
                    had_credentials: true,
                    ..
                }
            ),
            "{error}"
        );
        let message = error.to_string();
        assert!(message.contains("refused the credentials"), "{message}");
        assert!(
            message.contains(&format!("docker login {}", registry.host())),
            "{message}"
        );
        assert!(!message.contains("wrong"), "{message}");

        // No login at all.
        let error = client(RegistryAuth::default())
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("refused anonymous access for"),
            "{error}"
        );
    });
}

fn credential_helpers_are_asked_as_docker_asks_them() {
    run(LIMIT, async {
        let registry = TestRegistry::with_login("techops", "s3cret").unwrap_or_else(no_registry);
        let image = registry.push_image("team/helper", "1", &small_layers(20));
        let host = registry.host();
        let answer = r#"{"ServerURL":"x","Username":"techops","Secret":"s3cret"}"#;

        // The default store (`credsStore`), with a stale `auths` entry beside it.
        let (dir, auth) = docker_config(&format!(
            r#"{{"credsStore":"testkit","auths":{{"{host}":{{}}}}}}"#
        ));
        write_helper(dir.path(), "testkit", &host, answer);
        resolve_and_fetch(&client(auth), &image).await;
        let calls = std::fs::read_to_string(dir.path().join("calls")).unwrap();
        assert_eq!(calls, format!("get {host}\n"), "asked once, for the host");

        // The registry's own helper (`credHelpers`) wins over the default store.
        let (dir, auth) = docker_config(&format!(
            r#"{{"credsStore":"broken","credHelpers":{{"{host}":"testkit"}}}}"#
        ));
        write_helper(dir.path(), "testkit", &host, answer);
        resolve_and_fetch(&client(auth), &image).await;

        // A helper that is not installed: named, with the fix.
        let (_dir, auth) = docker_config(r#"{"credsStore":"absent"}"#);
        let reference = Reference::parse(&image.reference).unwrap();
        let error = client(auth)
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(matches!(error, RegistryError::Credentials(_)), "{message}");
        assert!(message.contains("docker-credential-absent"), "{message}");
        assert!(message.contains("not installed"), "{message}");

        // A helper that fails: named, with how it failed but never what it
        // printed (it may be the secret).
        let (dir, auth) = docker_config(r#"{"credsStore":"failing"}"#);
        write_script(
            dir.path(),
            "failing",
            &format!("echo '{SECRET}'\necho 'keychain is locked: {SECRET}' >&2\nexit 3"),
        );
        let message = client(auth)
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err()
            .to_string();
        assert!(message.contains("docker-credential-failing"), "{message}");
        assert!(message.contains("exited with status 3"), "{message}");
        assert!(!message.contains(SECRET), "{message}");
        assert!(!message.contains("keychain"), "{message}");
    });
}

/// A secret planted in helpers' output: it must show nowhere.
const SECRET: &str = "planted-secret-4711";

/// Writes `docker-credential-<name>` into `dir`, a shell script of `body`.
fn write_script(dir: &Path, name: &str, body: &str) {
    let path = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// The helper fault of a login lookup of `auth` for example.com.
async fn helper_fault(auth: &RegistryAuth) -> HelperFault {
    match auth.login("example.com").await {
        Err(CredentialError::HelperFailed { fault, .. }) => fault,
        other => panic!("a helper failure, not {other:?}"),
    }
}

fn helpers_answering_garbage_hanging_or_flooding_are_stopped_and_never_quoted() {
    run(LIMIT, async {
        // Invalid JSON holding the secret.
        let (dir, auth) = docker_config(r#"{"credsStore":"garbage"}"#);
        write_script(
            dir.path(),
            "garbage",
            &format!("printf '%s' '{{\"Username\":\"u\",\"Secret\":\"{SECRET}'"),
        );
        let fault = helper_fault(&auth).await;
        assert_eq!(fault, HelperFault::NotJson);
        let message = auth.login("example.com").await.unwrap_err().to_string();
        assert!(message.contains("docker-credential-garbage"), "{message}");
        assert!(message.contains("not JSON"), "{message}");
        assert!(!message.contains(SECRET), "{message}");

        // A number where a string belongs: that number may be the secret.
        let (dir, auth) = docker_config(r#"{"credsStore":"number"}"#);
        write_script(
            dir.path(),
            "number",
            "printf '%s' '{\"Username\":\"u\",\"Secret\":987654321987}'",
        );
        assert_eq!(helper_fault(&auth).await, HelperFault::WrongShape);
        let message = auth.login("example.com").await.unwrap_err().to_string();
        assert!(!message.contains("987654321987"), "{message}");

        // More than 1 MiB, without end: stopped at the limit.
        let (dir, auth) = docker_config(r#"{"credsStore":"flood"}"#);
        write_script(dir.path(), "flood", &format!("yes '{SECRET}'"));
        let started = std::time::Instant::now();
        assert_eq!(helper_fault(&auth).await, HelperFault::TooLong);
        assert!(started.elapsed() < Duration::from_secs(10));

        // 1 MiB and a byte, then an exit: too long all the same.
        let (dir, auth) = docker_config(r#"{"credsStore":"long"}"#);
        write_script(dir.path(), "long", "head -c 1048577 /dev/zero");
        assert_eq!(helper_fault(&auth).await, HelperFault::TooLong);

        // Hanging: stopped at its time limit with its child, and reaped.
        let (dir, mut auth) = docker_config(r#"{"credsStore":"hanging"}"#);
        auth.helper_time_limit = Duration::from_secs(1);
        write_script(
            dir.path(),
            "hanging",
            &hanging_script(&dir.path().join("pids")),
        );
        let started = std::time::Instant::now();
        let fault = helper_fault(&auth).await;
        let took = started.elapsed();
        assert_eq!(fault, HelperFault::TimedOut(Duration::from_secs(1)));
        assert!(
            took >= Duration::from_secs(1) && took < Duration::from_secs(5),
            "{took:?}"
        );
        let pids = wait_ended(&dir.path().join("pids"), 2, Duration::from_secs(5));
        assert!(
            !Path::new(&format!("/proc/{}", pids[0])).exists(),
            "the helper was reaped"
        );

        // A lookup given up (its future dropped, as when a GUI request ends):
        // its helper goes at once, not at the time limit.
        let (dir, auth) = docker_config(r#"{"credsStore":"hanging"}"#);
        write_script(
            dir.path(),
            "hanging",
            &hanging_script(&dir.path().join("pids")),
        );
        let gave_up =
            tokio::time::timeout(Duration::from_millis(500), auth.login("example.com")).await;
        assert!(gave_up.is_err(), "the helper hangs");
        wait_ended(&dir.path().join("pids"), 2, Duration::from_secs(5));
    });
}

fn plain_http_token_services_and_redirects_get_no_credential() {
    run(LIMIT, async {
        let ip = non_loopback_ip();
        // A token service on plain HTTP on another machine.
        let trap = Endpoint::start(ip, "200 OK", &[]);
        let realm = format!(
            "Bearer realm=\"http://{}/token\",service=\"x\"",
            trap.host()
        );
        let registry = Endpoint::start(
            "127.0.0.1".parse().unwrap(),
            "401 Unauthorized",
            &[("WWW-Authenticate", &realm)],
        );
        let (_dir, auth) = docker_config(&format!(
            r#"{{"auths":{{"{}":{{"auth":"dGVjaG9wczpzM2NyZXQ="}}}}}}"#,
            registry.host()
        ));
        let reference = Reference::parse(&format!("{}/team/app:1", registry.host())).unwrap();
        let error = client(auth)
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RegistryError::PlainHttp { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(&format!(
                "the token service of {} is plain HTTP on {}: refused",
                registry.host(),
                trap.host()
            )),
            "{message}"
        );
        assert!(!message.contains('\n'), "{message}");
        assert_eq!(trap.requests().len(), 0, "the token service was asked");

        // A registry with a login on file that redirects to plain HTTP on
        // another machine: not followed.
        let trap = Endpoint::start(ip, "200 OK", &[]);
        let location = format!("http://{}/v2/team/app/manifests/1", trap.host());
        let redirecting = Endpoint::start(
            "127.0.0.1".parse().unwrap(),
            "307 Temporary Redirect",
            &[("Location", &location)],
        );
        let (_dir, auth) = docker_config(&format!(
            r#"{{"auths":{{"{}":{{"auth":"dGVjaG9wczpzM2NyZXQ="}}}}}}"#,
            redirecting.host()
        ));
        let reference = Reference::parse(&format!("{}/team/app:1", redirecting.host())).unwrap();
        let error = client(auth)
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RegistryError::PlainHttp { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(&format!(
                "a redirect of {} is plain HTTP on {}: refused",
                redirecting.host(),
                trap.host()
            )),
            "{message}"
        );
        assert_eq!(redirecting.requests().len(), 1);
        assert_eq!(trap.requests().len(), 0, "the redirect was followed");
    });
}

fn bearer_token_registries_issue_tokens_for_passwords_and_identity_tokens() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let pushed = registry.push_image("team/token", "1", &small_layers(30));
        let front = TokenFront::start(registry.addr(), "techops", "s3cret", "identity-xyz");
        let image = PushedImage {
            reference: format!("{}/team/token:1", front.host()),
            ..pushed
        };
        let reference = Reference::parse(&image.reference).unwrap();

        // Anonymous: the token service refuses, and the message says how to log in.
        let error = client(RegistryAuth::default())
            .resolve(&reference, &Platform::default())
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RegistryError::Unauthorized {
                    had_credentials: false,
                    ..
                }
            ),
            "{error}"
        );

        // A password from `auths`: one token, reused for every request.
        let (_dir, auth) = docker_config(&format!(
            r#"{{"auths":{{"{}":{{"auth":"dGVjaG9wczpzM2NyZXQ="}}}}}}"#,
            front.host()
        ));
        let before = front.token_requests().len();
        resolve_and_fetch(&client(auth), &image).await;
        let requests = front.token_requests();
        assert_eq!(requests.len(), before + 1, "{requests:?}");
        let last = requests.last().unwrap();
        assert!(last.contains("service=testkit"), "{last}");
        assert!(
            last.contains("scope=repository%3Ateam%2Ftoken%3Apull"),
            "{last}"
        );

        // An identity token from a credential helper (`<token>` user): OAuth2.
        let (dir, auth) = docker_config(r#"{"credsStore":"testkit"}"#);
        write_helper(
            dir.path(),
            "testkit",
            &front.host(),
            r#"{"ServerURL":"x","Username":"<token>","Secret":"identity-xyz"}"#,
        );
        resolve_and_fetch(&client(auth), &image).await;
        let last = front.token_requests().pop().unwrap();
        assert!(last.starts_with("POST "), "{last}");
        assert!(last.contains("grant_type=refresh_token"), "{last}");
    });
}

fn a_multi_platform_index_resolves_to_the_platform_asked_for() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let (index_digest, images) = registry.push_index(
            "team/multi",
            "1",
            &[
                (
                    "linux/amd64",
                    vec![PushLayer::Gzip(Layer::Random(100_000, 41))],
                ),
                (
                    "linux/arm64",
                    vec![PushLayer::Gzip(Layer::Random(100_000, 42))],
                ),
            ],
        );
        let client = client(RegistryAuth::default());
        let reference = Reference::parse(&format!("{}/team/multi:1", registry.host())).unwrap();
        let amd64 = client
            .resolve(&reference, &Platform::default())
            .await
            .unwrap();
        assert_eq!(amd64.manifest_digest, images[0].manifest_digest);
        let config: serde_json::Value = serde_json::from_slice(&amd64.config_bytes).unwrap();
        assert_eq!(config["architecture"], "amd64");
        let arm64 = client
            .resolve(&reference, &"linux/arm64".parse().unwrap())
            .await
            .unwrap();
        assert_eq!(arm64.manifest_digest, images[1].manifest_digest);
        assert_eq!(arm64.layers[0].digest, images[1].layers[0].digest);

        // Pinned by the index's digest, the same choice.
        let pinned =
            Reference::parse(&format!("{}/team/multi@{index_digest}", registry.host())).unwrap();
        let again = client.resolve(&pinned, &Platform::default()).await.unwrap();
        assert_eq!(again.manifest_digest, images[0].manifest_digest);

        let message = client
            .resolve(&reference, &"linux/s390x".parse().unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(
            message.contains("has no image for linux/s390x"),
            "{message}"
        );
        assert!(message.contains("linux/amd64, linux/arm64"), "{message}");
    });
}

fn unknown_tags_missing_blobs_and_unreachable_registries_each_have_their_message() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image("team/known", "1", &small_layers(50));
        let client = client(RegistryAuth::default());

        let unknown = Reference::parse(&format!("{}/team/known:2", registry.host())).unwrap();
        let error = client
            .resolve(&unknown, &Platform::default())
            .await
            .unwrap_err();
        assert!(
            matches!(error, RegistryError::ManifestNotFound { .. }),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("team/known:2` is not on 127.0.0.1:"),
            "{error}"
        );

        let reference = Reference::parse(&image.reference).unwrap();
        let mut missing = image.layers[0].clone();
        missing.digest = format!("sha256:{}", "0".repeat(64));
        let descriptor = budgetguard_registry::Descriptor {
            media_type: missing.media_type,
            digest: missing.digest,
            size: missing.size,
        };
        let fetch_client = client.clone();
        let error = tokio::task::spawn_blocking(move || {
            fetch_client.fetch_blob(
                &reference,
                &descriptor,
                &mut std::io::sink(),
                Arc::new(()),
                &budgetguard_base::Cancel::new(),
            )
        })
        .await
        .unwrap()
        .unwrap_err();
        assert!(
            matches!(error, RegistryError::BlobNotFound { .. }),
            "{error}"
        );
        assert!(
            error.to_string().contains("the registry is inconsistent"),
            "{error}"
        );

        let port = testkit::fixtures::free_port();
        let nowhere = Reference::parse(&format!("127.0.0.1:{port}/team/known:1")).unwrap();
        let error = client
            .resolve(&nowhere, &Platform::default())
            .await
            .unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RegistryError::Unreachable { .. }),
            "{message}"
        );
        assert!(
            message.starts_with(&format!("cannot reach the registry 127.0.0.1:{port}")),
            "{message}"
        );
        assert!(
            message.contains("that the registry runs at that address"),
            "{message}"
        );
    });
}
