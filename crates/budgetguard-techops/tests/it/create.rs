//! `create-install-package` on every engine under test: the package holds
//! what it should, real ZIP readers accept it, and its images load on every
//! other engine.

use testkit::engines;
use testkit::images::{self, ImageSpec, Layer};

use crate::support::*;

testkit::tests![
    packages_from_every_engine_load_on_every_engine,
    compression_settings_shrink_compressible_layers,
    the_demo_node_packages_its_locally_built_image,
];

/// Two images sharing their lower layers, with a layer that crosses the
/// writer's 1 MiB chunks, a compressible one, and one under 4 KiB.
fn shared_images(tag: &str) -> Vec<ImageSpec> {
    let base = vec![
        Layer::Random(3 * 1024 * 1024 + 123, 1),
        Layer::Compressible(2 * 1024 * 1024, 2),
        Layer::Random(100, 3),
    ];
    let mut top = base.clone();
    top.push(Layer::Random(5000, 4));
    vec![
        ImageSpec {
            reference: images::unique_reference(&format!("{tag}-base")),
            layers: base,
        },
        ImageSpec {
            reference: images::unique_reference(&format!("{tag}-top")),
            layers: top,
        },
    ]
}

fn packages_from_every_engine_load_on_every_engine() {
    let all = engines::require_available();
    for source in &all {
        let specs = shared_images("round");
        let guard = images::load(source, &specs);
        let home = tempfile::tempdir().unwrap();
        let (base, top) = (&specs[0].reference, &specs[1].reference);
        let catalog = write_catalog(
            home.path(),
            &[
                ("Base", base, 9101),
                ("Base Again", base, 9102),
                ("Top", top, 9103),
            ],
        );
        let output = home.path().join("out").join("package.zip");
        std::fs::create_dir(output.parent().unwrap()).unwrap();
        let run = run(bin(home.path(), Some(&source.host))
            .args([
                "create-install-package",
                "--json",
                "--no-pull",
                "--nodes",
                "Base,Base Again,Top",
                "--output",
            ])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog))
        .success();

        // The report names the file, its size and package id.
        let report = run.json();
        assert_eq!(report["path"], output.to_str().unwrap());
        assert_eq!(report["size"], std::fs::metadata(&output).unwrap().len());
        assert_eq!(report["package_id"], package_id_of(&output));
        assert_eq!(
            files_in(output.parent().unwrap()),
            ["package.zip"],
            "no temporary file is left"
        );
        real_zip_readers_accept(&output);

        // One entry per blob: 4 layers, 2 configs, 2 OCI manifests.
        let names = entry_names(&output);
        assert_eq!(names[0], "budgetguard-package.json");
        let blobs = names
            .iter()
            .filter(|n| n.starts_with("images/blobs/sha256/"))
            .count();
        assert_eq!(blobs, 8, "{names:#?}");
        for expected in [
            "images/index.json",
            "images/manifest.json",
            "images/oci-layout",
            "compose/base/docker-compose.yml",
            "compose/base-again/docker-compose.yml",
            "compose/top/docker-compose.yml",
            "install/install.sh",
            "install/install.ps1",
            "README.txt",
            "SHA256SUMS",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:#?}"
            );
        }
        let manifest = manifest_of(&output);
        assert_eq!(manifest["format_version"], 1);
        assert_eq!(manifest["nodes"].as_array().unwrap().len(), 3);
        let packaged = manifest["images"].as_array().unwrap();
        assert_eq!(packaged.len(), 2, "Base and Base Again share one image");
        assert_eq!(
            manifest["entries"].as_array().unwrap().len(),
            names.len() - 1
        );
        for (image, spec) in packaged.iter().zip(&specs) {
            let layers: Vec<&serde_json::Value> = image["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| &l["digest"])
                .collect();
            let engine_layers: serde_json::Value = serde_json::from_str(&source.docker_ok(&[
                "image",
                "inspect",
                "--format",
                "{{json .RootFS.Layers}}",
                &spec.reference,
            ]))
            .unwrap();
            assert_eq!(serde_json::json!(layers), engine_layers);
        }
        // The tool's own inspect and verify agree.
        let inspect = run_ok_json(
            home.path(),
            &["inspect-package", "--json", "--package"],
            &output,
        );
        assert_eq!(inspect["manifest"], manifest);
        assert_eq!(inspect["package_id"], package_id_of(&output));
        assert_eq!(inspect["signer"]["signature"], "unsigned");
        let verify = run_ok_json(
            home.path(),
            &["verify-package", "--json", "--package"],
            &output,
        );
        assert_eq!(verify["verified"]["entries"], names.len());
        assert_eq!(verify["package_id"], package_id_of(&output));

        // The images load on every engine: by config digest on the classic
        // store, by the package's own manifest digest on the containerd store.
        drop(guard);
        for target in &all {
            let _loaded = images::ImageGuard::new(
                target,
                specs.iter().map(|s| s.reference.clone()).collect(),
            );
            docker_load_images_folder(&output, target);
            let containerd = target.containerd_store();
            for (spec, image) in specs.iter().zip(packaged) {
                let loaded =
                    target.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &spec.reference]);
                let expected = if containerd {
                    &image["manifest"]["digest"]
                } else {
                    &image["id"]
                };
                assert_eq!(
                    loaded.trim(),
                    expected,
                    "{} from {} on {}",
                    spec.reference,
                    source.name,
                    target.name
                );
            }
        }
    }
}

fn run_ok_json(
    home: &std::path::Path,
    args: &[&str],
    package: &std::path::Path,
) -> serde_json::Value {
    run(bin(home, None).args(args).arg(package))
        .success()
        .json()
}

fn compression_settings_shrink_compressible_layers() {
    let engine = engines::require_primary();
    let specs = vec![ImageSpec {
        reference: images::unique_reference("compress"),
        layers: vec![
            Layer::Compressible(8 * 1024 * 1024, 5),
            Layer::Random(1024 * 1024, 6),
        ],
    }];
    let _guard = images::load(&engine, &specs);
    let home = tempfile::tempdir().unwrap();
    let catalog = write_catalog(home.path(), &[("Compress", &specs[0].reference, 9111)]);
    let mut sizes = Vec::new();
    for compression in ["none", "deflate", "zstd"] {
        let output = home.path().join(format!("{compression}.zip"));
        run(bin(home.path(), Some(&engine.host))
            .args([
                "create-install-package",
                "--no-pull",
                "--nodes",
                "Compress",
                "--compression",
                compression,
                "--output",
            ])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog))
        .success();
        if compression != "zstd" {
            real_zip_readers_accept(&output);
        }
        run(bin(home.path(), None)
            .args(["verify-package", "--package"])
            .arg(&output))
        .success();
        assert_eq!(manifest_of_any(&output)["compression"], compression);
        sizes.push(std::fs::metadata(&output).unwrap().len());
    }
    assert!(
        sizes[1] < sizes[0] / 2,
        "deflate {} vs none {}",
        sizes[1],
        sizes[0]
    );
    assert!(
        sizes[2] < sizes[1],
        "zstd {} vs deflate {}",
        sizes[2],
        sizes[1]
    );
}

/// The manifest through the tool (zstd packages are beyond Python's reader).
fn manifest_of_any(package: &std::path::Path) -> serde_json::Value {
    let home = tempfile::tempdir().unwrap();
    run_ok_json(
        home.path(),
        &["inspect-package", "--json", "--package"],
        package,
    )["manifest"]
        .clone()
}

fn the_demo_node_packages_its_locally_built_image() {
    let engine = engines::require_primary();
    let _copy = demo_copy(&engine, "demo-present");
    let home = tempfile::tempdir().unwrap();
    let output = home.path().join("demo.zip");
    // The built-in Demo carries its models: filled from a model server, as
    // `scripts/demo` does it.
    let server = testkit::model_server::ModelServer::demo(4 << 20);
    server.set_token(Some("demo-token"));
    let demo = |args: &[&str]| {
        let mut command = bin(home.path(), Some(&engine.host));
        command
            .env("NGC_API_KEY", "demo-token")
            .env("DEMO_NIM_MODEL_SERVER", server.url())
            .args(args);
        command
    };
    let run = run(demo(&["create-install-package", "--nodes", "Demo", "--output"]).arg(&output))
        .success();
    assert!(run.stdout.contains("Created "), "{}", run.stdout);
    assert!(run.stdout.contains("sha256:"), "{}", run.stdout);
    assert!(run.stderr.contains("Exporting images"), "{}", run.stderr);
    assert!(
        run.stderr.contains("Downloading models (demo)"),
        "{}",
        run.stderr
    );
    real_zip_readers_accept(&output);
    let manifest = manifest_of(&output);
    assert_eq!(manifest["nodes"][0]["name"], "Demo");
    assert_eq!(manifest["images"][0]["references"][0], DEMO_IMAGE);
    assert_eq!(manifest["caches"][0]["profiles"][0]["id"], "demo-base-cpu");
    let catalog = crate::support::run(&mut demo(&["catalog"])).success();
    assert!(
        catalog.stdout.contains("demo: demo-base-cpu"),
        "{}",
        catalog.stdout
    );
}
