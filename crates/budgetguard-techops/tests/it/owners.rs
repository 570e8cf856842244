//! One owner per node per engine: installs of one package into two install
//! folders, started together, end with exactly one folder owning the node
//! (a working node) and a clear refusal for the other, which changed
//! nothing.

use std::process::Stdio;

use testkit::engines;

use crate::support::*;
use crate::upgrades::contents;

testkit::tests![two_folders_installing_one_node_at_once_leave_exactly_one_owner];

/// Rounds of the race.
const ROUNDS: usize = 20;

fn two_folders_installing_one_node_at_once_leave_exactly_one_owner() {
    let engine = engines::require_primary();
    let home = tempfile::tempdir().unwrap();
    let (image, _guard) = demo_copy(&engine, "owners");
    let package = make_package(
        &engine,
        home.path(),
        "owners.zip",
        &[("Owner Race", &image, free_port())],
    );
    let _leftovers = NodeLeftovers::new(&engine, "budgetguard-owner-race");
    let folders = [home.path().join("a"), home.path().join("b")];
    let tool = |dir: &std::path::Path| {
        let mut command = bin(home.path(), Some(&engine.host));
        command.env("BUDGETGUARD_INSTALL_DIR", dir);
        command
    };
    for round in 0..ROUNDS {
        // A node's own cache folder stays after an uninstall without
        // `--purge-cache`: what each folder holds is compared round by round.
        let before: Vec<_> = folders.iter().map(|dir| contents(dir)).collect();
        let children: Vec<_> = folders
            .iter()
            .map(|dir| {
                tool(dir)
                    .args(["install-package", "--package"])
                    .arg(&package)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        let outcomes: Vec<_> = children
            .into_iter()
            .map(|child| child.wait_with_output().unwrap())
            .collect();
        let winners: Vec<usize> = (0..2).filter(|i| outcomes[*i].status.success()).collect();
        assert_eq!(
            winners.len(),
            1,
            "round {round}: exactly one owner: {:?}",
            outcomes
                .iter()
                .map(|o| String::from_utf8_lossy(&o.stderr).into_owned())
                .collect::<Vec<_>>()
        );
        let (winner, loser) = (winners[0], 1 - winners[0]);
        let refusal = String::from_utf8_lossy(&outcomes[loser].stderr);
        let owner = std::fs::canonicalize(&folders[winner]).unwrap();
        assert!(
            refusal.contains(&format!(
                "is installed on this Docker engine from another install folder, `{}`",
                owner.display()
            )) || refusal.contains(&format!(
                "made from `{}`, another install folder",
                folders[winner].join("compose/owner-race").display()
            )),
            "round {round}: {refusal}"
        );
        assert_eq!(
            contents(&folders[loser]),
            before[loser],
            "round {round}: the refused folder is untouched"
        );
        let status = run(tool(&folders[winner]).args(["status", "--json"])).success();
        let nodes = status.json();
        assert_eq!(nodes[0]["state"], "created", "round {round}: {nodes}");
        run(tool(&folders[winner]).args(["uninstall", "--all"])).success();
        let left = engine
            .docker()
            .args(["volume", "inspect", "budgetguard-owner-race.owner"])
            .output()
            .unwrap();
        assert!(
            !left.status.success(),
            "round {round}: the claim is given up"
        );
    }
}
