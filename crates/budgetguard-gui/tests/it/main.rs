//! Integration tests of the GUI server: the security checks and the
//! Installed page over plain HTTP, and the pages end to end in Chromium over WebDriver.
//!
//! The harness is testkit's (`harness = false`): a test that finds no engine
//! (or no Demo image, no Chromium, no root) is reported as ignored with the
//! reason, or fails with `BUDGETGUARD_REQUIRE_DOCKER=1`. Each test runs on a
//! tokio runtime of its own within its time limit ([`support::run`]), and
//! every wait on the engine or the page has a limit of its own. Each module
//! lists its tests with `testkit::tests![…]`.

mod address;
mod browser;
mod chooser;
mod deploy;
mod exposure;
mod folder;
mod gpu;
mod inspections;
mod install;
mod installed;
mod jobs;
mod keys;
mod listing;
mod models;
mod offline;
mod publish;
mod registry;
mod screenshots;
mod security;
mod signing;
mod split;
mod states;
mod support;
mod words;

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(
        [
            address::tests(),
            browser::tests(),
            chooser::tests(),
            deploy::tests(),
            exposure::tests(),
            folder::tests(),
            gpu::tests(),
            install::tests(),
            inspections::tests(),
            installed::tests(),
            jobs::tests(),
            keys::tests(),
            listing::tests(),
            models::tests(),
            offline::tests(),
            publish::tests(),
            registry::tests(),
            screenshots::tests(),
            security::tests(),
            signing::tests(),
            split::tests(),
            states::tests(),
            words::tests(),
        ]
        .concat(),
    )
}
