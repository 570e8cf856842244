//! Claims on the engine: a node of an install folder owns its Compose
//! project on an engine through a volume named for the project and
//! labelled with the folder. The engine creates a volume of a name once
//! (a second create, even at the same moment, gets the first one back,
//! labels and all), so of two folders claiming one node exactly one owns
//! it. The volume holds nothing.

use std::collections::HashMap;
use std::time::Instant;

use super::{api_error, found, log_call, Engine, EngineError};

/// How often a claim given up at once by its owner is tried again.
const CLAIM_TRIES: usize = 5;

/// The label that names the install folder owning a claim.
const OWNER_LABEL: &str = "com.budgetguard.owner";

impl Engine {
    /// The folder that owns the claim `name`; `None` when nobody does.
    pub async fn claim_owner(&self, name: &str) -> Result<Option<String>, EngineError> {
        let started = Instant::now();
        let volume = found(self.lookups().inspect_volume(name).await, || {
            format!("inspect volume `{name}`")
        });
        log_call("inspect volume", name, started, &volume);
        Ok(volume?.map(|mut v| v.labels.remove(OWNER_LABEL).unwrap_or_default()))
    }

    /// Claims `name` for `owner` unless it is claimed already; returns the
    /// owner it has now (`owner` when this call or an earlier one of the
    /// same owner made it; empty if claims kept vanishing at once).
    pub async fn claim(&self, name: &str, owner: &str) -> Result<String, EngineError> {
        for _ in 0..CLAIM_TRIES {
            let started = Instant::now();
            let request = bollard::models::VolumeCreateRequest {
                name: Some(name.to_owned()),
                labels: Some(HashMap::from([(OWNER_LABEL.to_owned(), owner.to_owned())])),
                ..Default::default()
            };
            let created = self
                .docker()
                .create_volume(request)
                .await
                .map_err(|source| api_error(format!("create volume `{name}`"), source));
            log_call("create volume", name, started, &created);
            created?;
            // As the engine has it: another owner's, if that one was first
            // (and gone again, if that owner gave it up at once: then the
            // claim is tried again).
            if let Some(found) = self.claim_owner(name).await? {
                return Ok(found);
            }
        }
        Ok(String::new())
    }

    /// Gives up the claim `name`; one already gone is fine.
    pub async fn release(&self, name: &str) -> Result<(), EngineError> {
        let started = Instant::now();
        let removed = match self
            .docker()
            .remove_volume(name, None::<bollard::query_parameters::RemoveVolumeOptions>)
            .await
        {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(()),
            Err(source) => Err(api_error(format!("remove volume `{name}`"), source)),
        };
        log_call("remove volume", name, started, &removed);
        removed
    }
}
