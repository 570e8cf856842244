//! Upgrades that never lose a working node: every change on a workstation
//! is one journaled transaction. An upgrade that fails, or is killed at any
//! step boundary (the `BUDGETGUARD_TEST_FAULT` hook) or half-way through
//! its model files, leaves the running version byte for byte as it was and
//! serving; the next run takes it back and completes; an uninstall after
//! any of it leaves the engine and the folder as they were before the first
//! install; and the images of every earlier version are removed once no
//! installed version uses them.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use sha2::{Digest, Sha256};
use testkit::engines::TestEngine;
use testkit::images::{unique_reference, ImageGuard};
use testkit::registry::{no_registry, TestRegistry};

use crate::install_errors::{error_text, flip_byte};
use crate::models::{answers, create, installer, model_catalog, model_fixture, techops};
use crate::repack::Repack;
use crate::support::*;

testkit::tests![
    a_failed_or_killed_upgrade_leaves_the_running_version_serving_as_it_was,
    a_fault_at_any_step_is_taken_back_and_a_rerun_or_uninstall_ends_clean,
    a_fault_at_a_later_caches_switch_takes_back_the_ones_switched_before,
    every_earlier_versions_image_goes_and_the_users_own_stays,
    a_take_back_that_fails_keeps_its_journal_for_the_next_run,
    a_deploy_that_pulls_is_taken_back_at_any_step,
    a_killed_deploys_pull_never_takes_an_image_the_user_put_there_since,
];

/// Every file, link and folder below `dir` (none when it does not exist)
/// with its content's SHA-256 (a link: its target; a folder: `folder`) and
/// mode.
pub(crate) fn contents(dir: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(folder) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&folder) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let relative = path.strip_prefix(dir).unwrap().to_owned();
            let what = if meta.is_dir() {
                stack.push(path.clone());
                "folder".to_owned()
            } else if meta.file_type().is_symlink() {
                std::fs::read_link(&path).unwrap().display().to_string()
            } else {
                hex::encode(Sha256::digest(std::fs::read(&path).unwrap()))
            };
            found.insert(relative, (what, meta.mode()));
        }
    }
    found
}

/// What is left in an install folder (nothing when it is gone).
fn left(dir: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    contents(dir)
}

/// `v1` with a model file changed at the same path (the profile record,
/// still valid JSON) and a new file of `extra` bytes in each of its caches:
/// the next version. Gives the new file's entry.
fn next_version(v1: &Path, to: &Path, extra: usize) -> String {
    let mut repack = Repack::open(v1);
    let data: Vec<u8> = (0..extra).map(|i| (i * 7 % 251) as u8).collect();
    let sha = hex::encode(Sha256::digest(&data));
    let extra_entry = format!("models/blobs/sha256/{sha}");
    let caches = repack.manifest["caches"].as_array().unwrap().len();
    let mut replaced = Vec::new();
    for cache in 0..caches {
        let files = repack.manifest["caches"][cache]["files"]
            .as_array_mut()
            .unwrap();
        let profile = files
            .iter_mut()
            .find(|f| f["path"].as_str().unwrap().ends_with(".json"))
            .expect("a profile record");
        let old = format!(
            "models/blobs/sha256/{}",
            profile["sha256"].as_str().unwrap()
        );
        let mut changed = repack.entries[&old].clone();
        changed.extend_from_slice(b"\n\n");
        let changed_sha = hex::encode(Sha256::digest(&changed));
        profile["sha256"] = changed_sha.clone().into();
        profile["size"] = changed.len().into();
        files.push(serde_json::json!({
            "path": "extra/next-version.bin", "size": data.len(), "mode": 0o644, "sha256": sha,
        }));
        repack.manifest["caches"][cache]["dirs"]
            .as_array_mut()
            .unwrap()
            .push("extra".into());
        repack
            .entries
            .insert(format!("models/blobs/sha256/{changed_sha}"), changed);
        replaced.push(old);
    }
    repack.entries.insert(extra_entry.clone(), data);
    for old in replaced {
        if !files_use(&repack, &old) {
            repack.entries.remove(&old);
        }
    }
    repack.write(to);
    extra_entry
}

/// Whether a file of the package's caches still has the content `entry`.
fn files_use(repack: &Repack, entry: &str) -> bool {
    repack.manifest["caches"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|cache| cache["files"].as_array().unwrap())
        .any(|f| entry.ends_with(f["sha256"].as_str().unwrap()))
}

/// The files a package's cache number `cache` lists, by path, with their
/// SHA-256.
fn listed(package: &Path, cache: usize) -> BTreeMap<PathBuf, String> {
    manifest_of(package)["caches"][cache]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                PathBuf::from(f["path"].as_str().unwrap()),
                f["sha256"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// The files of `contents` with their hashes only.
fn files_of(contents: &BTreeMap<PathBuf, (String, u32)>) -> BTreeMap<PathBuf, String> {
    contents
        .iter()
        .filter(|(_, (what, _))| what.len() == 64)
        .map(|(path, (what, _))| (path.clone(), what.clone()))
        .collect()
}

fn a_failed_or_killed_upgrade_leaves_the_running_version_serving_as_it_was() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("upgrade", 4 << 20);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-upgrade-demo");
    let port = free_port();
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[("Upgrade Demo", port, "base")],
    );
    let v1 = home.path().join("v1.zip");
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Upgrade Demo",
        &v1,
        &[],
    )
    .success();
    drop(server);
    let v2 = home.path().join("v2.zip");
    let extra = next_version(&v1, &v2, 96 << 20);
    let damaged = home.path().join("v2-damaged.zip");
    flip_byte(&v2, &damaged, &extra, 50 << 20);

    let dir = home.path().join("install");
    let tool = || installer(home.path(), &engine, &dir);
    run(tool()
        .args(["install-package", "--start", "--wait", "120", "--package"])
        .arg(&v1))
    .success();
    assert!(answers(port), "v1 serves");
    let live = dir.join("models").join(&cache);
    let v1_files = contents(&live);

    // What an install of v2 writes here (what the GUI's free-space check
    // asks of the folder): its changed files only, v1's others are linked.
    let package = budgetguard::package::Package::open(&v2).unwrap();
    let in_v1 = listed(&v1, 0);
    let files = &package.manifest().caches[0].files;
    let changed: u64 = files
        .iter()
        .filter(|f| in_v1.get(Path::new(&f.path)) != Some(&f.sha256))
        .map(|f| f.size)
        .sum();
    let whole: u64 = files.iter().map(|f| f.size).sum();
    let installed = budgetguard::install::InstallDir::new(dir.clone());
    let to_write = budgetguard::install::model_bytes_to_write(&installed, &package).unwrap();
    assert_eq!(to_write, changed, "of {whole} bytes of models");
    assert!(
        changed >= 96 << 20 && changed < whole,
        "{changed} of {whole}"
    );

    // v2's last model file is damaged: refused, v1 exactly as it was.
    let refused = run(tool().args(["install-package", "--package"]).arg(&damaged));
    let error = error_text(&refused);
    assert!(error.contains("does not match its"), "{error}");
    assert_eq!(contents(&live), v1_files, "v1's files after a damaged v2");
    assert!(answers(port), "v1 serves after a damaged v2");
    assert!(!dir.join("journal.json").exists());
    assert_eq!(
        files_in(&dir.join("models")),
        [cache.clone(), format!("{cache}.files")],
        "nothing staged is left of a damaged package"
    );

    // SIGKILL half-way through v2's model files: v1 as it was, serving.
    let staged_log = dir.join("models/.staging").join(format!("{cache}.files"));
    let mut child = tool()
        .args(["install-package", "--package"])
        .arg(&v2)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = std::time::Instant::now();
    while std::fs::metadata(&staged_log).map_or(0, |m| m.len()) == 0 {
        assert!(started.elapsed().as_secs() < 120, "nothing was staged");
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert!(answers(port), "v1 serves during the upgrade");
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(contents(&live), v1_files, "v1's files after a kill");
    assert!(answers(port), "v1 serves after a kill");
    let status = run(tool().arg("status")).success();
    assert!(
        status.stderr.contains("`install-package` run of")
            && status.stderr.contains("has not finished"),
        "{}",
        status.stderr
    );

    // The next run takes the killed one back, then upgrades: the cache is
    // exactly v2's, with v1's other file content gone.
    let upgraded = run(tool()
        .args(["install-package", "--start", "--wait", "120", "--package"])
        .arg(&v2))
    .success();
    assert!(
        upgraded
            .stderr
            .contains("Took back the unfinished `install-package` run"),
        "{}",
        upgraded.stderr
    );
    assert_eq!(files_of(&contents(&live)), listed(&v2, 0));
    assert!(answers(port), "v2 serves");
    assert!(!dir.join("models/.staging").exists());
    assert!(!dir.join("journal.json").exists());

    // status --verify finds a flipped byte in a model file.
    run(tool().args(["status", "--verify"])).success();
    let victim = live.join("extra/next-version.bin");
    let mut bytes = std::fs::read(&victim).unwrap();
    bytes[7] ^= 1;
    std::fs::write(&victim, bytes).unwrap();
    let verified = run(tool().args(["status", "--verify"]));
    assert_eq!(verified.code, 1, "{}", verified.stderr);
    assert!(
        verified
            .stdout
            .contains("model file `extra/next-version.bin`")
            && verified.stdout.contains("changed since install"),
        "{}",
        verified.stdout
    );
    // And an image removed behind its back (the tag taken off; the running
    // container keeps the image itself).
    engine.docker_ok(&["rmi", "-f", &demo]);
    let verified = run(tool().args(["status", "--verify"]));
    assert_eq!(verified.code, 1, "{}", verified.stderr);
    assert!(
        verified
            .stdout
            .contains(&format!("image `{demo}` is missing")),
        "{}",
        verified.stdout
    );
    run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
    assert_eq!(left(&dir), BTreeMap::new(), "nothing left");
}

/// The step boundaries an install passes (`BUDGETGUARD_TEST_FAULT`; a
/// claim only on a first install), the switch first: a sample always
/// kills there.
const INSTALL_STEPS: [&str; 8] = [
    "switch_cache",
    "claim",
    "load_images",
    "stage_cache",
    "configure_nodes",
    "state_files",
    "commit",
    "cleanup",
];

/// The step boundaries of an upgrade whose switch takes three renames (no
/// RENAME_EXCHANGE), the ones between them first: a sample always kills
/// there.
const NO_EXCHANGE_STEPS: [&str; 6] = [
    "cache_parked",
    "cache_moved",
    "log_parked",
    "log_moved",
    "switch_cache",
    "configure_nodes",
];

/// The step boundaries of the second of two caches an upgrade switches
/// (`STEP#2`: the second time the run reaches `STEP`), one between the
/// renames of a switch without RENAME_EXCHANGE first: a sample always
/// kills there.
const SECOND_CACHE_STEPS: [&str; 6] = [
    "cache_moved#2",
    "switch_cache#2",
    "stage_cache#2",
    "cache_parked#2",
    "log_parked#2",
    "log_moved#2",
];

/// The step boundaries an update package passes whose models do not change.
const UPDATE_STEPS: [&str; 5] = [
    "load_images",
    "configure_nodes",
    "state_files",
    "commit",
    "cleanup",
];

/// The step boundaries a deploy passes (its image is present: no pull).
const DEPLOY_STEPS: [&str; 5] = [
    "claim",
    "configure_nodes",
    "commit",
    "state_files",
    "cleanup",
];

/// The step boundaries a deploy passes whose image is pulled, the pull's
/// end first: a sample always kills there.
const DEPLOY_PULL_STEPS: [&str; 8] = [
    "pulled",
    "pull_done",
    "claim",
    "pull",
    "configure_nodes",
    "state_files",
    "commit",
    "cleanup",
];

/// The undos of the take-back of an upgrade killed before its commit
/// (`take_back#N`: before the `N`th of its five).
const TAKE_BACK_STEPS: [&str; 5] = [
    "take_back#1",
    "take_back#2",
    "take_back#3",
    "take_back#4",
    "take_back#5",
];

/// The undos of the take-back of a first install killed before its
/// commit (`take_back#N`: before the `N`th of its six).
const FIRST_TAKE_BACK_STEPS: [&str; 6] = [
    "take_back#1",
    "take_back#2",
    "take_back#3",
    "take_back#4",
    "take_back#5",
    "take_back#6",
];

/// The step boundaries an uninstall passes.
const UNINSTALL_STEPS: [&str; 3] = ["uninstall", "commit", "cleanup"];

/// The faults this run tries at `steps`, each as its step, whether it
/// kills, and its `BUDGETGUARD_TEST_FAULT` value: every step, failing and
/// killed, with `BUDGETGUARD_FAULT_SWEEP=all` (`scripts/fault-sweep`);
/// otherwise a sample of three that changes from day to day, and always a
/// kill at the first step.
fn faults(steps: &[&'static str]) -> Vec<(&'static str, bool, String)> {
    let value = |(step, kill): (&'static str, bool)| {
        let fault = if kill {
            format!("{step}:kill")
        } else {
            step.to_owned()
        };
        (step, kill, fault)
    };
    let all: Vec<(&str, bool)> = steps
        .iter()
        .flat_map(|step| [(*step, false), (*step, true)])
        .collect();
    if std::env::var("BUDGETGUARD_FAULT_SWEEP").as_deref() == Ok("all") {
        return all.into_iter().map(value).collect();
    }
    let day = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 86_400;
    let mut sample = vec![(steps[0], true)];
    for i in 0..3 {
        let fault = all[(day as usize * 3 + i * 5) % all.len()];
        if !sample.contains(&fault) {
            sample.push(fault);
        }
    }
    sample.into_iter().map(value).collect()
}

/// Whether the engine has the image `id` (under any name, or none).
fn has_image(engine: &TestEngine, id: &str) -> bool {
    engine.image_ids().iter().any(|line| line.starts_with(id))
}

/// The engine's images as `ID tag…` lines, of the references `wanted`.
fn tags_of(engine: &TestEngine, wanted: &[&str]) -> Vec<String> {
    wanted
        .iter()
        .map(|reference| {
            let out = engine
                .docker()
                .args(["image", "inspect", "--format", "{{.Id}}", reference])
                .output()
                .unwrap();
            format!(
                "{reference} {}",
                String::from_utf8_lossy(&out.stdout).trim()
            )
        })
        .collect()
}

/// What a clean state of an install folder is: its files by content, the
/// install times in `endpoints.json` aside.
fn folder_state(dir: &Path) -> BTreeMap<PathBuf, (String, u32)> {
    let mut state = contents(dir);
    if let Ok(text) = std::fs::read_to_string(dir.join("endpoints.json")) {
        let mut endpoints: serde_json::Value = serde_json::from_str(&text).unwrap();
        for node in endpoints["nodes"].as_array_mut().unwrap() {
            node["installed_at"] = serde_json::Value::Null;
        }
        let hash = hex::encode(Sha256::digest(endpoints.to_string()));
        state.get_mut(Path::new("endpoints.json")).unwrap().0 = hash;
    }
    // The logs record inodes and times, which differ from run to run.
    state.retain(|path, _| path.extension().is_none_or(|e| e != "files"));
    state
}

fn a_fault_at_any_step_is_taken_back_and_a_rerun_or_uninstall_ends_clean() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("faults", 2 << 20);
    let _leftovers = [
        NodeLeftovers::new(&engine, "budgetguard-fault-demo"),
        NodeLeftovers::new(&engine, "budgetguard-fault-deploy"),
    ];
    // An image of the package's own, so that the install loads it.
    let image = unique_reference("faults-image");
    build_label(&engine, &demo, &image, "1");
    let _guard = ImageGuard::new(&engine, vec![image.clone()]);
    let port = free_port();
    let catalog = model_catalog(home.path(), &image, &cache, &[("Fault Demo", port, "base")]);
    let v1 = home.path().join("v1.zip");
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Fault Demo",
        &v1,
        &[],
    )
    .success();
    drop(server);
    let v2 = home.path().join("v2.zip");
    next_version(&v1, &v2, 3 << 20);
    let image_id = engine
        .docker_ok(&["image", "inspect", "--format", "{{.Id}}", &image])
        .trim()
        .to_owned();
    engine.docker_ok(&["rmi", &image]);
    let kept = format!("{image}-before-budgetguard");
    let refs = [image.as_str(), kept.as_str()];
    // Other tests change the engine at the same time: only what this
    // test's image and tags are is compared.
    // The node's container too: its image and state, or none.
    let container = || {
        let out = engine
            .docker()
            .args([
                "inspect",
                "-f",
                "{{.Image}} {{.State.Status}}",
                "budgetguard-fault-demo",
            ])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    };
    let images = || {
        (
            has_image(&engine, &image_id),
            tags_of(&engine, &refs),
            container(),
        )
    };
    let engine_before = images();

    let dir = home.path().join("install");
    let tool = || installer(home.path(), &engine, &dir);
    let state = || (folder_state(&dir), images());
    // What a clean install of each version gives.
    let clean = |package: &Path| {
        run(tool().args(["install-package", "--package"]).arg(package)).success();
        let clean = state();
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        clean
    };
    let clean_v1 = clean(&v1);
    let clean_v2 = clean(&v2);
    assert_eq!(
        images(),
        engine_before,
        "a clean install and uninstall leave the engine as it was"
    );
    // An upgrade stopped at `step`: v1 as it was (or, stopped after its
    // commit, v2); then the rerun gives a clean install of v2.
    // `no_exchange`: every run switches without RENAME_EXCHANGE.
    let upgrade_stopped = |step: &str, kill: bool, fault: &str, no_exchange: bool| {
        let tool = || {
            let mut command = tool();
            if no_exchange {
                command.env("BUDGETGUARD_TEST_NO_EXCHANGE", "1");
            }
            command
        };
        run(tool().args(["install-package", "--package"]).arg(&v1)).success();
        let stopped = run(tool()
            .env("BUDGETGUARD_TEST_FAULT", fault)
            .args(["install-package", "--package"])
            .arg(&v2));
        assert_ne!(stopped.code, 0, "{fault}: {}", stopped.stderr);
        // Stopped before the switch, or taken back by the run itself: v1
        // byte for byte; after its commit: v2. (Killed in or after the
        // switch, the next run takes it back first.)
        let live = files_of(&contents(&dir.join("models").join(&cache)));
        let switched = !INSTALL_STEPS.contains(&step)
            || ["configure_nodes", "state_files", "commit"].contains(&step);
        if step == "cleanup" {
            assert_eq!(live, listed(&v2, 0), "{fault}: the live cache");
        } else if !(kill && switched) {
            assert_eq!(live, listed(&v1, 0), "{fault}: the live cache");
        }
        let rerun = run(tool().args(["install-package", "--package"]).arg(&v2)).success();
        if kill && step != "cleanup" {
            assert!(
                rerun
                    .stderr
                    .contains("Took back the unfinished `install-package` run"),
                "{fault}: {}",
                rerun.stderr
            );
        }
        assert_eq!(state(), clean_v2, "{fault}: rerun of the upgrade");
        // And back to v1 the same way.
        run(tool().args(["install-package", "--package"]).arg(&v1)).success();
        assert_eq!(state(), clean_v1, "{fault}: v1 again");
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(left(&dir), BTreeMap::new(), "{fault}: left");
    };
    for (step, kill, fault) in faults(&INSTALL_STEPS) {
        // A first install stopped there, then uninstalled: as before.
        let stopped = run(tool()
            .env("BUDGETGUARD_TEST_FAULT", &fault)
            .args(["install-package", "--package"])
            .arg(&v1));
        assert_ne!(stopped.code, 0, "{fault}: {}", stopped.stderr);
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(left(&dir), BTreeMap::new(), "{fault}: left");
        assert_eq!(
            images(),
            engine_before,
            "{fault}: first install, then uninstall"
        );

        if step != "claim" {
            // (An upgrade holds its node's claim already: it makes none.)
            upgrade_stopped(step, kill, &fault, false);
        }
    }
    // The same where the file system has no RENAME_EXCHANGE: stopped
    // between the renames of the switch, too.
    for (step, kill, fault) in faults(&NO_EXCHANGE_STEPS) {
        upgrade_stopped(step, kill, &fault, true);
    }
    // An upgrade there killed once its live log was parked, then the next
    // run stopped while taking that back, between the link and the unlink
    // that move the parked log back (one file under both names): the run
    // after completes that move, takes the upgrade back and upgrades.
    for (_, _, fault) in faults(&["moved_linked"]) {
        let tool = || {
            let mut command = tool();
            command.env("BUDGETGUARD_TEST_NO_EXCHANGE", "1");
            command
        };
        run(tool().args(["install-package", "--package"]).arg(&v1)).success();
        for fault in ["log_parked:kill", fault.as_str()] {
            let stopped = run(tool()
                .env("BUDGETGUARD_TEST_FAULT", fault)
                .args(["install-package", "--package"])
                .arg(&v2));
            assert_ne!(stopped.code, 0, "{fault}: {}", stopped.stderr);
        }
        run(tool().args(["install-package", "--package"]).arg(&v2)).success();
        assert_eq!(state(), clean_v2, "{fault}: the upgrade after");
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(left(&dir), BTreeMap::new(), "{fault}: left");
    }

    // A take-back stopped before one of its undos, failing or killed: the
    // next run's take-back of a killed upgrade, and a failed upgrade's own.
    // The run after takes back what is left (undoing again what was
    // undone) and upgrades.
    for (_, _, fault) in faults(&TAKE_BACK_STEPS) {
        for stops in [
            vec!["commit:kill".to_owned(), fault.clone()],
            vec![format!("commit,{fault}")],
        ] {
            run(tool().args(["install-package", "--package"]).arg(&v1)).success();
            for stop in &stops {
                let stopped = run(tool()
                    .env("BUDGETGUARD_TEST_FAULT", stop)
                    .args(["install-package", "--package"])
                    .arg(&v2));
                assert_ne!(stopped.code, 0, "{stop}: {}", stopped.stderr);
            }
            // The take-back was stopped there: its journal is left.
            let last = stops.last().unwrap();
            let status = run(tool().arg("status"));
            assert!(
                status.stderr.contains("has not finished"),
                "{last}: the take-back was not stopped: {}",
                status.stderr
            );
            let rerun = run(tool().args(["install-package", "--package"]).arg(&v2)).success();
            assert!(
                rerun
                    .stderr
                    .contains("Took back the unfinished `install-package` run"),
                "{last}: {}",
                rerun.stderr
            );
            assert_eq!(state(), clean_v2, "{last}: the upgrade after");
            run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
            assert_eq!(left(&dir), BTreeMap::new(), "{last}: left");
        }
    }

    // A first install killed before its commit, then the uninstall that
    // takes it back stopped before one of its undos: the next uninstall
    // takes back the rest, the image the install loaded and its claim
    // too, and gives back the engine and folder as they were.
    for (_, _, fault) in faults(&FIRST_TAKE_BACK_STEPS) {
        let stopped = run(tool()
            .env("BUDGETGUARD_TEST_FAULT", "commit:kill")
            .args(["install-package", "--package"])
            .arg(&v1));
        assert_ne!(stopped.code, 0, "first install: {}", stopped.stderr);
        let uninstall = || {
            let mut command = tool();
            command.args(["uninstall", "--all", "--purge-cache"]);
            command
        };
        let stopped = run(uninstall().env("BUDGETGUARD_TEST_FAULT", &fault));
        assert_ne!(stopped.code, 0, "uninstall {fault}: {}", stopped.stderr);
        let status = run(tool().arg("status"));
        assert!(
            status.stderr.contains("has not finished"),
            "uninstall {fault}: the take-back was not stopped: {}",
            status.stderr
        );
        run(&mut uninstall()).success();
        assert_eq!(left(&dir), BTreeMap::new(), "uninstall {fault}: left");
        assert_eq!(images(), engine_before, "uninstall {fault}: the engine");
    }

    // A deploy stopped at each of its steps: taken back (or, after its
    // commit, uninstalled) to nothing; a rerun deploys.
    build_label(&engine, &demo, &image, "1");
    let deploy_folder = home.path().join("deploy");
    std::fs::create_dir_all(&deploy_folder).unwrap();
    let deploy_catalog = write_catalog(&deploy_folder, &[("Fault Deploy", &image, free_port())]);
    let deploy = || {
        let mut command = tool();
        command
            .args(["deploy-local", "--nodes", "Fault Deploy", "--catalog"])
            .arg(&deploy_catalog);
        command
    };
    for (_, _, fault) in faults(&DEPLOY_STEPS) {
        let stopped = run(deploy().env("BUDGETGUARD_TEST_FAULT", &fault));
        assert_ne!(stopped.code, 0, "deploy {fault}: {}", stopped.stderr);
        // (A deployed node's own cache folder stays without --purge-cache.)
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(left(&dir), BTreeMap::new(), "deploy {fault}: left");
        run(&mut deploy()).success();
        run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(
            left(&dir),
            BTreeMap::new(),
            "deploy {fault}, then again: left"
        );
    }
    engine.docker_ok(&["rmi", &image]);

    // An uninstall stopped at each of its steps is finished by the next.
    for (_, kill, fault) in faults(&UNINSTALL_STEPS) {
        run(tool().args(["install-package", "--package"]).arg(&v1)).success();
        let stopped = run(tool().env("BUDGETGUARD_TEST_FAULT", &fault).args([
            "uninstall",
            "--all",
            "--purge-cache",
        ]));
        assert_ne!(stopped.code, 0, "uninstall {fault}: {}", stopped.stderr);
        if kill {
            let status = run(tool().arg("status")).success();
            assert!(
                status.stderr.contains("has not finished"),
                "uninstall {fault}: {}",
                status.stderr
            );
        }
        let again = run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
        if kill {
            assert!(
                again
                    .stderr
                    .contains("Finished the unfinished `uninstall` run"),
                "uninstall {fault}: {}",
                again.stderr
            );
        }
        assert_eq!(left(&dir), BTreeMap::new(), "uninstall {fault}: left");
        assert_eq!(images(), engine_before, "uninstall {fault}: finished");
    }
}

/// Builds `reference` from `base` with a label of `version` and one of
/// `reference` itself: an image of its own ID, which no other test's build
/// shares (the builder's cache gives two builds of one base with the same
/// labels one image, whose removal by one test then only untags it).
fn build_label(engine: &TestEngine, base: &str, reference: &str, version: &str) {
    let mut child = engine
        .docker()
        .args(["build", "-q", "-t", reference, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    write!(
        child.stdin.take().unwrap(),
        "FROM {base}\nLABEL com.budgetguard.test.version=\"{version}\" com.budgetguard.test.reference=\"{reference}\"\n"
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn a_fault_at_a_later_caches_switch_takes_back_the_ones_switched_before() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("caches", 1 << 20);
    // Two nodes, each with a cache of its own.
    let other = format!("{cache}-two");
    let catalog = model_catalog(
        home.path(),
        &demo,
        &cache,
        &[
            ("Cache One", free_port(), "base"),
            ("Cache Two", free_port(), "base"),
        ],
    );
    let mut nodes: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&catalog).unwrap()).unwrap();
    nodes["nodes"][1]["model"]["cache"] = other.clone().into();
    std::fs::write(&catalog, nodes.to_string()).unwrap();
    let v1 = home.path().join("v1.zip");
    create(
        &mut techops(home.path(), &engine, &server),
        &catalog,
        "Cache One,Cache Two",
        &v1,
        &[],
    )
    .success();
    drop(server);
    let v2 = home.path().join("v2.zip");
    next_version(&v1, &v2, 1 << 20);
    let dir = home.path().join("install");
    let tool = |no_exchange: bool| {
        let mut command = installer(home.path(), &engine, &dir);
        if no_exchange {
            command.env("BUDGETGUARD_TEST_NO_EXCHANGE", "1");
        }
        command
    };
    let install = |package: &Path, no_exchange: bool| {
        run(tool(no_exchange)
            .args(["install-package", "--package"])
            .arg(package))
        .success();
    };
    // The live files of both caches, by the package's order of caches.
    let names: Vec<String> = manifest_of(&v1)["caches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "two caches: {names:?}");
    let live = || {
        names
            .iter()
            .map(|name| files_of(&contents(&dir.join("models").join(name))))
            .collect::<Vec<_>>()
    };
    let version = |package: &Path| vec![listed(package, 0), listed(package, 1)];
    install(&v2, false);
    let clean_v2 = folder_state(&dir);
    run(tool(false).args(["uninstall", "--all", "--purge-cache"])).success();

    for (step, kill, fault) in faults(&SECOND_CACHE_STEPS) {
        // The boundaries between renames are met only without the exchange.
        let no_exchange = step.starts_with("cache_") || step.starts_with("log_");
        install(&v1, no_exchange);
        assert_eq!(live(), version(&v1), "{fault}: v1");
        let stopped = run(tool(no_exchange)
            .env("BUDGETGUARD_TEST_FAULT", &fault)
            .args(["install-package", "--package"])
            .arg(&v2));
        assert_ne!(stopped.code, 0, "{fault}: {}", stopped.stderr);
        if !kill {
            // Taken back by the run itself: the first cache, switched
            // already, is v1 again, byte for byte, and so is the second.
            assert_eq!(live(), version(&v1), "{fault}: both caches");
        }
        // A killed run is taken back by the next, which then installs v1
        // again over an unchanged v1.
        install(&v1, no_exchange);
        assert_eq!(live(), version(&v1), "{fault}: v1 after the next run");
        install(&v2, no_exchange);
        assert_eq!(folder_state(&dir), clean_v2, "{fault}: the upgrade's rerun");
        run(tool(false).args(["uninstall", "--all", "--purge-cache"])).success();
        assert_eq!(left(&dir), BTreeMap::new(), "{fault}: left");
    }
}

fn every_earlier_versions_image_goes_and_the_users_own_stays() {
    let (engine, demo, _copy, home, server, cache) = model_fixture("releases", 1 << 20);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-release-demo");
    let port = free_port();
    let references: Vec<String> = (1..=3)
        .map(|v| unique_reference(&format!("release-v{v}")))
        .collect();
    let kept = format!("{}-before-budgetguard", references[0]);
    let mut guarded = references.clone();
    guarded.push(kept.clone());
    let _guard = ImageGuard::new(&engine, guarded);
    let mut packages = Vec::new();
    for (i, reference) in references.iter().enumerate() {
        let version = (i + 1).to_string();
        build_label(&engine, &demo, reference, &version);
        let folder = home.path().join(format!("v{version}"));
        std::fs::create_dir_all(&folder).unwrap();
        let catalog = model_catalog(
            &folder,
            reference,
            &cache,
            &[("Release Demo", port, "base")],
        );
        let package = folder.join("package.zip");
        // v3 is an update package of v2.
        let since: Vec<String> = packages
            .last()
            .filter(|_| i == 2)
            .map(|p: &PathBuf| format!("--since={}", p.display()))
            .into_iter()
            .collect();
        let extra: Vec<&str> = since.iter().map(String::as_str).collect();
        create(
            &mut techops(home.path(), &engine, &server),
            &catalog,
            "Release Demo",
            &package,
            &extra,
        )
        .success();
        packages.push(package);
    }
    drop(server);
    for reference in &references {
        engine.docker_ok(&["rmi", reference]);
    }
    // The user's own image under v1's reference, and under a name of theirs.
    engine.docker_ok(&["tag", &demo, &references[0]]);
    let own = unique_reference("users-own");
    engine.docker_ok(&["tag", &demo, &own]);
    let _own_guard = ImageGuard::new(&engine, vec![own.clone()]);
    let demo_id = engine
        .docker_ok(&["image", "inspect", "--format", "{{.Id}}", &demo])
        .trim()
        .to_owned();

    let dir = home.path().join("install");
    let tool = || installer(home.path(), &engine, &dir);
    // Each version's ID as the engine has it once installed (on the
    // containerd store, the digest of the manifest the package carries).
    let mut ids: Vec<String> = Vec::new();
    let container_image = || {
        engine
            .docker_ok(&[
                "inspect",
                "-f",
                "{{.Image}} {{.State.Status}}",
                "budgetguard-release-demo",
            ])
            .trim()
            .to_owned()
    };
    for (i, package) in packages.iter().enumerate() {
        if i == 1 {
            // An upgrade of the running node taken back after its nodes
            // were made anew: the node runs v1's image again, and v2's is
            // gone.
            let stopped = run(tool()
                .env("BUDGETGUARD_TEST_FAULT", "commit")
                .args(["install-package", "--start", "--wait", "120", "--package"])
                .arg(package));
            assert_ne!(stopped.code, 0, "{}", stopped.stderr);
            assert_eq!(container_image(), format!("{} running", ids[0]));
            assert!(answers(port), "v1 serves again");
        }
        if i == 2 {
            // The update package (v3, `--since` v2) stopped at each step:
            // the rerun gives v3, with v2's image gone; v2 is put back for
            // the next fault by its own (full) package.
            for (_, _, fault) in faults(&UPDATE_STEPS) {
                let stopped = run(tool()
                    .env("BUDGETGUARD_TEST_FAULT", &fault)
                    .args(["install-package", "--package"])
                    .arg(package));
                assert_ne!(stopped.code, 0, "update {fault}: {}", stopped.stderr);
                run(tool().args(["install-package", "--package"]).arg(package)).success();
                assert!(!has_image(&engine, &ids[1]), "update {fault}: v2 is gone");
                run(tool()
                    .args(["install-package", "--package"])
                    .arg(&packages[1]))
                .success();
                assert_eq!(
                    container_image().split_whitespace().next(),
                    Some(ids[1].as_str()),
                    "update {fault}: back on v2"
                );
            }
        }
        let start: &[&str] = if i == 0 {
            &["--start", "--wait", "120"]
        } else {
            &[]
        };
        let installed = run(tool()
            .arg("install-package")
            .args(start)
            .arg("--package")
            .arg(package))
        .success();
        let id = engine.docker_ok(&["image", "inspect", "--format", "{{.Id}}", &references[i]]);
        ids.push(id.trim().to_owned());
        for (j, id) in ids.iter().enumerate() {
            assert_eq!(
                has_image(&engine, id),
                i == j,
                "after v{}: the image of v{} {}; the install said: {}",
                i + 1,
                j + 1,
                if i == j { "is there" } else { "is gone" },
                installed.stderr
            );
        }
    }
    run(tool().args(["uninstall", "--all", "--purge-cache"])).success();
    assert!(
        ids.iter().all(|id| !has_image(&engine, id)),
        "no image the tool loaded remains"
    );
    for reference in [&references[0], &own] {
        let named = engine.docker_ok(&["image", "inspect", "--format", "{{.Id}}", reference]);
        assert_eq!(
            named.trim(),
            demo_id,
            "`{reference}` names the user's image"
        );
    }
    // (references end in a tag, `:1`, so the kept tag is `…:1-before-budgetguard`)
    assert!(
        !engine
            .docker()
            .args(["image", "inspect", &kept])
            .output()
            .unwrap()
            .status
            .success(),
        "no kept tag is left"
    );
    assert_eq!(left(&dir), BTreeMap::new(), "nothing left");
}

fn a_take_back_that_fails_keeps_its_journal_for_the_next_run() {
    let engine = testkit::engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _copy) = demo_copy(&engine, "take-back");
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-take-back");
    let package = make_package(
        &engine,
        home.path(),
        "take-back.zip",
        &[("Take Back", &image, free_port())],
    );
    let dir = home.path().join("install");
    let tool = || {
        let mut command = bin(home.path(), Some(&engine.host));
        command.env("BUDGETGUARD_INSTALL_DIR", &dir);
        command
    };
    // Killed once its node was made: the container is there, unrecorded.
    let killed = run(tool()
        .env("BUDGETGUARD_TEST_FAULT", "state_files:kill")
        .args(["install-package", "--package"])
        .arg(&package));
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    let container = || {
        engine
            .docker()
            .args(["inspect", "budgetguard-take-back"])
            .output()
            .unwrap()
            .status
            .success()
    };
    assert!(container(), "the killed run made the container");
    // Without Compose the node cannot be taken back: said, and kept for later.
    let refused = run(tool()
        .env("BUDGETGUARD_COMPOSE", "false")
        .args(["uninstall", "--all"]));
    let error = error_text(&refused);
    assert!(
        error.contains("taking it back failed") && error.contains("Compose is not installed"),
        "{error}"
    );
    assert!(dir.join("journal.json").exists());
    assert!(container());
    let again = run(tool().args(["uninstall", "--all"])).success();
    assert!(
        again
            .stderr
            .contains("Took back the unfinished `install-package` run"),
        "{}",
        again.stderr
    );
    assert!(!container(), "the node is gone");
    assert_eq!(left(&dir), BTreeMap::new(), "nothing left");
}

/// A deploy-local of `node` (from `catalog`) into `dir`, with `home`'s
/// environment.
fn deploy_local(
    engine: &TestEngine,
    home: &Path,
    dir: &Path,
    catalog: &Path,
    node: &str,
) -> std::process::Command {
    let mut command = installer(home, engine, dir);
    command
        .args(["deploy-local", "--nodes", node, "--catalog"])
        .arg(catalog);
    command
}

/// An image of the Demo's own (a label of its own), pushed to `registry`
/// from `engine` and removed there: its reference.
fn pushed_demo(engine: &TestEngine, registry: &TestRegistry, demo: &str, name: &str) -> String {
    let reference = format!("{}/{name}:1", registry.host());
    build_label(engine, demo, &reference, name);
    engine.docker_ok(&["push", &reference]);
    engine.docker_ok(&["rmi", &reference]);
    reference
}

/// The ID `reference` names on the engine (empty: none).
fn id_of(engine: &TestEngine, reference: &str) -> String {
    let out = engine
        .docker()
        .args(["image", "inspect", "--format", "{{.Id}}", reference])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

fn a_deploy_that_pulls_is_taken_back_at_any_step() {
    let engine = testkit::engines::require_primary();
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let home = tempfile::tempdir().unwrap();
    let (demo, _demo_guard) = demo_copy(&engine, "pull-faults");
    let reference = pushed_demo(&engine, &registry, &demo, "pull-faults");
    let _guard = ImageGuard::new(&engine, vec![reference.clone()]);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-pull-fault");
    let catalog = write_catalog(home.path(), &[("Pull Fault", &reference, free_port())]);
    let dir = home.path().join("install");
    let deploy = || deploy_local(&engine, home.path(), &dir, &catalog, "Pull Fault");
    let uninstall = || {
        run(installer(home.path(), &engine, &dir).args(["uninstall", "--all", "--purge-cache"]))
            .success()
    };
    // The user's own image, and what the engine has under the reference.
    let before = || (id_of(&engine, &demo), id_of(&engine, &reference));
    let engine_before = before();
    assert_eq!(engine_before.1, "", "the reference names nothing yet");

    // A clean deploy pulls; its uninstall removes the pulled image.
    run(&mut deploy()).success();
    let pulled = id_of(&engine, &reference);
    assert!(!pulled.is_empty(), "the deploy pulled");
    uninstall();
    assert!(!has_image(&engine, &pulled), "the pulled image is gone");
    assert_eq!(before(), engine_before);

    for (_, _, fault) in faults(&DEPLOY_PULL_STEPS) {
        let stopped = run(deploy().env("BUDGETGUARD_TEST_FAULT", &fault));
        assert_ne!(stopped.code, 0, "deploy {fault}: {}", stopped.stderr);
        // The next command takes the run back (or, after its commit,
        // uninstalls it): the pulled image goes, nothing else.
        uninstall();
        assert_eq!(left(&dir), BTreeMap::new(), "deploy {fault}: left");
        assert!(
            !has_image(&engine, &pulled),
            "deploy {fault}: the pulled image is gone"
        );
        assert_eq!(before(), engine_before, "deploy {fault}: the engine");
    }
}

fn a_killed_deploys_pull_never_takes_an_image_the_user_put_there_since() {
    let engine = testkit::engines::require_primary();
    let registry = TestRegistry::start().unwrap_or_else(no_registry);
    let home = tempfile::tempdir().unwrap();
    let (demo, _demo_guard) = demo_copy(&engine, "repull");
    let reference = pushed_demo(&engine, &registry, &demo, "repull");
    let _guard = ImageGuard::new(&engine, vec![reference.clone()]);
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-repull");
    let catalog = write_catalog(home.path(), &[("Repull", &reference, free_port())]);
    let dir = home.path().join("install");
    let deploy = || deploy_local(&engine, home.path(), &dir, &catalog, "Repull");
    let recover = || {
        let recovered =
            run(installer(home.path(), &engine, &dir).args(["uninstall", "--all"])).success();
        assert!(
            recovered
                .stderr
                .contains("Took back the unfinished `deploy-local` run"),
            "{}",
            recovered.stderr
        );
    };
    let demo_id = id_of(&engine, &demo);

    // Killed after its pull; the user then points the reference at an
    // image they had before: the tag and the image stay theirs.
    let killed = run(deploy().env("BUDGETGUARD_TEST_FAULT", "configure_nodes:kill"));
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    let pulled = id_of(&engine, &reference);
    assert!(!pulled.is_empty(), "the killed deploy pulled");
    engine.docker_ok(&["tag", &demo, &reference]);
    recover();
    assert_eq!(id_of(&engine, &reference), demo_id, "the user's tag stays");
    assert_eq!(id_of(&engine, &demo), demo_id, "the user's image stays");
    assert!(!has_image(&engine, &pulled), "the pulled image is gone");
    engine.docker_ok(&["rmi", &reference]);

    // Killed after its pull; the user then builds (or pulls) the
    // reference anew: their new image stays.
    let killed = run(deploy().env("BUDGETGUARD_TEST_FAULT", "configure_nodes:kill"));
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert_eq!(id_of(&engine, &reference), pulled, "the same image pulled");
    build_label(&engine, &demo, &reference, "rebuilt");
    let rebuilt_id = id_of(&engine, &reference);
    recover();
    assert_eq!(
        id_of(&engine, &reference),
        rebuilt_id,
        "the user's new image stays"
    );
    assert!(!has_image(&engine, &pulled), "the pulled image is gone");
    assert_eq!(left(&dir), BTreeMap::new(), "nothing left");
    engine.docker_ok(&["rmi", &reference]);

    // Killed once the pull gave an image the engine had under another
    // name, before the run said which: the name it took goes, the user's
    // name and image stay.
    let theirs = format!("{demo}-theirs");
    engine.docker_ok(&["pull", &reference]);
    engine.docker_ok(&["tag", &reference, &theirs]);
    engine.docker_ok(&["rmi", &reference]);
    let _theirs_guard = ImageGuard::new(&engine, vec![theirs.clone()]);
    let theirs_id = id_of(&engine, &theirs);
    let killed = run(deploy().env("BUDGETGUARD_TEST_FAULT", "pull_done:kill"));
    assert_ne!(killed.code, 0, "{}", killed.stderr);
    assert!(
        !id_of(&engine, &reference).is_empty(),
        "the killed deploy pulled"
    );
    recover();
    assert_eq!(id_of(&engine, &reference), "", "the name it took is gone");
    assert_eq!(id_of(&engine, &theirs), theirs_id, "the user's image stays");
    assert_eq!(left(&dir), BTreeMap::new(), "nothing left");
}
