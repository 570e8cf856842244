//! A workstation is never left wrong: a load the engine refuses half-way, a
//! Compose failure or hang, links planted in the install folder, a broken or
//! read-only folder, two installs at once, an engine that hangs, an image
//! the engine built itself on the containerd store, an uninstall after a
//! package took a tag from the user's image or after the user named the
//! package's image too, and re-hashed packages whose
//! Compose file or image names ask for more than their nodes.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use testkit::engines::{self, TestEngine};
use testkit::images::{self, ImageGuard, ImageSpec, Layer};
use testkit::proxy::CuttingProxy;

use crate::install_errors::{assert_untouched, engine_state, error_text, install, package_traces};
use crate::repack::Repack;
use crate::support::*;

testkit::tests![
    a_load_the_engine_refuses_half_way_leaves_nothing_loaded_or_tagged,
    a_compose_failure_removes_only_what_the_run_made,
    links_planted_in_the_install_folder_are_never_followed,
    pipes_planted_in_the_install_folder_never_make_a_command_wait,
    a_broken_or_read_only_install_folder_is_found_before_anything_changes,
    installs_into_one_folder_at_the_same_time_take_turns_and_keep_every_node,
    an_engine_that_stops_answering_gives_a_clear_error_soon,
    an_image_the_engine_built_itself_installs_completely,
    an_uninstall_gives_back_the_tag_a_package_took,
    a_second_package_of_a_taken_tag_keeps_the_users_image,
    a_package_that_listens_off_loopback_is_refused_or_warned_about,
    a_deploy_taken_back_keeps_the_image_it_only_named,
    a_run_killed_after_the_load_is_completed_by_the_next_and_fully_uninstalled,
    an_image_the_user_named_too_keeps_that_name_through_uninstall_and_take_back,
    a_tag_a_package_put_on_the_users_own_image_goes_at_uninstall,
    an_image_pushed_since_keeps_its_digest_reference_through_uninstall,
    a_take_back_leaves_a_tag_the_user_pointed_elsewhere_since,
    a_node_of_another_install_folder_is_never_taken_over,
    a_tag_whose_image_a_node_of_another_folder_runs_is_never_moved,
    uninstall_removes_the_files_the_folder_gives_not_those_a_state_file_names,
    state_files_that_name_a_path_as_a_model_cache_are_refused,
    consistent_packages_that_run_more_than_their_nodes_are_refused_before_any_change,
    an_engine_that_answers_no_lookup_gives_a_clear_error_in_seconds,
    a_compose_command_the_engine_hangs_is_stopped_and_taken_back,
];

/// Two images, the second one layer on top of the first, packaged as the
/// nodes `First` and `Second`; the images are gone from the engine again.
fn two_image_package(engine: &TestEngine, home: &Path, tag: &str) -> (PathBuf, Vec<String>) {
    // Seeds of the test's own, so that no other test has these layers.
    let seed = tag
        .bytes()
        .fold(91u64, |s, b| s.wrapping_mul(31).wrapping_add(u64::from(b)));
    let base = vec![
        Layer::Random(200_000, seed),
        Layer::Compressible(50_000, seed + 1),
    ];
    let mut top = base.clone();
    top.push(Layer::Random(100_000, seed + 2));
    let specs = [
        ImageSpec {
            reference: images::unique_reference(&format!("{tag}-first")),
            layers: base,
        },
        ImageSpec {
            reference: images::unique_reference(&format!("{tag}-second")),
            layers: top,
        },
    ];
    let guard = images::load(engine, &specs);
    let package = make_package(
        engine,
        home,
        &format!("{tag}.zip"),
        // Nodes (and so containers) named for the test: tests run side
        // by side on one engine.
        &[
            (&format!("{tag} First"), &specs[0].reference, free_port()),
            (&format!("{tag} Second"), &specs[1].reference, free_port()),
        ],
    );
    drop(guard);
    (package, specs.iter().map(|s| s.reference.clone()).collect())
}

fn image_exists(engine: &TestEngine, reference: &str) -> bool {
    engine
        .docker()
        .args(["image", "inspect", reference])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

fn tool(home: &Path, engine: &TestEngine, dir: &Path) -> Command {
    let mut command = bin(home, Some(&engine.host));
    command.env("BUDGETGUARD_INSTALL_DIR", dir);
    command
}

fn a_load_the_engine_refuses_half_way_leaves_nothing_loaded_or_tagged() {
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let (good, references) = two_image_package(&engine, home.path(), "halfway");
        let _cleanup = ImageGuard::new(&engine, references.clone());
        // The second image's own layer becomes bytes that are no tar, with
        // every digest made to match: the engine loads the first image, then
        // refuses the second.
        let mut repack = Repack::open(&good);
        let victim = repack.layer(1, 2);
        let size = repack.entries[&format!("images/blobs/sha256/{victim}")].len();
        repack.replace_blob(&victim, vec![b'!'; size]);
        let hostile = home.path().join("hostile.zip");
        repack.write(&hostile);

        let before = engine_state(&engine);
        let dir = home.path().join("install");
        let run = install(home.path(), &engine.host, &dir, &hostile, &[]);
        let error = error_text(&run);
        assert!(
            error.contains("could not load the images"),
            "{}: {error}",
            engine.name
        );
        for reference in &references {
            assert!(
                !image_exists(&engine, reference),
                "{}: `{reference}` stayed after a refused load",
                engine.name
            );
        }
        assert_untouched(&engine, &before, &package_traces(&good), &engine.name);
        assert!(!dir.exists(), "{}", engine.name);
    }
}

/// A Compose that works for everything but `up`, which fails.
fn failing_compose(home: &Path) -> String {
    let script = home.join("failing-compose");
    std::fs::write(
        &script,
        "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = up ] && { echo 'simulated failure' >&2; exit 1; }; done\nexec docker compose \"$@\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    script.display().to_string()
}

fn a_compose_failure_removes_only_what_the_run_made() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "rollback");
    let _cleanup = ImageGuard::new(&engine, references.clone());
    let dir = home.path().join("install");
    let own = dir.join("compose/rollback-second/notes.txt");
    std::fs::create_dir_all(own.parent().unwrap()).unwrap();
    std::fs::write(&own, "the artist's own notes").unwrap();
    let before = engine_state(&engine);

    let run = crate::support::run(
        tool(home.path(), &engine, &dir)
            .env("BUDGETGUARD_COMPOSE", failing_compose(home.path()))
            .args(["install-package", "--package"])
            .arg(&package),
    );
    let error = error_text(&run);
    assert!(error.contains("simulated failure"), "{error}");
    assert_eq!(
        std::fs::read_to_string(&own).unwrap(),
        "the artist's own notes"
    );
    assert_eq!(
        files_in(&dir.join("compose/rollback-second")),
        ["notes.txt"]
    );
    assert!(!dir.join("compose/rollback-first").exists());
    assert!(!dir.join("endpoints.json").exists());
    assert!(!dir.join("images.json").exists());
    for reference in &references {
        assert!(!image_exists(&engine, reference), "`{reference}` stayed");
    }
    assert_untouched(&engine, &before, &package_traces(&package), "rollback");
}

fn links_planted_in_the_install_folder_are_never_followed() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "links");
    let _cleanup = ImageGuard::new(&engine, references.clone());
    let before = engine_state(&engine);
    for planted in ["compose/links-first", "compose/links-second/cache"] {
        let dir = home
            .path()
            .join(format!("install-{}", planted.replace('/', "-")));
        let outside = tempfile::tempdir().unwrap();
        let link = dir.join(planted);
        std::fs::create_dir_all(link.parent().unwrap()).unwrap();
        std::os::unix::fs::symlink(outside.path(), &link).unwrap();
        let error = error_text(&install(home.path(), &engine.host, &dir, &package, &[]));
        assert!(
            error.contains("is a symbolic link") && error.contains(planted),
            "{planted}: {error}"
        );
        assert!(
            std::fs::read_dir(outside.path()).unwrap().next().is_none(),
            "{planted}: something was written through the link"
        );
        let mode = std::fs::metadata(outside.path()).unwrap().mode();
        assert_eq!(
            mode & 0o002,
            0,
            "{planted}: the target became world-writable"
        );
        assert_untouched(&engine, &before, &package_traces(&package), planted);
    }

    // A normal install: the cache belongs to the container's user, and
    // nothing is world-writable.
    let dir = home.path().join("install");
    install(home.path(), &engine.host, &dir, &package, &[]).success();
    for node in ["links-first", "links-second"] {
        let cache = std::fs::metadata(dir.join("compose").join(node).join("cache")).unwrap();
        assert_eq!(
            cache.mode() & 0o002,
            0,
            "{node}: the cache is world-writable"
        );
        assert_eq!(cache.mode() & 0o070, 0o070, "{node}: group rwx");
        if std::fs::metadata(&dir).unwrap().uid() == 0 {
            assert_eq!(cache.uid(), 1000, "{node}: owned by the container's user");
        }
    }
    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
}

/// Named pipes planted where the install folder keeps its own files: a
/// command that reads one says so at once, instead of waiting for a writer
/// forever (with the folder's lock held).
fn pipes_planted_in_the_install_folder_never_make_a_command_wait() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    for (planted, command) in [
        ("journal.json", &["status"][..]),
        ("endpoints.json", &["uninstall", "--all"]),
        ("images.json", &["uninstall", "--all"]),
        ("credentials.env", &["install-credentials", "--stdin"]),
    ] {
        let dir = home.path().join(format!("install-{planted}"));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(Command::new("mkfifo")
            .arg(dir.join(planted))
            .status()
            .unwrap()
            .success());
        let ran = run_within(
            tool(home.path(), &engine, &dir).args(command),
            b"NGC_API_KEY=nvapi-test\n",
            std::time::Duration::from_secs(30),
        );
        let said = format!(
            "cannot read `{}`: it is a named pipe",
            dir.join(planted).display()
        );
        assert!(ran.stderr.contains(&said), "{planted}: {}", ran.stderr);
    }
}

fn a_broken_or_read_only_install_folder_is_found_before_anything_changes() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "folder");
    let _cleanup = ImageGuard::new(&engine, references.clone());
    let before = engine_state(&engine);
    let traces = package_traces(&package);

    let dir = home.path().join("broken");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("endpoints.json"), "{ half written").unwrap();
    let error = error_text(&install(home.path(), &engine.host, &dir, &package, &[]));
    assert!(
        error.starts_with("error: nothing was changed, because:"),
        "{error}"
    );
    assert!(error.contains("endpoints.json` is not valid"), "{error}");
    assert_eq!(
        std::fs::read_to_string(dir.join("endpoints.json")).unwrap(),
        "{ half written"
    );
    assert_eq!(files_in(&dir), ["endpoints.json"]);
    assert_untouched(&engine, &before, &traces, "broken endpoints.json");

    // A read-only folder (a read-only mount: root ignores permission bits).
    let dir = home.path().join("read-only");
    std::fs::create_dir_all(&dir).unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "ro,size=1m", "tmpfs"])
        .arg(&dir)
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        mounted || !engines::docker_required(),
        "cannot mount a read-only tmpfs (the tests run as root in CI)"
    );
    if mounted {
        let result = install(home.path(), &engine.host, &dir, &package, &[]);
        let _ = Command::new("umount").arg(&dir).status();
        let error = error_text(&result);
        assert!(error.contains("cannot write into"), "{error}");
        assert!(error.contains("read-only"), "{error}");
        assert_untouched(&engine, &before, &traces, "read-only folder");
    }
}

fn installs_into_one_folder_at_the_same_time_take_turns_and_keep_every_node() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (first, first_refs) = two_image_package(&engine, home.path(), "turns-a");
    let (second, second_refs) = two_image_package(&engine, home.path(), "turns-b");
    let _cleanup = ImageGuard::new(&engine, [first_refs, second_refs].concat());
    let dir = home.path().join("install");

    let mut waited = false;
    for round in 0..3 {
        let children: Vec<_> = [&first, &second]
            .iter()
            .map(|package| {
                tool(home.path(), &engine, &dir)
                    .args(["install-package", "--package"])
                    .arg(package)
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(out.status.success(), "round {round}: {stderr}");
            waited |= stderr.contains("Waiting for process");
        }
        let endpoints: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.join("endpoints.json")).unwrap()).unwrap();
        let names: Vec<&str> = endpoints["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            [
                "turns-a First",
                "turns-a Second",
                "turns-b First",
                "turns-b Second"
            ],
            "round {round}"
        );
        for container in [
            "turns-a-first",
            "turns-a-second",
            "turns-b-first",
            "turns-b-second",
        ] {
            engine.docker_ok(&["inspect", &format!("budgetguard-{container}")]);
        }
        run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    }
    assert!(waited, "one run said which process it waited for");
}

fn an_engine_that_stops_answering_gives_a_clear_error_soon() {
    let engine = engines::require_primary();
    let Some(socket) = engine.host.strip_prefix("unix://") else {
        engines::skip("the engine is not on a unix socket");
    };
    let home = tempfile::tempdir().unwrap();
    let spec = ImageSpec {
        reference: images::unique_reference("stall"),
        layers: vec![Layer::Random(16 << 20, 95)],
    };
    let _guard = images::load(&engine, std::slice::from_ref(&spec));
    let catalog = write_catalog(home.path(), &[("Stall", &spec.reference, free_port())]);
    // Enough for the handshake and inspects; the export then hangs.
    let proxy = CuttingProxy::stall_responses(Path::new(socket), 1 << 20);
    let output = home.path().join("out").join("stall.zip");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    let started = std::time::Instant::now();
    let run = crate::support::run(
        bin(home.path(), Some(&proxy.host()))
            .env("BUDGETGUARD_IDLE_TIMEOUT", "3")
            .args([
                "create-install-package",
                "--no-pull",
                "--nodes",
                "Stall",
                "--output",
            ])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog),
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr.contains(
            "the Docker engine stopped answering while exporting images (nothing for 3 s)"
        ),
        "{}",
        run.stderr
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(60));
    assert!(files_in(output.parent().unwrap()).is_empty());
}

fn an_image_the_engine_built_itself_installs_completely() {
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let context = home.path().join("context");
        std::fs::create_dir_all(&context).unwrap();
        let data: Vec<u8> = (0..400_000u32)
            .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
            .collect();
        std::fs::write(context.join("weights.bin"), &data).unwrap();
        std::fs::write(context.join("notes.txt"), "built here").unwrap();
        std::fs::write(
            context.join("Dockerfile"),
            "FROM scratch\nCOPY weights.bin /weights.bin\nCOPY notes.txt /notes.txt\nCMD [\"/weights.bin\"]\n",
        )
        .unwrap();
        let reference = images::unique_reference("built");
        let _cleanup = ImageGuard::new(&engine, vec![reference.clone()]);
        let built = engine
            .docker()
            .env("DOCKER_BUILDKIT", "0")
            .args(["build", "-q", "-t", &reference])
            .arg(&context)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "{}: {}",
            engine.name,
            String::from_utf8_lossy(&built.stderr)
        );
        let package = make_package(
            &engine,
            home.path(),
            "built.zip",
            &[("Built", &reference, free_port())],
        );
        let dir = home.path().join("install");
        install(home.path(), &engine.host, &dir, &package, &[]).success();

        // Listed, and `docker save` of it holds every layer.
        let listed = engine.docker_list(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
        assert!(
            listed.lines().any(|l| l == reference),
            "{}: {listed}",
            engine.name
        );
        let saved = home.path().join("saved.tar");
        engine.docker_ok(&["save", "-o", saved.to_str().unwrap(), &reference]);
        let check = Command::new("python3")
            .args([
                "-c",
                "import sys,tarfile,json\n\
                 t=tarfile.open(sys.argv[1]); names=set(t.getnames())\n\
                 m=json.load(t.extractfile('manifest.json'))\n\
                 layers=m[0]['Layers']\n\
                 assert len(layers)==2, layers\n\
                 total=0\n\
                 for l in layers:\n\
                 \x20   assert l in names, l\n\
                 \x20   total+=t.getmember(l).size if not t.getmember(l).issym() else 0\n\
                 print(total)",
            ])
            .arg(&saved)
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}: incomplete save: {}",
            engine.name,
            String::from_utf8_lossy(&check.stderr)
        );
        run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
        assert!(
            image_exists(&engine, &reference),
            "{}: the user's image stays",
            engine.name
        );
    }
}

fn an_uninstall_gives_back_the_tag_a_package_took() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let reference = images::unique_reference("taken");
    let theirs = ImageSpec {
        reference: reference.clone(),
        layers: vec![Layer::Random(50_000, 97)],
    };
    let ours = ImageSpec {
        reference: reference.clone(),
        layers: vec![Layer::Random(60_000, 98)],
    };
    let _guard = images::load(&engine, std::slice::from_ref(&ours));
    let package = make_package(
        &engine,
        home.path(),
        "taken.zip",
        &[("Taken", &reference, free_port())],
    );
    engine.docker_ok(&["rmi", &reference]);
    let _theirs = images::load(&engine, std::slice::from_ref(&theirs));
    let user_image = engine.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);

    let dir = home.path().join("install");
    install(home.path(), &engine.host, &dir, &package, &[]).success();
    let installed = engine.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_ne!(installed, user_image, "the package's image took the tag");
    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    let after = engine.docker_ok(&["image", "inspect", "-f", "{{.Id}}", &reference]);
    assert_eq!(after, user_image, "the tag is the user's image's again");
    assert!(
        !engine
            .docker_list(&["images", "-q", "--no-trunc"])
            .contains(installed.trim()),
        "the package's image is gone"
    );
}

/// The ID `reference` names on `engine`, if any.
fn id_of(engine: &TestEngine, reference: &str) -> Option<String> {
    let out = engine
        .docker()
        .args(["image", "inspect", "-f", "{{.Id}}", reference])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

/// A reference of a test's own, the tag that keeps a user's image of it
/// when a package takes it, and a guard that removes both.
struct Tag {
    reference: String,
    kept: String,
    size: u64,
    _guard: ImageGuard,
}

impl Tag {
    fn new(engine: &TestEngine, name: &str, size: u64) -> Self {
        let reference = images::unique_reference(name);
        let kept = format!("{reference}-before-budgetguard");
        let _guard = ImageGuard::new(engine, vec![reference.clone(), kept.clone()]);
        Self {
            reference,
            kept,
            size,
            _guard,
        }
    }

    /// An image of the reference, of one layer made from `seed`.
    fn image(&self, seed: u64) -> ImageSpec {
        ImageSpec {
            reference: self.reference.clone(),
            layers: vec![Layer::Random(self.size, seed)],
        }
    }
}

/// Two packages in turn take the tag of a user's image: the user's image
/// stays kept through the second one's failed and successful installs, and
/// an uninstall gives the tag back to it. A kept tag that names another
/// image of the user's already is refused before any change.
fn a_second_package_of_a_taken_tag_keeps_the_users_image() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let tag = Tag::new(&engine, "taken-twice", 40_000);
    let (reference, kept) = (tag.reference.clone(), tag.kept.clone());
    let image = |seed| tag.image(seed);
    let mut package_ids = Vec::new();
    // Seeds differ in more than their lowest bit, which the generator sets.
    let packages: Vec<PathBuf> = [("first", 70), ("second", 72)]
        .into_iter()
        .map(|(name, seed)| {
            let _made = images::load(&engine, &[image(seed)]);
            package_ids.push(id_of(&engine, &reference).unwrap());
            let package = make_package(
                &engine,
                home.path(),
                &format!("{name}.zip"),
                &[("Taken Twice", &reference, free_port())],
            );
            engine.docker_ok(&["rmi", &reference]);
            package
        })
        .collect();
    let _user = images::load(&engine, &[image(74)]);
    let user_image = id_of(&engine, &reference).unwrap();
    let dir = home.path().join("install");

    // A kept tag that already names another image of the user's.
    let _other = images::load(
        &engine,
        &[ImageSpec {
            reference: kept.clone(),
            layers: vec![Layer::Random(40_000, 76)],
        }],
    );
    let before = engine_state(&engine);
    let error = error_text(&install(home.path(), &engine.host, &dir, &packages[0], &[]));
    assert!(
        error.contains(&format!("but `{kept}` already names another image")),
        "{error}"
    );
    assert_untouched(
        &engine,
        &before,
        &package_traces(&packages[0]),
        "kept tag taken",
    );
    assert!(!dir.join("endpoints.json").exists());
    engine.docker_ok(&["rmi", &kept]);

    install(home.path(), &engine.host, &dir, &packages[0], &[]).success();
    assert_eq!(id_of(&engine, &kept).as_ref(), Some(&user_image));
    // The second package fails at Compose: taken back, the user's image
    // still kept.
    let failed = crate::support::run(
        tool(home.path(), &engine, &dir)
            .env("BUDGETGUARD_COMPOSE", failing_compose(home.path()))
            .args(["install-package", "--package"])
            .arg(&packages[1]),
    );
    assert!(error_text(&failed).contains("simulated failure"));
    assert_eq!(id_of(&engine, &reference).as_ref(), Some(&package_ids[0]));
    assert_eq!(id_of(&engine, &kept).as_ref(), Some(&user_image));
    // And installed.
    install(home.path(), &engine.host, &dir, &packages[1], &[]).success();
    assert_eq!(id_of(&engine, &reference).as_ref(), Some(&package_ids[1]));
    assert_eq!(id_of(&engine, &kept).as_ref(), Some(&user_image));

    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    assert_eq!(id_of(&engine, &reference), Some(user_image));
    assert_eq!(id_of(&engine, &kept), None);
    for id in &package_ids {
        let _ = engine.docker().args(["rmi", id]).output();
    }
}

fn consistent_packages_that_run_more_than_their_nodes_are_refused_before_any_change() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (good, references) = two_image_package(&engine, home.path(), "overreach");
    let _cleanup = ImageGuard::new(&engine, references.clone());
    let compose = "compose/overreach-first/docker-compose.yml";
    let privileged = {
        let mut repack = Repack::open(&good);
        let file = repack.entries.get_mut(compose).unwrap();
        file.extend_from_slice(
            b"    privileged: true\n    network_mode: host\n    volumes: ['/:/host']\n",
        );
        repack
    };
    let other_tag = {
        let mut repack = Repack::open(&good);
        repack.manifest["images"][0]["references"]
            .as_array_mut()
            .unwrap()
            .push("budgetguard/users-own:1".into());
        repack
    };
    let cases = [
        (
            privileged,
            format!("`{compose}`"),
            "is not the Compose file its node's settings give",
        ),
        (
            other_tag,
            "budgetguard/users-own:1".to_owned(),
            "which no node of the package runs",
        ),
    ];
    for (i, (repack, names, why)) in cases.into_iter().enumerate() {
        let hostile = home.path().join(format!("hostile-{i}.zip"));
        repack.write(&hostile);
        let verified = run(bin(home.path(), None)
            .args(["verify-package", "--package"])
            .arg(&hostile));
        let error = error_text(&verified);
        assert!(error.contains(&names) && error.contains(why), "{error}");

        let before = engine_state(&engine);
        let dir = home.path().join("install");
        let error = error_text(&install(home.path(), &engine.host, &dir, &hostile, &[]));
        assert!(error.contains(&names) && error.contains(why), "{error}");
        assert_untouched(&engine, &before, &package_traces(&good), &engine.name);
        assert!(!dir.exists(), "nothing written: {error}");
    }
}

/// An engine that answers its version, then nothing: a lookup (here the
/// inspect of the node's image) fails after its 30 s limit with the
/// engine's own message, not after the two minutes of other calls.
fn an_engine_that_answers_no_lookup_gives_a_clear_error_in_seconds() {
    use std::io::{BufRead, BufReader, Write};
    use std::os::unix::net::UnixListener;

    let home = tempfile::tempdir().unwrap();
    let socket = home.path().join("hung.sock");
    let listener = UnixListener::bind(&socket).unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut writer = stream;
                loop {
                    let mut request = String::new();
                    if reader.read_line(&mut request).unwrap_or(0) == 0 {
                        return;
                    }
                    let mut header = String::new();
                    while reader.read_line(&mut header).unwrap_or(0) > 2 {
                        header.clear();
                    }
                    if !request.contains("/version") && !request.contains("/_ping") {
                        // Hung: the connection stays open, unanswered.
                        std::thread::sleep(std::time::Duration::from_secs(600));
                        return;
                    }
                    let body = r#"{"Version":"20.10.24","ApiVersion":"1.41","MinAPIVersion":"1.12","Os":"linux","Arch":"amd64"}"#;
                    let answer = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    if writer.write_all(answer.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let catalog = write_catalog(home.path(), &[("Hung", "budgetguard/hung:1", free_port())]);
    let output = home.path().join("out").join("hung.zip");
    std::fs::create_dir_all(output.parent().unwrap()).unwrap();
    let started = std::time::Instant::now();
    let run = crate::support::run(
        bin(home.path(), Some(&format!("unix://{}", socket.display())))
            .args([
                "create-install-package",
                "--no-pull",
                "--nodes",
                "Hung",
                "--output",
            ])
            .arg(&output)
            .arg("--catalog")
            .arg(&catalog),
    );
    let took = started.elapsed();
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the Docker engine stopped answering while inspect image `budgetguard/hung:1` (nothing for 30 s)"),
        "{}",
        run.stderr
    );
    assert!(took < std::time::Duration::from_secs(60), "{took:?}");
    assert!(files_in(output.parent().unwrap()).is_empty());
}

/// An engine that hangs while Compose creates the nodes' containers: each
/// Compose (v2, then v1) is stopped at its time limit, the run is taken
/// back (images, network, files), and the error says what happened.
fn a_compose_command_the_engine_hangs_is_stopped_and_taken_back() {
    let engine = engines::require_primary();
    let Some(socket) = engine.host.strip_prefix("unix://") else {
        engines::skip("the engine is not on a unix socket");
    };
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "hung-compose");
    let _cleanup = ImageGuard::new(&engine, references.clone());
    let proxy = CuttingProxy::hang_requests(Path::new(socket), |line| {
        line.starts_with("POST ") && line.contains("/containers/create")
    });
    let before = engine_state(&engine);
    for compose in ["docker compose", "docker-compose"] {
        let dir = home.path().join(compose.replace(' ', "-"));
        let started = std::time::Instant::now();
        let run = crate::support::run(
            bin(home.path(), Some(&proxy.host()))
                .env("BUDGETGUARD_INSTALL_DIR", &dir)
                .env("BUDGETGUARD_COMPOSE", compose)
                .env("BUDGETGUARD_COMPOSE_TIMEOUT", "5")
                .args(["install-package", "--package"])
                .arg(&package),
        );
        let error = error_text(&run);
        assert!(
            error.contains(
                "did not end within 5 s, so it was stopped: the Docker engine is not answering"
            ),
            "{compose}: {error}"
        );
        assert!(
            started.elapsed() < std::time::Duration::from_secs(90),
            "{compose}: {:?}",
            started.elapsed()
        );
        for reference in &references {
            assert!(
                !image_exists(&engine, reference),
                "{compose}: `{reference}` stayed"
            );
        }
        assert!(!dir.join("endpoints.json").exists(), "{compose}");
        assert!(
            !dir.join("compose/hung-compose-first").exists(),
            "{compose}"
        );
        let filter = ["-q", "--filter", "name=hung-compose"];
        let containers = engine.docker_ok(&[&["container", "ls", "-a"][..], &filter].concat());
        let networks = engine.docker_ok(&[&["network", "ls"][..], &filter].concat());
        assert!(
            containers.trim().is_empty() && networks.trim().is_empty(),
            "{compose}: containers {containers}, networks {networks}"
        );
        assert_untouched(&engine, &before, &package_traces(&package), compose);
    }
}

/// A package whose node listens on `address` (its Compose file made to
/// match, the manifest re-hashed), written as `name` in `home`.
fn listening(good: &Path, home: &Path, name: &str, address: &str) -> PathBuf {
    let mut repack = Repack::open(good);
    let node = &mut repack.manifest["nodes"][0];
    node["listen"] = address.into();
    let parsed: budgetguard::package::manifest::PackagedNode =
        serde_json::from_value(node.clone()).unwrap();
    let yaml = budgetguard::compose::compose_file(&parsed.node, false).to_yaml();
    repack
        .entries
        .insert(parsed.compose_file.clone(), yaml.into_bytes());
    let path = home.join(name);
    repack.write(&path);
    path
}

/// A package may ask for a node on another address than loopback: one
/// that is no address of this workstation (it would put a foreign endpoint
/// into `endpoints.json`) is refused before any change, started or not;
/// every address (0.0.0.0) installs with a warning and its fix, and
/// `--listen 127.0.0.1` keeps the node to the workstation.
fn a_package_that_listens_off_loopback_is_refused_or_warned_about() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (good, references) = two_image_package(&engine, home.path(), "listens");
    let _cleanup = ImageGuard::new(&engine, references);
    let foreign = listening(&good, home.path(), "foreign.zip", "203.0.113.5");
    let before = engine_state(&engine);
    let dir = home.path().join("install");
    // The user's own choice of an address this workstation lacks.
    for extra in [
        &["--listen", "203.0.113.5"][..],
        &["--listen", "203.0.113.5", "--no-start"][..],
    ] {
        let error = error_text(&install(home.path(), &engine.host, &dir, &foreign, extra));
        assert!(
            error.contains(
                "is to listen on 203.0.113.5, which is not an address of this workstation"
            ),
            "{error}"
        );
        assert_untouched(&engine, &before, &package_traces(&foreign), "foreign");
        assert!(!dir.join("endpoints.json").exists());
    }

    // A package's own choice, whatever it is, is not taken without consent.
    for (package, asked) in [
        (foreign.clone(), "203.0.113.5"),
        (
            listening(&good, home.path(), "open.zip", "0.0.0.0"),
            "0.0.0.0",
        ),
    ] {
        let installed = install(home.path(), &engine.host, &dir, &package, &[]).success();
        assert!(
            installed.stderr.contains(&format!(
                "package asks to listen on {asked}, where other machines could use it with no login; it listens on 127.0.0.1 only"
            )),
            "{}",
            installed.stderr
        );
        assert!(
            installed.hints().contains(
                &"to publish it on the network for anyone who reaches it, pass `--listen ADDR` (`0.0.0.0` for every address)"
            ),
            "{}",
            installed.stderr
        );
        let endpoints = std::fs::read_to_string(dir.join("endpoints.json")).unwrap();
        assert!(
            endpoints.contains("\"listen\": \"127.0.0.1\""),
            "{endpoints}"
        );
        run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    }

    let open = home.path().join("open.zip");
    let published = install(
        home.path(),
        &engine.host,
        &dir,
        &open,
        &["--listen", "0.0.0.0"],
    )
    .success();
    assert!(
        !published.stderr.contains("asks to listen"),
        "{}",
        published.stderr
    );
    let endpoints = std::fs::read_to_string(dir.join("endpoints.json")).unwrap();
    assert!(endpoints.contains("\"listen\": \"0.0.0.0\""), "{endpoints}");
    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
}

/// `deploy-local` pulls a node's image that the engine holds under another
/// tag of the user's; when Compose then fails, the rollback takes back only
/// the new name, never the user's image.
fn a_deploy_taken_back_keeps_the_image_it_only_named() {
    let engine = engines::require_primary();
    let registry =
        testkit::registry::TestRegistry::start().unwrap_or_else(testkit::registry::no_registry);
    let pushed = registry.push_image(
        &format!("deploy-named-{}", std::process::id()),
        "1",
        &[testkit::registry::PushLayer::Gzip(Layer::Random(
            100_000, 77,
        ))],
    );
    let users = images::unique_reference("users-own");
    let _guard = ImageGuard::new(&engine, vec![pushed.reference.clone(), users.clone()]);
    engine.docker_ok(&["pull", &pushed.reference]);
    engine.docker_ok(&["tag", &pushed.reference, &users]);
    engine.docker_ok(&["rmi", &pushed.reference]);
    let user_image = id_of(&engine, &users).unwrap();

    let home = tempfile::tempdir().unwrap();
    let catalog = write_catalog(home.path(), &[("Named", &pushed.reference, free_port())]);
    let dir = home.path().join("install");
    let failed = crate::support::run(
        tool(home.path(), &engine, &dir)
            .env("BUDGETGUARD_COMPOSE", failing_compose(home.path()))
            .args(["deploy-local", "--nodes", "Named", "--catalog"])
            .arg(&catalog),
    );
    assert!(error_text(&failed).contains("simulated failure"));
    assert_eq!(
        id_of(&engine, &users),
        Some(user_image),
        "the user's image stays"
    );
    assert_eq!(
        id_of(&engine, &pushed.reference),
        None,
        "the pulled name is taken back"
    );
}

/// A run killed after the load, while Compose creates the containers
/// (SIGKILL or a power cut: no chance to take itself back): the next run
/// completes, and `uninstall` still removes the package's image and gives
/// back the tag it took from the user's image.
fn a_run_killed_after_the_load_is_completed_by_the_next_and_fully_uninstalled() {
    use std::os::unix::process::CommandExt;
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let tag = Tag::new(&engine, "killed", 60_000);
    let (reference, kept) = (tag.reference.clone(), tag.kept.clone());
    let spec = |seed| tag.image(seed);
    let _made = images::load(&engine, &[spec(80)]);
    let package_image = id_of(&engine, &reference).unwrap();
    let package = make_package(
        &engine,
        home.path(),
        "killed.zip",
        &[("Killed", &reference, free_port())],
    );
    engine.docker_ok(&["rmi", &reference]);
    let _theirs = images::load(&engine, &[spec(82)]);
    let user_image = id_of(&engine, &reference).unwrap();

    let marker = home.path().join("compose-started");
    let hanging = home.path().join("hanging-compose");
    std::fs::write(
        &hanging,
        format!(
            "#!/bin/sh\nfor a in \"$@\"; do [ \"$a\" = up ] && {{ touch '{}'; exec sleep 600; }}; done\nexec docker compose \"$@\"\n",
            marker.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&hanging, std::fs::Permissions::from_mode(0o755)).unwrap();
    let dir = home.path().join("install");
    let mut child = tool(home.path(), &engine, &dir)
        .env("BUDGETGUARD_COMPOSE", &hanging)
        .args(["install-package", "--package"])
        .arg(&package)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while !marker.exists() {
        assert!(started.elapsed().as_secs() < 60, "Compose never ran");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // The tool and its Compose, at once.
    Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status()
        .unwrap();
    child.wait().unwrap();
    assert_eq!(
        id_of(&engine, &reference).as_ref(),
        Some(&package_image),
        "loaded"
    );

    install(home.path(), &engine.host, &dir, &package, &[]).success();
    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    assert_eq!(
        id_of(&engine, &reference),
        Some(user_image),
        "the tag is given back"
    );
    assert_eq!(id_of(&engine, &kept), None);
    assert_eq!(
        id_of(&engine, &package_image),
        None,
        "the package's image is gone"
    );
}

/// An image the tool loaded that the user then named too (`docker tag`,
/// or a load of the same image under a name of their own): neither the
/// uninstall nor the take-back of a killed run removes it by its ID,
/// which would take the user's name with it; the package's tag goes.
fn an_image_the_user_named_too_keeps_that_name_through_uninstall_and_take_back() {
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let spec = ImageSpec {
            reference: images::unique_reference("named-too"),
            layers: vec![
                Layer::Random(150_000, 531),
                Layer::Compressible(40_000, 532),
            ],
        };
        let reference = spec.reference.clone();
        let made = images::load(&engine, &[spec]);
        let package = make_package(
            &engine,
            home.path(),
            "named-too.zip",
            &[("Named Too", &reference, free_port())],
        );
        drop(made);
        let mine = images::unique_reference("mine");
        let _cleanup = ImageGuard::new(&engine, vec![reference.clone(), mine.clone()]);
        let dir = home.path().join("install");
        let uninstall = || {
            let mut command = tool(home.path(), &engine, &dir);
            command.args(["uninstall", "--all"]);
            command
        };

        // Installed, then named: the uninstall leaves the image to that name.
        install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
        let loaded = id_of(&engine, &reference).unwrap();
        engine.docker_ok(&["tag", &reference, &mine]);
        let uninstalled = run(&mut uninstall()).success();
        assert!(
            uninstalled
                .stderr
                .contains(&format!("is named `{mine}` too")),
            "{}: {}",
            engine.name,
            uninstalled.stderr
        );
        assert_eq!(
            id_of(&engine, &mine).as_ref(),
            Some(&loaded),
            "{}",
            engine.name
        );
        assert_eq!(id_of(&engine, &reference), None, "{}", engine.name);
        engine.docker_ok(&["rmi", &mine]);

        // Loaded by a run killed before it configured the node, then
        // named: the take-back leaves the image to that name too.
        let killed = run(tool(home.path(), &engine, &dir)
            .env("BUDGETGUARD_TEST_FAULT", "configure_nodes:kill")
            .args(["install-package", "--no-start", "--package"])
            .arg(&package));
        assert_ne!(killed.code, 0, "{}: {}", engine.name, killed.stderr);
        assert_eq!(
            id_of(&engine, &reference).as_ref(),
            Some(&loaded),
            "{}",
            engine.name
        );
        engine.docker_ok(&["tag", &reference, &mine]);
        let taken_back = run(&mut uninstall()).success();
        assert!(
            taken_back.stderr.contains("Took back the unfinished"),
            "{}: {}",
            engine.name,
            taken_back.stderr
        );
        assert_eq!(id_of(&engine, &mine), Some(loaded), "{}", engine.name);
        assert_eq!(id_of(&engine, &reference), None, "{}", engine.name);
    }
}

/// The user has the package's very image under a name of their own: the
/// install tags it and loads nothing, and the uninstall takes that tag off
/// again (and gives it back to the user's image it named before), leaving
/// the image to the user's name.
fn a_tag_a_package_put_on_the_users_own_image_goes_at_uninstall() {
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let tag = Tag::new(&engine, "users-own", 60_000);
        let reference = tag.reference.clone();
        let made = images::load(&engine, &[tag.image(541)]);
        let package = make_package(
            &engine,
            home.path(),
            "users-own.zip",
            &[("Users Own", &reference, free_port())],
        );
        drop(made);
        // The user's copy of the package's image, as the package loads it
        // (on the containerd store its ID is the package's manifest):
        // installed elsewhere, named, and that install gone.
        let mine = images::unique_reference("mine");
        let _mine = ImageGuard::new(&engine, vec![mine.clone()]);
        let elsewhere = home.path().join("elsewhere");
        install(
            home.path(),
            &engine.host,
            &elsewhere,
            &package,
            &["--no-start"],
        )
        .success();
        engine.docker_ok(&["tag", &reference, &mine]);
        run(tool(home.path(), &engine, &elsewhere).args(["uninstall", "--all"])).success();
        let image = id_of(&engine, &mine).unwrap();
        assert_eq!(id_of(&engine, &reference), None, "{}", engine.name);
        let dir = home.path().join("install");
        let uninstall = || run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"]));

        // The tag named nothing before.
        let installed =
            install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
        assert!(
            installed.stdout.contains("already present"),
            "{}: {}",
            engine.name,
            installed.stdout
        );
        assert_eq!(
            id_of(&engine, &reference).as_ref(),
            Some(&image),
            "{}",
            engine.name
        );
        let uninstalled = uninstall().success();
        assert!(
            uninstalled
                .stderr
                .contains(&format!("Untagged `{reference}`")),
            "{}: {}",
            engine.name,
            uninstalled.stderr
        );
        assert_eq!(id_of(&engine, &reference), None, "{}", engine.name);
        assert_eq!(
            id_of(&engine, &mine).as_ref(),
            Some(&image),
            "{}",
            engine.name
        );

        // The tag named another image of the user's before.
        let _other = images::load(&engine, &[tag.image(543)]);
        let other = id_of(&engine, &reference).unwrap();
        install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
        assert_eq!(
            id_of(&engine, &reference).as_ref(),
            Some(&image),
            "{}",
            engine.name
        );
        assert_eq!(
            id_of(&engine, &tag.kept).as_ref(),
            Some(&other),
            "{}",
            engine.name
        );
        uninstall().success();
        assert_eq!(id_of(&engine, &reference), Some(other), "{}", engine.name);
        assert_eq!(id_of(&engine, &tag.kept), None, "{}", engine.name);
        assert_eq!(id_of(&engine, &mine), Some(image), "{}", engine.name);
        assert!(!dir.join("images.json").exists(), "{}", engine.name);
    }
}

/// The user pushes the image a package loaded (or pulls it by digest): on
/// the classic store the engine keeps that digest reference only while a
/// tag of its repository names the image, so the uninstall keeps the image
/// and its tag, and says why. (The containerd store keeps each reference
/// on its own, and names every image by digest.)
fn an_image_pushed_since_keeps_its_digest_reference_through_uninstall() {
    let registry =
        testkit::registry::TestRegistry::start().unwrap_or_else(testkit::registry::no_registry);
    for engine in engines::require_available() {
        if engine.containerd_store() {
            continue;
        }
        let home = tempfile::tempdir().unwrap();
        let reference = format!(
            "{}/{}",
            registry.host(),
            images::unique_reference("pushed-since")
        );
        let _cleanup = ImageGuard::new(&engine, vec![reference.clone()]);
        let made = images::load(
            &engine,
            &[ImageSpec {
                reference: reference.clone(),
                layers: vec![Layer::Random(50_000, 561)],
            }],
        );
        let package = make_package(
            &engine,
            home.path(),
            "pushed-since.zip",
            &[("Pushed Since", &reference, free_port())],
        );
        drop(made);
        let dir = home.path().join("install");
        install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
        let loaded = id_of(&engine, &reference).unwrap();
        engine.docker_ok(&["push", "--quiet", &reference]);
        let digests = engine.docker_ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .RepoDigests}}",
            &reference,
        ]);
        let digest_reference: Vec<String> = serde_json::from_str(&digests).unwrap();
        let [digest_reference] = digest_reference.as_slice() else {
            panic!(
                "{}: one digest reference after the push: {digests}",
                engine.name
            );
        };

        let uninstalled =
            run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
        assert!(
            uninstalled.stderr.contains(&format!(
                "Kept image {reference}: it is named `{digest_reference}` too, not by this tool"
            )),
            "{}: {}",
            engine.name,
            uninstalled.stderr
        );
        assert_eq!(
            id_of(&engine, digest_reference).as_ref(),
            Some(&loaded),
            "{}",
            engine.name
        );
        assert_eq!(id_of(&engine, &reference), Some(loaded), "{}", engine.name);
        assert!(!dir.join("images.json").exists(), "{}", engine.name);
        let _ = engine.docker().args(["rmi", &reference]).output();
    }
}

/// A run that took the tag of the user's image is killed; the user then
/// points the tag at a new image of theirs (a pull, a load): the take-back
/// leaves the tag where the user put it, keeps the user's first image and
/// removes the package's.
fn a_take_back_leaves_a_tag_the_user_pointed_elsewhere_since() {
    for engine in engines::require_available() {
        let home = tempfile::tempdir().unwrap();
        let tag = Tag::new(&engine, "moved-since", 50_000);
        let (reference, kept) = (tag.reference.clone(), tag.kept.clone());
        let made = images::load(&engine, &[tag.image(540)]);
        let package = make_package(
            &engine,
            home.path(),
            "moved.zip",
            &[("Moved Since", &reference, free_port())],
        );
        drop(made);
        let _first = images::load(&engine, &[tag.image(542)]);
        let first = id_of(&engine, &reference).unwrap();
        let dir = home.path().join("install");
        let killed = run(tool(home.path(), &engine, &dir)
            .env("BUDGETGUARD_TEST_FAULT", "configure_nodes:kill")
            .args(["install-package", "--no-start", "--package"])
            .arg(&package));
        assert_ne!(killed.code, 0, "{}: {}", engine.name, killed.stderr);
        // (On the containerd store the tool's load may give the image
        // another ID than the one it was made from had.)
        let package_image = id_of(&engine, &reference).unwrap();
        assert_ne!(package_image, first, "{}: {}", engine.name, killed.stderr);
        assert_eq!(
            id_of(&engine, &kept).as_ref(),
            Some(&first),
            "{}",
            engine.name
        );

        let _second = images::load(&engine, &[tag.image(544)]);
        let second = id_of(&engine, &reference).unwrap();
        let taken_back =
            run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
        assert!(
            taken_back.stderr.contains("Took back the unfinished"),
            "{}: {}",
            engine.name,
            taken_back.stderr
        );
        assert_eq!(
            id_of(&engine, &reference),
            Some(second),
            "{}: the user's new image keeps the tag",
            engine.name
        );
        assert_eq!(
            id_of(&engine, &first).as_ref(),
            Some(&first),
            "{}: the user's first image stays",
            engine.name
        );
        assert_eq!(
            id_of(&engine, &package_image),
            None,
            "{}: the package's image is gone",
            engine.name
        );
    }
}

/// Two install folders on one engine (two users, say): a node installed
/// from one is refused by the other before any change, so that neither
/// Compose nor a rollback there takes over or removes the first one's
/// container.
fn a_node_of_another_install_folder_is_never_taken_over() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "two-folders");
    let _cleanup = ImageGuard::new(&engine, references);
    let first = home.path().join("first");
    install(home.path(), &engine.host, &first, &package, &[]).success();
    let container =
        |name: &str| engine.docker_ok(&["inspect", "-f", "{{.Id}} {{.State.Status}}", name]);
    let before = [
        container("budgetguard-two-folders-first"),
        container("budgetguard-two-folders-second"),
    ];

    let second = home.path().join("second");
    let error = error_text(&install(home.path(), &engine.host, &second, &package, &[]));
    assert!(
        error.contains(&format!(
            "container `budgetguard-two-folders-first` exists already, made from `{}`, another install folder",
            first.join("compose/two-folders-first").display()
        )),
        "{error}"
    );
    assert!(!second.exists(), "nothing written: {error}");
    assert_eq!(
        [
            container("budgetguard-two-folders-first"),
            container("budgetguard-two-folders-second")
        ],
        before,
        "the first folder's containers are untouched"
    );
    // The first folder itself installs again, and uninstalls.
    install(home.path(), &engine.host, &first, &package, &[]).success();
    run(tool(home.path(), &engine, &first).args(["uninstall", "--all"])).success();
}

/// Two packages give one tag different images, for nodes of their own: the
/// second is refused in another install folder while the first folder's
/// node runs the image (that node would switch to the second's image at
/// its next start), before any change; in the first folder it installs,
/// and in the second once the first folder is deleted.
fn a_tag_whose_image_a_node_of_another_folder_runs_is_never_moved() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let tag = Tag::new(&engine, "shared-tag", 40_000);
    let reference = tag.reference.clone();
    let [first_package, second_package] =
        [("Shared A", 551), ("Shared B", 553)].map(|(node, seed)| {
            let _made = images::load(&engine, &[tag.image(seed)]);
            let package = make_package(
                &engine,
                home.path(),
                &format!("{seed}.zip"),
                &[(node, &reference, free_port())],
            );
            engine.docker_ok(&["rmi", &reference]);
            package
        });
    let install_stopped = |dir: &Path, package: &Path| {
        install(home.path(), &engine.host, dir, package, &["--no-start"]).success();
    };
    let first = home.path().join("first");
    install_stopped(&first, &first_package);
    let first_image = id_of(&engine, &reference).unwrap();

    let second = home.path().join("second");
    let before = engine_state(&engine);
    let error = error_text(&install(
        home.path(),
        &engine.host,
        &second,
        &second_package,
        &[],
    ));
    assert!(
        error.contains(&format!(
            "the package gives `{reference}` another image, but `{reference}` names the image that container `budgetguard-shared-a` of another install folder (`{}`) runs",
            first.join("compose/shared-a").display()
        )),
        "{error}"
    );
    assert_untouched(
        &engine,
        &before,
        &package_traces(&second_package),
        "tag of another folder",
    );
    assert!(!second.join("endpoints.json").exists());
    assert_eq!(id_of(&engine, &reference), Some(first_image));

    // The first folder's own nodes may move it.
    install_stopped(&first, &second_package);
    run(tool(home.path(), &engine, &first).args(["uninstall", "--all"])).success();
    assert_eq!(id_of(&engine, &reference), None);

    // A node left by a deleted folder is made anew no more: it holds
    // nothing back.
    install_stopped(&first, &first_package);
    let first_image = id_of(&engine, &reference).unwrap();
    std::fs::remove_dir_all(&first).unwrap();
    install_stopped(&second, &second_package);
    assert_ne!(id_of(&engine, &reference), Some(first_image.clone()));
    run(tool(home.path(), &engine, &second).args(["uninstall", "--all"])).success();
    engine.docker_ok(&["rm", "-f", "budgetguard-shared-a"]);
    engine.docker_ok(&["network", "rm", "budgetguard-shared-a_default"]);
    engine.docker_ok(&["volume", "rm", "budgetguard-shared-a.owner"]);
    let _ = engine.docker().args(["rmi", &first_image]).output();
}

/// `uninstall` works on the Compose file and project the node's settings
/// give in the install folder: a path in an edited `endpoints.json` is
/// neither run by Compose nor deleted.
fn uninstall_removes_the_files_the_folder_gives_not_those_a_state_file_names() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "state-paths");
    let _cleanup = ImageGuard::new(&engine, references);
    let dir = home.path().join("install");
    install(home.path(), &engine.host, &dir, &package, &[]).success();
    let victim = home.path().join("victim.yml");
    std::fs::write(&victim, "the user's own file\n").unwrap();
    let endpoints = dir.join("endpoints.json");
    let mut state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&endpoints).unwrap()).unwrap();
    for node in state["nodes"].as_array_mut().unwrap() {
        node["compose_file"] = victim.to_str().unwrap().into();
    }
    std::fs::write(&endpoints, state.to_string()).unwrap();

    run(tool(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
    assert_eq!(
        std::fs::read_to_string(&victim).unwrap(),
        "the user's own file\n"
    );
    assert!(!dir
        .join("compose/state-paths-first/docker-compose.yml")
        .exists());
    let left = engine.docker_ok(&[
        "container",
        "ls",
        "-a",
        "-q",
        "--filter",
        "name=state-paths",
    ]);
    assert!(left.trim().is_empty(), "containers stayed: {left}");
}

/// `endpoints.json` or `journal.json` naming a path where a model cache's
/// name belongs (written by hand, or by something else): no command works
/// on that path; each says which file is wrong.
fn state_files_that_name_a_path_as_a_model_cache_are_refused() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (package, references) = two_image_package(&engine, home.path(), "cache-paths");
    let _cleanup = ImageGuard::new(&engine, references);
    let dir = home.path().join("install");
    install(home.path(), &engine.host, &dir, &package, &["--no-start"]).success();
    let victim = home.path().join("victim");
    std::fs::create_dir_all(&victim).unwrap();
    std::fs::write(victim.join("own.txt"), "the user's own file\n").unwrap();
    let path_as_cache = serde_json::json!({
        "cache": victim.to_str().unwrap(),
        "fill": ["download-to-cache", "{profiles}"],
    });
    let uninstall = || {
        let mut command = tool(home.path(), &engine, &dir);
        command.args(["uninstall", "--all", "--purge-cache"]);
        command
    };
    let refused = |file: &Path, ran: &Run| {
        let said = format!(
            "`{}` is not valid (`{}` is not a model cache name)",
            file.display(),
            victim.display()
        );
        assert!(
            ran.code != 0 && ran.stderr.contains(&said),
            "{}",
            ran.stderr
        );
        assert!(
            victim.join("own.txt").exists(),
            "{}: the folder went",
            file.display()
        );
    };

    let endpoints = dir.join("endpoints.json");
    let good = std::fs::read_to_string(&endpoints).unwrap();
    let mut state: serde_json::Value = serde_json::from_str(&good).unwrap();
    for node in state["nodes"].as_array_mut().unwrap() {
        node["offline"] = true.into();
        node["node"]["model"] = path_as_cache.clone();
    }
    std::fs::write(&endpoints, state.to_string()).unwrap();
    refused(&endpoints, &run(&mut uninstall()));
    std::fs::write(&endpoints, good).unwrap();

    let journal = dir.join("journal.json");
    let forged = serde_json::json!({
        "command": "install-package",
        "pid": 1,
        "started_at": "2026-01-01T00:00:00Z",
        "engine": engine.host,
        "committed": true,
        "steps": [{"step": "switch_cache", "cache": victim.to_str().unwrap(), "staged": [1, 2]}],
    });
    std::fs::write(&journal, forged.to_string()).unwrap();
    refused(&journal, &run(&mut uninstall()));
    std::fs::remove_file(&journal).unwrap();

    run(&mut uninstall()).success();
}
