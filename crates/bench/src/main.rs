//! `budgetguard-bench`: measures `budgetguard-techops` against the engine's
//! own `docker save` and `docker load` on a synthetic image set, and fails
//! when a target is missed.
//!
//! Usage: `budgetguard-bench create|install|models|upgrade|registry|entries|split|http|oci` (engine: `DOCKER_HOST`, default
//! `unix:///var/run/docker.sock`; layer size: `BENCH_LAYER_MB`, default 600).

mod create;
mod entries;
mod http;
mod install;
mod measure;
mod models;
mod oci;
mod registry;
mod setup;
mod split;
mod upgrade;

use std::process::ExitCode;

const USAGE: &str =
    "usage: budgetguard-bench create|install|models|upgrade|registry|entries|split|http|oci

  create   time create-install-package (none, deflate, zstd) against `docker save -o`
           on a synthetic two-image set; exits 1 when the `none` case misses a target
  install  time install-package of that set's package against `docker load -i` of its
           `docker save` tar, then a second install, then uninstall --all; exits 1
           when a target is missed or the uninstall leaves containers or images;
           the second install runs with Compose v2 and again with v1
  models   an image and two model caches of about 2 GB (one file in both): create
           against `docker save -o` + `tar -cf`, install against `docker load -i` +
           `tar -xf`, then a second install
  upgrade  an installed node upgraded to a version that differs by one 50 MiB layer
           and one 100 MiB model file, against `docker load -i` + `cp` of those
           bytes, and its peak extra disk against the changed model bytes
  registry create --from-registry against `skopeo copy` from a local docker-registry,
           against `docker pull` + create, and an update package (--since)
  entries  inspect-package of a package of 100 000 one-byte entries against Python's
           zipfile (no engine needed); exits 1 when it takes 2 s or more
  split    create with --split-size against into one file, and install from the parts
           against from one file (medians of three alternated runs each); exits 1 when
           either takes more than 1.02 times as long
  http     install from loopback nginx against from the file (medians of three alternated
           runs; target 1.05), and the bytes an update from a full package downloads
           against the bytes missing (target 1.01), with the fleet arithmetic
  oci      publish-package to a local docker-registry (twice: the second sends nothing),
           then install from oci:// against from the file (medians of three alternated
           runs; target 1.05)

environment:
  DOCKER_HOST        the engine [default: unix:///var/run/docker.sock]
  BENCH_LAYER_MB     size of each of the two big layers in MiB [default: 600; models: 100;
                     upgrade: the image's base layer, 200; http, oci: 300]
  BENCH_MODEL_MB     models only: a quarter of each cache in MiB [default: 256]
  BENCH_ENTRIES      entries only: the number of entries [default: 100000]
  BENCH_PART_MB      split only: the part size in MiB [default: 100]
  BENCH_HTTP_JOBS    http only: `--jobs` of the installs over HTTP [default: the tool's, 1]
  BENCH_SOURCE_HOST  install only: the engine the images are made, saved and packaged on
                     [default: DOCKER_HOST]; Docker 26.1's classic store keeps the layers a
                     multi-image save exported, so measure it with another source engine";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("create") if args.len() == 1 => create::run(),
        Some("install") if args.len() == 1 => install::run(),
        Some("models") if args.len() == 1 => models::run(),
        Some("upgrade") if args.len() == 1 => upgrade::run(),
        Some("registry") if args.len() == 1 => registry::run(),
        Some("entries") if args.len() == 1 => entries::run(),
        Some("split") if args.len() == 1 => split::run(),
        Some("http") if args.len() == 1 => http::run(),
        Some("oci") if args.len() == 1 => oci::run(),
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("budgetguard-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}
