//! demo-nim: a stand-in for an NVIDIA NIM image-generation container (FLUX),
//! faithful to the NIM's model lifecycle, so that packaging, offline install
//! and first start are tested without NGC or a GPU. It runs as PID 1 in a
//! `FROM scratch` image (`ENTRYPOINT ["/demo-nim"]`, `USER 1000:1000`): the
//! container's command is the subcommand.
//!
//! # Commands
//!
//! - (none): serve the HTTP API (below).
//! - `list-model-profiles`: print the (pretend) GPUs and the model's profiles.
//! - `download-to-cache [--profiles IDS | -p ID... | --all]`: fill the cache
//!   from the model server.
//! - Called as `nvidia-smi` (a copy of the binary by that name): list the
//!   `DEMO_NIM_GPUS` as `nvidia-smi -L` lists GPUs, for tests of the GPU
//!   probe on machines without a GPU.
//!
//! # Environment
//!
//! | variable | meaning |
//! | --- | --- |
//! | `NIM_CACHE_PATH` | cache root (default `/opt/nim/.cache`) |
//! | `DEMO_NIM_MODEL_SERVER` | model server base URL, `http://` only, e.g. `http://127.0.0.1:41234`; unset: no network source. In the scratch image give an IP address (there is no resolver configuration) |
//! | `DEMO_NIM_MODEL` | model name (default `budgetguard/demo-flux`) |
//! | `NGC_API_KEY` | sent as `Authorization: Bearer <key>` to the model server when set |
//! | `NIM_MODEL_PROFILE` | the profile to serve (optional) |
//! | `DEMO_NIM_REQUIRE_MODEL` | `1` (default) or `0`. **Test knob**: `0` makes the server ready at once without reading the cache, for tests of other features whose nodes have no model |
//! | `DEMO_NIM_GPUS` | comma-separated GPU names to pretend are present (e.g. `NVIDIA GeForce RTX 4090`); default none. Only decides which profiles are compatible: in `list-model-profiles`, in `download-to-cache`'s and the server's default choice, and which cached profile the server prefers |
//! | `DEMO_NIM_PORT` | server port on 0.0.0.0 (default 8000) |
//! | `NIM_MODEL_VARIANT` | `base` (default), `canny` or `depth`: the one mode this container serves |
//!
//! Empty values count as unset. Bad values exit with code 2.
//!
//! # Model server protocol (testkit's `model_server` implements it)
//!
//! - `GET <server>/v1/models/<model>/manifest` (`<model>` may contain `/`):
//!   `{"model", "revision": "<40 hex>", "profiles": [{"id", "description",
//!   "gpus": [names], "files": [{"path", "size", "sha256"}]}]}`. Within a
//!   manifest a path has one content (one Hugging Face revision).
//! - `GET <server>/v1/models/<model>/files/<sha256>`: the bytes; `Range:
//!   bytes=N-` answered by 206 with `Content-Range` (used to resume).
//! - A server started with a token answers 401 without
//!   `Authorization: Bearer <token>`.
//!
//! # Cache layout (`<repo>` = model with `/` as `--`)
//!
//! - `<cache>/huggingface/hub/models--<repo>/blobs/<sha256>`: each file once,
//!   even when several profiles use it; partial downloads are
//!   `blobs/<sha256>.incomplete` and resume with a Range request.
//! - `<cache>/huggingface/hub/models--<repo>/snapshots/<revision>/<path>`: a
//!   relative symlink to `../../blobs/<sha256>`, one more `../` per folder
//!   level of `<path>`.
//! - `<cache>/huggingface/hub/models--<repo>/refs/main`: the revision.
//! - `<cache>/demo-nim/profiles/<id>.json`: the profile's manifest entry plus
//!   `model` and `revision`, so serving and listing work offline.
//!
//! Files and folders are created with the process's umask.
//!
//! # `download-to-cache`
//!
//! `--profiles A,B`, `--profiles A B`, `-p A -p B`, or `--all`. With none, the
//! profiles built for one of the `DEMO_NIM_GPUS`; with no GPU (or none
//! matching) it fails naming `--profiles` and `--all`. A blob already present
//! is hashed once and kept if it matches; each blob's SHA-256 is checked
//! before it is renamed into place; a connection lost mid-file is resumed
//! (three tries, then the next run resumes). Progress on stderr, one summary
//! line on stdout:
//! `download-to-cache: profiles <ids> cached in <cache>: <n> files, <d> downloaded (<bytes> bytes), <k> already cached`.
//! Exit codes: 0 done; 1 failed (`DEMO_NIM_MODEL_SERVER` unset; unreachable
//! server, naming its URL; 401/403, saying NGC_API_KEY is missing or wrong;
//! checksum; I/O; SIGTERM/SIGINT, which leaves the partial file for the next
//! run); 2 bad usage (unknown profile, listing the known ids; no selection).
//!
//! # `list-model-profiles` (stdout)
//!
//! ```text
//! SYSTEM INFO
//! - Free GPUs: <None>
//! MODEL PROFILES
//! - Compatible with system and runnable:
//!   - <id> (<description>; gpus=<comma-separated names>; cached)
//! - Incompatible with system:
//!   - <id> (<description>; gpus=<comma-separated names>)
//! ```
//!
//! With pretend GPUs, `- Free GPUs:` is followed by `  -  [0] <name>` lines.
//! With no GPU at all every profile is compatible (the demo renders on the
//! CPU); otherwise a profile is compatible when it lists one of the GPUs or
//! lists none. `gpus=` is empty for a profile that lists none. `; cached`
//! means every file is in the cache (sizes and links; hashes are the
//! server's check). Profiles come from the model server when it answers,
//! else from `demo-nim/profiles/*.json`.
//!
//! # Serving
//!
//! - `GET /v1/health/live`: always 200 `{"status":"live"}`.
//! - `GET /v1/health/ready`: 200 `{"status":"ready"}` once a profile is
//!   served, else 503 `{"status":"not ready"}`.
//! - `GET /v1/metadata`: `version`, `variant`, `modes`, `demo`, `profile`
//!   (the served id, or null) and `modelInfo`.
//! - `POST /v1/infer`: 503 `{"detail":...}` while not ready; else validates
//!   `prompt`, `mode`, `image`, `width`, `height`, `steps`, `seed`,
//!   `cfg_scale`, `samples` (422 in pydantic's shape) and answers
//!   `{"artifacts":[{"base64":"<png>","finishReason":"SUCCESS","seed":N}]}`
//!   with a PNG that depends only on prompt and seed.
//! - Other paths 404, other methods 405 with `Allow`; every answer is JSON
//!   with `Connection: close`. SIGTERM and SIGINT end the server cleanly.
//!
//! Readiness: at start the cache is checked, every blob hashed once (logged):
//! `NIM_MODEL_PROFILE` if set, else the first complete profile by id, those
//! built for one of `DEMO_NIM_GPUS` first, then those listing no GPU, then
//! the rest (with a warning line). With none complete and the model server
//! answering, the pinned profile, else the default one (the first built for
//! a pretend GPU, else the first listing no GPU, else with no GPU at all the
//! first), is downloaded into the cache first. Otherwise the server stays
//! not ready, logs one line saying why (again only when the reason changes)
//! and retries every 5 s.

mod cache;
mod cli;
mod client;
mod download;
mod image;
mod list;
mod nvidia_smi;
mod profiles;
mod serve;
mod settings;
mod signals;
mod verify;

use std::process::ExitCode;

use clap::Parser;

use cli::{Cli, Command};
use settings::Settings;
use signals::Termination;

fn main() -> ExitCode {
    if nvidia_smi::called_as() {
        return nvidia_smi::run();
    }
    let cli = Cli::parse();
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => {
            eprintln!("demo-nim: {e}");
            return ExitCode::from(2);
        }
    };
    // Built with the workspace, reqwest's TLS wants a provider even for http://.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("demo-nim: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let code = runtime.block_on(async move {
        let mut signals = match Termination::listen() {
            Ok(s) => s,
            Err(e) => {
                eprintln!("demo-nim: cannot handle signals: {e}");
                return ExitCode::FAILURE;
            }
        };
        match cli.command {
            None => serve::run(settings, signals).await,
            Some(Command::ListModelProfiles) => list::run(&settings).await,
            Some(Command::DownloadToCache(args)) => tokio::select! {
                code = download::run(&settings, &args) => code,
                name = signals.received() => {
                    eprintln!("demo-nim: {name} received: download stopped; run download-to-cache again to resume");
                    ExitCode::FAILURE
                }
            },
        }
    });
    // Do not wait for blocking work (a blob being hashed) after a signal.
    runtime.shutdown_background();
    code
}
