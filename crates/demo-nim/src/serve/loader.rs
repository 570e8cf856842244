//! The model loader: what makes the server ready, as a NIM does it.
//!
//! 1. A complete profile in the cache (every blob present and matching its
//!    SHA-256, every snapshot link resolving): `NIM_MODEL_PROFILE` if set,
//!    else the first complete one by id: those built for a (pretend) GPU
//!    first, then those for any machine, then the rest (served with a
//!    warning). Blobs are hashed once, not per request.
//! 2. Otherwise, with `DEMO_NIM_MODEL_SERVER` reachable: download the pinned
//!    (or default) profile into the cache, then serve it.
//! 3. Otherwise stay not ready, log one line saying why (again only when the
//!    reason changes) and retry every few seconds.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::AppState;
use crate::cache::Cache;
use crate::client::Client;
use crate::download::fetch_profiles;
use crate::profiles::{compatible, default_profile, matches_gpu};
use crate::settings::Settings;
use crate::verify::Verifier;

/// Pause between attempts while not ready.
const RETRY: Duration = Duration::from_secs(5);

/// Tries until a profile is served, then marks `state` ready.
pub async fn load(settings: Settings, state: Arc<AppState>) {
    let cache = Cache::new(&settings.cache);
    let verifier = Arc::new(Mutex::new(Verifier::default()));
    let mut last = String::new();
    loop {
        match attempt(&settings, &cache, &verifier).await {
            Ok(id) => {
                eprintln!(
                    "demo-nim: ready: serving profile {id} of {} from {}",
                    settings.model,
                    cache.root().display()
                );
                state.set_ready(Some(id));
                return;
            }
            Err(why) => {
                if why != last {
                    eprintln!(
                        "demo-nim: not ready: {why} (retrying every {} s)",
                        RETRY.as_secs()
                    );
                    last = why;
                }
                tokio::time::sleep(RETRY).await;
            }
        }
    }
}

/// One try: the cache, else a download. Returns the profile id to serve.
async fn attempt(
    settings: &Settings,
    cache: &Cache,
    verifier: &Arc<Mutex<Verifier>>,
) -> Result<String, String> {
    let why = match cached(settings, cache, verifier).await {
        Ok(id) => return Ok(id),
        Err(why) => why,
    };
    let Some(base) = &settings.model_server else {
        return Err(format!(
            "{why}, and DEMO_NIM_MODEL_SERVER is not set, so nothing can be downloaded"
        ));
    };
    let client = Client::new(base, &settings.model, settings.api_key.clone());
    let manifest = client
        .manifest()
        .await
        .map_err(|e| format!("{why}, and {e}"))?;
    let profile = match &settings.pinned_profile {
        Some(id) => manifest.profile(id).ok_or_else(|| {
            format!(
                "NIM_MODEL_PROFILE {id} is not a profile of {}; known profiles: {}",
                manifest.model,
                manifest.ids()
            )
        })?,
        None => default_profile(&manifest.profiles, &settings.gpus).ok_or_else(|| {
            format!(
                "no profile of {} suits the GPUs {}; known profiles: {}",
                manifest.model,
                settings.gpus.join(", "),
                manifest.ids()
            )
        })?,
    };
    eprintln!(
        "demo-nim: {why}: downloading profile {} from {base}",
        profile.id
    );
    fetch_profiles(&client, cache, &manifest, &[profile])
        .await
        .map_err(|e| e.to_string())?;
    lock(verifier).trust(cache, &manifest.cached(profile));
    cached(settings, cache, verifier).await
}

fn lock(v: &Mutex<Verifier>) -> std::sync::MutexGuard<'_, Verifier> {
    v.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The profile to serve from the cache, or why there is none.
async fn cached(
    settings: &Settings,
    cache: &Cache,
    verifier: &Arc<Mutex<Verifier>>,
) -> Result<String, String> {
    let (settings, cache, verifier) = (settings.clone(), cache.clone(), Arc::clone(verifier));
    tokio::task::spawn_blocking(move || {
        let root = cache.root().display().to_string();
        let profiles = cache.profiles(&settings.model);
        let mut verifier = lock(&verifier);
        if let Some(id) = &settings.pinned_profile {
            let Some(p) = profiles.iter().find(|p| p.profile.id == *id) else {
                return Err(format!(
                    "profile {id} (NIM_MODEL_PROFILE) is not in the cache {root}"
                ));
            };
            return verifier
                .check(&cache, p)
                .map(|()| id.clone())
                .map_err(|e| format!("cached profile {id} is not complete: {e}"));
        }
        // Built for these GPUs first, then for any machine, then the rest;
        // by id within each (a stable sort keeps the cache's order).
        let mut candidates: Vec<_> = profiles.iter().collect();
        candidates.sort_by_key(|p| {
            let gpus = &settings.gpus;
            (!matches_gpu(&p.profile, gpus), !compatible(&p.profile, gpus))
        });
        let mut problems = Vec::new();
        for p in candidates {
            match verifier.check(&cache, p) {
                Ok(()) => {
                    if !compatible(&p.profile, &settings.gpus) {
                        eprintln!(
                            "demo-nim: warning: profile {} is built for {}, not for {}; serving it anyway",
                            p.profile.id,
                            p.profile.gpus.join(", "),
                            settings.gpus.join(", ")
                        );
                    }
                    return Ok(p.profile.id.clone());
                }
                Err(e) => problems.push(format!("{}: {e}", p.profile.id)),
            }
        }
        Err(if problems.is_empty() {
            format!("the cache {root} holds no profile of {}", settings.model)
        } else {
            format!(
                "no complete profile in the cache {root} ({})",
                problems.join("; ")
            )
        })
    })
    .await
    .expect("checking the cache does not panic")
}
