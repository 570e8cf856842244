//! Integration tests of the `budgetguard-techops` binary against the real
//! Docker engines, Compose versions and ZIP readers of this machine.
//!
//! The harness is testkit's (`harness = false`): a test that finds no engine
//! (or no Demo image, no root) is reported as ignored with the reason, or
//! fails with `BUDGETGUARD_REQUIRE_DOCKER=1`; every test has a time limit.
//! Each module lists its tests with `testkit::tests![…]`.

mod compose_config;
mod create;
mod create_errors;
mod exposure;
mod fleet;
mod gpu;
mod hostile_manifests;
mod http;
mod install;
mod install_errors;
mod logs;
mod messages;
mod models;
mod never_wrong;
mod oci;
mod owners;
mod pull;
mod registry;
mod repack;
mod signing;
mod split;
mod store_layers;
mod support;
mod upgrades;
mod zip_structure;

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(
        [
            compose_config::tests(),
            create::tests(),
            create_errors::tests(),
            exposure::tests(),
            fleet::tests(),
            gpu::tests(),
            hostile_manifests::tests(),
            http::tests(),
            install::tests(),
            install_errors::tests(),
            logs::tests(),
            messages::tests(),
            models::tests(),
            never_wrong::tests(),
            oci::tests(),
            owners::tests(),
            pull::tests(),
            registry::tests(),
            signing::tests(),
            split::tests(),
            store_layers::tests(),
            upgrades::tests(),
            zip_structure::tests(),
        ]
        .concat(),
    )
}
