//! Pushing with the registry client to a real registry (Debian's
//! `docker-registry` on loopback): a blob is uploaded once, found the next
//! time, mounted into another repository; a manifest put by tag resolves;
//! a span of a blob is read by range; a push asks for a `pull,push` token,
//! and a refused or wrong push says what to do.

use std::io::{Cursor, Read};
use std::sync::Arc;
use std::time::Duration;

use budgetguard_base::Cancel;
use budgetguard_registry::reference::Reference;
use budgetguard_registry::{
    ClientOptions, Descriptor, OpenBlob, Platform, Pushed, RegistryAuth, RegistryClient,
    RegistryError, OCI_MANIFEST,
};
use sha2::{Digest, Sha256};
use testkit::engines::run;
use testkit::images::Layer;
use testkit::registry::{no_registry, TestRegistry};
use testkit::token_auth::TokenFront;

testkit::tests![
    blobs_upload_once_mount_across_repositories_and_read_by_range,
    a_push_asks_for_a_push_token_and_a_refusal_or_a_wrong_digest_says_what_to_do,
];

/// How long one test may take.
const LIMIT: Duration = Duration::from_secs(300);

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(tests())
}

fn client(auth: RegistryAuth) -> RegistryClient {
    RegistryClient::new(
        auth,
        ClientOptions {
            backoff: Duration::from_millis(10),
            retries: 1,
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

/// A blob of `bytes` and what opens them.
fn blob(media_type: &str, bytes: Vec<u8>) -> (Descriptor, OpenBlob) {
    let descriptor = Descriptor {
        media_type: media_type.to_owned(),
        digest: format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
        size: bytes.len() as u64,
    };
    let bytes = Arc::new(bytes);
    let open: OpenBlob =
        Arc::new(move || Ok(Box::new(Cursor::new(bytes.to_vec())) as Box<dyn Read + Send>));
    (descriptor, open)
}

fn random(size: u64, seed: u64) -> Vec<u8> {
    let mut bytes = Vec::new();
    Layer::Random(size, seed)
        .reader()
        .read_to_end(&mut bytes)
        .unwrap();
    bytes
}

fn blobs_upload_once_mount_across_repositories_and_read_by_range() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let client = client(RegistryAuth::default());
        let cancel = Cancel::new();
        let repo = Reference::parse(&format!("{}/team/package:1", registry.host())).unwrap();
        let layer_bytes = random(3 << 20, 7);
        let (layer, open_layer) = blob(
            "application/vnd.oci.image.layer.v1.tar",
            layer_bytes.clone(),
        );
        let (config, open_config) = blob(
            "application/vnd.oci.image.config.v1+json",
            br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#
                .to_vec(),
        );
        let push = |reference: &Reference,
                    descriptor: &Descriptor,
                    from: Option<&str>,
                    open: &OpenBlob| {
            let (client, reference, descriptor, from, open, cancel) = (
                client.clone(),
                reference.clone(),
                descriptor.clone(),
                from.map(str::to_owned),
                open.clone(),
                cancel.clone(),
            );
            async move {
                client
                    .push_blob(&reference, &descriptor, from.as_deref(), open, &cancel)
                    .await
            }
        };
        assert_eq!(
            push(&repo, &layer, None, &open_layer).await.unwrap(),
            Pushed::Uploaded
        );
        assert_eq!(
            push(&repo, &config, None, &open_config).await.unwrap(),
            Pushed::Uploaded
        );
        assert_eq!(
            push(&repo, &layer, None, &open_layer).await.unwrap(),
            Pushed::Present
        );
        assert!(client.has_blob(&repo, &layer.digest).await.unwrap());

        // Into another repository of the same registry: mounted, not sent.
        let never: OpenBlob = Arc::new(|| panic!("a mounted blob is not read"));
        let other = Reference::parse(&format!("{}/team/image:2", registry.host())).unwrap();
        assert_eq!(
            push(&other, &layer, Some("team/package"), &never)
                .await
                .unwrap(),
            Pushed::Mounted
        );
        assert_eq!(
            push(&other, &config, Some("team/package"), &never)
                .await
                .unwrap(),
            Pushed::Mounted
        );
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": { "mediaType": config.media_type, "digest": config.digest, "size": config.size },
            "layers": [{ "mediaType": layer.media_type, "digest": layer.digest, "size": layer.size }],
        })
        .to_string();
        let digest = client
            .put_manifest(&other, "2", OCI_MANIFEST, manifest.clone().into())
            .await
            .unwrap();
        let resolved = client.resolve(&other, &Platform::default()).await.unwrap();
        assert_eq!(resolved.manifest_digest, digest);
        assert_eq!(resolved.layers[0].digest, layer.digest);
        let raw = client
            .manifest(&other, &digest, OCI_MANIFEST)
            .await
            .unwrap();
        assert_eq!(raw.bytes, manifest.as_bytes());

        // A span by range, and the whole blob by range: the caller checks them.
        let span = (1 << 20, 123_457);
        let (c, r, l, cancel2) = (client.clone(), other.clone(), layer.clone(), cancel.clone());
        let read = tokio::task::spawn_blocking(move || {
            let mut part = Vec::new();
            c.open_blob_range(&r, &l, span, Arc::new(()), &cancel2)
                .read_to_end(&mut part)
                .unwrap();
            let mut whole = Vec::new();
            c.open_blob_range(&r, &l, (0, l.size), Arc::new(()), &cancel2)
                .read_to_end(&mut whole)
                .unwrap();
            (part, whole)
        })
        .await
        .unwrap();
        assert_eq!(
            read.0,
            layer_bytes[span.0 as usize..(span.0 + span.1) as usize]
        );
        assert_eq!(read.1, layer_bytes);
        let small = client.small_blob(&other, &config).await.unwrap();
        assert_eq!(small.len() as u64, config.size);
    });
}

fn a_push_asks_for_a_push_token_and_a_refusal_or_a_wrong_digest_says_what_to_do() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let cancel = Cancel::new();
        let present = registry.push_bytes("team/tokens", b"already there");
        let front = TokenFront::start(registry.addr(), "techops", "s3cret", "identity-xyz");
        let reference = Reference::parse(&format!("{}/team/tokens:1", front.host())).unwrap();
        let descriptor = Descriptor {
            media_type: String::new(),
            digest: present,
            size: 13,
        };
        let never: OpenBlob = Arc::new(|| panic!("a present blob is not read"));

        // Anonymous: refused, and the message says how to log in.
        let error = client(RegistryAuth::default())
            .push_blob(&reference, &descriptor, None, never.clone(), &cancel)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                RegistryError::PushRefused {
                    had_credentials: false,
                    ..
                }
            ),
            "{error}"
        );
        assert!(error.to_string().contains("docker login"), "{error}");

        // Logged in: the token is asked for `pull,push`.
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("config.json"),
            format!(
                r#"{{"auths":{{"{}":{{"auth":"dGVjaG9wczpzM2NyZXQ="}}}}}}"#,
                front.host()
            ),
        )
        .unwrap();
        let auth = RegistryAuth {
            docker_config: Some(dir.path().join("config.json")),
            ..RegistryAuth::default()
        };
        let pushed = client(auth)
            .push_blob(&reference, &descriptor, None, never, &cancel)
            .await
            .unwrap();
        assert_eq!(pushed, Pushed::Present);
        let last = front.token_requests().pop().unwrap();
        assert!(
            last.contains("scope=repository%3Ateam%2Ftokens%3Apull%2Cpush"),
            "{last}"
        );

        // Bytes that are not what the digest names: the registry refuses.
        let direct = Reference::parse(&format!("{}/team/wrong:1", registry.host())).unwrap();
        let (mut wrong, open) = blob("", random(1000, 3));
        wrong.digest = format!("sha256:{}", "0".repeat(64));
        let error = client(RegistryAuth::default())
            .push_blob(&direct, &wrong, None, open, &cancel)
            .await
            .unwrap_err();
        assert!(matches!(error, RegistryError::Rejected { .. }), "{error}");
        assert!(error.to_string().contains("DIGEST_INVALID"), "{error}");
    });
}
