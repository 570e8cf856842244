//! Integration tests: the built demo-nim binary against testkit's model
//! server on loopback, each with its own cache in a temporary folder, and
//! the Demo image on the machine's engine.
//!
//! The harness is testkit's (`harness = false`): a test that finds no
//! engine or no Demo image is reported as ignored with the reason, or fails
//! with `BUDGETGUARD_REQUIRE_DOCKER=1`; every test has a time limit.

mod docker;
mod download;
mod list;
mod serve;
mod support;

fn main() -> std::process::ExitCode {
    testkit::engines::run_tests(
        [
            docker::tests(),
            download::tests(),
            list::tests(),
            serve::tests(),
        ]
        .concat(),
    )
}
