//! The registry client when the network or the registry misbehaves: a cut
//! connection resumes with `Range` and the reader still sees each byte once;
//! a registry that serves wrong bytes is refused, and nothing is reported as
//! done.

use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use budgetguard_registry::progress::{BlobEvent, BlobReporter};
use budgetguard_registry::reference::Reference;
use budgetguard_registry::{ClientOptions, Platform, RegistryAuth, RegistryClient, RegistryError};
use sha2::{Digest, Sha256};
use testkit::engines::run;
use testkit::http_faults::{Fault, FaultProxy};
use testkit::images::Layer;
use testkit::registry::{no_registry, PushLayer, TestRegistry};

testkit::tests![
    a_cut_download_resumes_with_a_range_request,
    retries_are_counted_only_while_nothing_arrives,
    a_registry_that_serves_wrong_bytes_is_refused,
    cancelling_stops_a_download_with_its_own_error,
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

fn client() -> RegistryClient {
    RegistryClient::new(
        RegistryAuth::default(),
        ClientOptions {
            backoff: Duration::from_millis(10),
            retries: 2,
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

/// Reads the whole layer `index` of the image at `reference` through the
/// client in small reads; returns its bytes (or the error) and the events.
async fn read_layer(
    reference: &str,
    index: usize,
) -> (Result<Vec<u8>, RegistryError>, Vec<BlobEvent>) {
    let client = client();
    let reference = Reference::parse(reference).unwrap();
    let resolved = client
        .resolve(&reference, &Platform::default())
        .await
        .unwrap();
    let recorder = Arc::new(Recorder::default());
    let reporter = recorder.clone();
    let result = tokio::task::spawn_blocking(move || {
        let mut blob = client.open_blob(
            &reference,
            &resolved.layers[index],
            reporter,
            &budgetguard_base::Cancel::new(),
        );
        let mut bytes = Vec::new();
        let mut buffer = [0; 7000];
        loop {
            match blob.read(&mut buffer) {
                Ok(0) => return Ok(bytes),
                Ok(n) => bytes.extend_from_slice(&buffer[..n]),
                Err(e) => return Err(RegistryError::from_io(e)),
            }
        }
    })
    .await
    .unwrap();
    let events = recorder.0.lock().unwrap().clone();
    (result, events)
}

fn a_cut_download_resumes_with_a_range_request() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image(
            "team/cut",
            "1",
            &[PushLayer::Tar(Layer::Random(6 << 20, 61))],
        );
        let layer = &image.layers[0];
        let cut_at = (2 << 20) + 12_345;
        let proxy = FaultProxy::start(
            registry.addr(),
            Fault::CutBlob {
                digest: layer.digest.clone(),
                after: cut_at,
                times: 1,
            },
        );
        let (bytes, events) = read_layer(&format!("{}/team/cut:1", proxy.host()), 0).await;
        let bytes = bytes.unwrap();
        assert_eq!(bytes.len() as u64, layer.size);
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes))),
            layer.digest
        );
        let blob_requests: Vec<_> = proxy
            .seen()
            .into_iter()
            .filter(|s| s.target.ends_with(&layer.digest))
            .collect();
        assert_eq!(blob_requests.len(), 2, "{blob_requests:?}");
        assert_eq!(blob_requests[0].range, None);
        assert_eq!(
            blob_requests[1].range.as_deref(),
            Some(&*format!("bytes={cut_at}-"))
        );
        assert!(events
            .iter()
            .any(|e| matches!(e, BlobEvent::Finished { .. })));
    });
}

fn retries_are_counted_only_while_nothing_arrives() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image(
            "team/flaky",
            "1",
            &[PushLayer::Tar(Layer::Random(5 << 20, 65))],
        );
        let layer = &image.layers[0];

        // Cut four times, 1 MiB in each: more cuts than retries allowed, but
        // each attempt brings new bytes, so the download completes.
        let proxy = FaultProxy::start(
            registry.addr(),
            Fault::CutBlob {
                digest: layer.digest.clone(),
                after: 1 << 20,
                times: 4,
            },
        );
        let (bytes, _) = read_layer(&format!("{}/team/flaky:1", proxy.host()), 0).await;
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(bytes.unwrap()))),
            layer.digest
        );
        let ranges: Vec<_> = proxy.seen().into_iter().filter_map(|s| s.range).collect();
        assert_eq!(ranges.len(), 4, "{ranges:?}");

        // Cut before any byte, every time: given up after the retries.
        let proxy = FaultProxy::start(
            registry.addr(),
            Fault::CutBlob {
                digest: layer.digest.clone(),
                after: 0,
                times: u32::MAX,
            },
        );
        let (result, events) = read_layer(&format!("{}/team/flaky:1", proxy.host()), 0).await;
        let error = result.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RegistryError::TooManyRetries { attempts: 3, .. }),
            "{message}"
        );
        assert!(message.contains("failed 3 times in a row"), "{message}");
        assert!(
            message.contains("check the network connection"),
            "{message}"
        );
        assert!(!events
            .iter()
            .any(|e| matches!(e, BlobEvent::Finished { .. })));
    });
}

fn a_registry_that_serves_wrong_bytes_is_refused() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image(
            "team/lying",
            "1",
            &[
                PushLayer::Gzip(Layer::Compressible(100_000, 71)),
                PushLayer::Tar(Layer::Random(3 << 20, 72)),
            ],
        );
        let layer = &image.layers[1];
        let proxy = FaultProxy::start(
            registry.addr(),
            Fault::FlipBlobByte {
                digest: layer.digest.clone(),
                offset: 1_500_000,
            },
        );
        let (result, events) = read_layer(&format!("{}/team/lying:1", proxy.host()), 1).await;
        let error = result.unwrap_err();
        let message = error.to_string();
        assert!(
            matches!(error, RegistryError::DigestMismatch { .. }),
            "{message}"
        );
        assert!(message.contains(&layer.digest), "{message}");
        assert!(
            message.contains("served wrong data and it was refused"),
            "{message}"
        );
        assert!(
            !events
                .iter()
                .any(|e| matches!(e, BlobEvent::Finished { .. })),
            "{events:?}"
        );
        // Refused at once: a lie is not retried.
        let tries = proxy
            .seen()
            .iter()
            .filter(|s| s.target.ends_with(&layer.digest))
            .count();
        assert_eq!(tries, 1);

        // The honest layer of the same image still reads.
        let (honest, _) = read_layer(&format!("{}/team/lying:1", proxy.host()), 0).await;
        assert_eq!(honest.unwrap().len() as u64, image.layers[0].size);
    });
}

fn cancelling_stops_a_download_with_its_own_error() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image(
            "team/cancel",
            "1",
            &[PushLayer::Tar(Layer::Random(4 << 20, 81))],
        );
        let client = client();
        let reference = Reference::parse(&image.reference).unwrap();
        let resolved = client
            .resolve(&reference, &Platform::default())
            .await
            .unwrap();
        let cancel = budgetguard_base::Cancel::new();
        cancel.cancel();
        let error = tokio::task::spawn_blocking(move || {
            client.fetch_blob(
                &reference,
                &resolved.layers[0],
                &mut std::io::sink(),
                Arc::new(()),
                &cancel,
            )
        })
        .await
        .unwrap()
        .unwrap_err();
        assert!(matches!(error, RegistryError::Cancelled), "{error}");
    });
}
