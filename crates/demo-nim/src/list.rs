//! `list-model-profiles`: the (pretend) GPUs and the model's profiles, from
//! the model server's manifest when it answers, else from the cache.
//!
//! ```text
//! SYSTEM INFO
//! - Free GPUs: <None>
//! MODEL PROFILES
//! - Compatible with system and runnable:
//!   - <id> (<description>; gpus=<names, comma-separated>; cached)
//! - Incompatible with system:
//!   - <id> (<description>; gpus=<names>)
//! ```
//!
//! With GPUs, `- Free GPUs:` is followed by one `  -  [<n>] <name>` line each.
//! `gpus=` is empty for a profile that runs anywhere. `; cached` means every
//! file is in the cache (sizes and links checked; the server hashes them).

use std::fmt::Write;
use std::process::ExitCode;

use crate::cache::Cache;
use crate::client::Client;
use crate::profiles::{compatible, Profile};
use crate::settings::Settings;

/// The listing for `gpus` and `(profile, cached)` entries.
pub fn format_listing(gpus: &[String], entries: &[(Profile, bool)]) -> String {
    let mut out = String::from("SYSTEM INFO\n");
    if gpus.is_empty() {
        out.push_str("- Free GPUs: <None>\n");
    } else {
        out.push_str("- Free GPUs:\n");
        for (i, gpu) in gpus.iter().enumerate() {
            let _ = writeln!(out, "  -  [{i}] {gpu}");
        }
    }
    out.push_str("MODEL PROFILES\n");
    for (title, runnable) in [
        ("- Compatible with system and runnable:", true),
        ("- Incompatible with system:", false),
    ] {
        out.push_str(title);
        out.push('\n');
        for (p, cached) in entries
            .iter()
            .filter(|(p, _)| compatible(p, gpus) == runnable)
        {
            let _ = writeln!(
                out,
                "  - {} ({}; gpus={}{})",
                p.id,
                p.description,
                p.gpus.join(","),
                if *cached { "; cached" } else { "" }
            );
        }
    }
    out
}

/// The `list-model-profiles` command.
pub async fn run(settings: &Settings) -> ExitCode {
    let cache = Cache::new(&settings.cache);
    let from_server = match &settings.model_server {
        None => {
            eprintln!(
                "demo-nim: DEMO_NIM_MODEL_SERVER is not set: listing the profiles cached in {}",
                cache.root().display()
            );
            None
        }
        Some(base) => {
            let client = Client::new(base, &settings.model, settings.api_key.clone());
            match client.manifest().await {
                Ok(m) => Some(m),
                Err(e) => {
                    eprintln!(
                        "demo-nim: {e}; listing the profiles cached in {} instead",
                        cache.root().display()
                    );
                    None
                }
            }
        }
    };
    let entries: Vec<(Profile, bool)> = match from_server {
        Some(manifest) => manifest
            .profiles
            .iter()
            .map(|p| (p.clone(), cache.missing(&manifest.cached(p)).is_none()))
            .collect(),
        None => cache
            .profiles(&settings.model)
            .into_iter()
            .map(|c| {
                let complete = cache.missing(&c).is_none();
                (c.profile, complete)
            })
            .collect(),
    };
    print!("{}", format_listing(&settings.gpus, &entries));
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profiles::tests::profile;

    #[test]
    fn without_gpus_everything_is_runnable() {
        let entries = [
            (profile("fp8", &["RTX 4090", "L40S"]), false),
            (profile("cpu", &[]), true),
        ];
        assert_eq!(
            format_listing(&[], &entries),
            "SYSTEM INFO\n\
             - Free GPUs: <None>\n\
             MODEL PROFILES\n\
             - Compatible with system and runnable:\n  \
             - fp8 (fp8 profile; gpus=RTX 4090,L40S)\n  \
             - cpu (cpu profile; gpus=; cached)\n\
             - Incompatible with system:\n"
        );
    }

    #[test]
    fn with_gpus_some_are_incompatible() {
        let entries = [
            (profile("fp8", &["RTX 4090"]), true),
            (profile("fp4", &["RTX 5090"]), false),
        ];
        let gpus = ["RTX 4090".to_owned(), "RTX 4090".to_owned()];
        assert_eq!(
            format_listing(&gpus, &entries),
            "SYSTEM INFO\n\
             - Free GPUs:\n  \
             -  [0] RTX 4090\n  \
             -  [1] RTX 4090\n\
             MODEL PROFILES\n\
             - Compatible with system and runnable:\n  \
             - fp8 (fp8 profile; gpus=RTX 4090; cached)\n\
             - Incompatible with system:\n  \
             - fp4 (fp4 profile; gpus=RTX 5090)\n"
        );
    }
}
