//! The registry client's resources: a ~300 MB blob streams through in
//! bounded memory (the peak is this test process's; the other test here
//! holds a few hundred kilobytes), and several blobs in flight hide a
//! distant registry's round trips.
//!
//! Rates are printed: `cargo test --release -p budgetguard --test
//! registry_throughput -- --nocapture --test-threads 1`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use budgetguard_registry::reference::Reference;
use budgetguard_registry::{ClientOptions, Platform, RegistryAuth, RegistryClient};
use sha2::{Digest, Sha256};
use testkit::engines::run;
use testkit::http_faults::{Fault, FaultProxy};
use testkit::images::Layer;
use testkit::registry::{no_registry, PushLayer, TestRegistry};

testkit::tests![
    a_300_mb_blob_streams_in_bounded_memory,
    blobs_in_flight_hide_a_distant_registrys_round_trips,
];

/// How long one test may take.
const LIMIT: Duration = Duration::from_secs(600);

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(tests())
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

/// This process's peak resident memory (`VmHWM`) in bytes.
fn peak_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kib * 1024
}

fn client() -> RegistryClient {
    RegistryClient::new(RegistryAuth::default(), ClientOptions::default()).unwrap()
}

fn a_300_mb_blob_streams_in_bounded_memory() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let image = registry.push_image(
            "team/big",
            "1",
            &[PushLayer::Tar(Layer::Random(300 << 20, 91))],
        );
        let layer = image.layers[0].clone();
        let client = client();
        let reference = Reference::parse(&image.reference).unwrap();
        let resolved = client
            .resolve(&reference, &Platform::default())
            .await
            .unwrap();
        let before = peak_rss();
        let started = Instant::now();
        // The client checks the digest itself: the sink only counts.
        let size = tokio::task::spawn_blocking(move || {
            client
                .fetch_blob(
                    &reference,
                    &resolved.layers[0],
                    &mut std::io::sink(),
                    Arc::new(()),
                    &budgetguard_base::Cancel::new(),
                )
                .unwrap()
        })
        .await
        .unwrap();
        let elapsed = started.elapsed();
        let growth = peak_rss().saturating_sub(before);
        eprintln!(
            "{} MB in {:.2} s: {:.0} MB/s; peak memory grew {:.1} MiB",
            size / 1_000_000,
            elapsed.as_secs_f64(),
            size as f64 / 1e6 / elapsed.as_secs_f64(),
            growth as f64 / (1 << 20) as f64
        );
        assert_eq!(size, layer.size);
        assert!(growth < 40 << 20, "peak memory grew {growth} bytes");
    });
}

fn blobs_in_flight_hide_a_distant_registrys_round_trips() {
    run(LIMIT, async {
        let registry = TestRegistry::start().unwrap_or_else(no_registry);
        let layers: Vec<PushLayer> = (0..12)
            .map(|i| PushLayer::Gzip(Layer::Random(200_000, 100 + i)))
            .collect();
        registry.push_image("team/many", "1", &layers);
        let proxy = FaultProxy::start(registry.addr(), Fault::Latency(Duration::from_millis(100)));
        let reference = Reference::parse(&format!("{}/team/many:1", proxy.host())).unwrap();
        let client = client();
        let resolved = client
            .resolve(&reference, &Platform::default())
            .await
            .unwrap();
        let mut times = Vec::new();
        for jobs in [1, 4] {
            let (client, reference, blobs) =
                (client.clone(), reference.clone(), resolved.layers.clone());
            let started = Instant::now();
            tokio::task::spawn_blocking(move || {
                let queue = client.blob_queue(
                    &reference,
                    blobs,
                    jobs,
                    Arc::new(()),
                    &budgetguard_base::Cancel::new(),
                );
                for (descriptor, mut blob) in queue {
                    let mut sink = HashSink(Sha256::new());
                    assert_eq!(
                        std::io::copy(&mut blob, &mut sink).unwrap(),
                        descriptor.size
                    );
                }
            })
            .await
            .unwrap();
            times.push(started.elapsed());
            eprintln!(
                "12 blobs, 100 ms away, --jobs {jobs}: {:.2} s",
                started.elapsed().as_secs_f64()
            );
        }
        assert!(times[1] * 2 < times[0], "{times:?}");
    });
}
