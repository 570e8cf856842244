//! What the engine holds, and loading images into it from a stream.

use std::io;
use std::time::Instant;

use bollard::query_parameters::{
    ImportImageOptionsBuilder, ListImagesOptionsBuilder, TagImageOptionsBuilder,
};
use bytes::Bytes;
use futures_util::{Stream, StreamExt};

use super::idle::Activity;
use super::{
    answer_error, api_error, elapsed_ms, found, log_call, lookup_error, Engine, EngineError,
    ImageInfo,
};
use crate::digest::ImageId;
use crate::reference::Reference;

/// Facts about the engine that decide how to load and run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EngineFacts {
    /// Whether images live in containerd's store (blobs by digest) rather than
    /// the classic graph driver (layers by chain ID).
    pub containerd_store: bool,
    /// Whether `docker info` lists an `nvidia` runtime: a hint only, since
    /// GPU device requests need none (the toolkit's hook, Docker Desktop).
    pub nvidia_runtime: bool,
    /// Whether the engine is Docker Desktop (on Windows, its WSL2 backend).
    pub desktop: bool,
    /// Whether the engine's kernel is WSL2's.
    pub wsl: bool,
    /// The engine's data folder, as the engine sees it.
    pub root_dir: Option<String>,
    /// Its storage driver (`overlay2`, `overlayfs` for containerd's
    /// snapshotter, `fuse-overlayfs`, …).
    pub driver: Option<String>,
}

/// What [`Engine::remove_unnamed_image`] did with an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdRemoval {
    /// It is gone (removed now, or before).
    Gone,
    /// A container uses it: it stays.
    InUse,
    /// These names, not the caller's, keep it: it stays, with them.
    Named(Vec<String>),
}

/// An image the engine already has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalImage {
    /// Its tags.
    pub tags: Vec<String>,
    /// What the engine reports of it.
    pub info: ImageInfo,
}

/// How many times a list of images is asked for when the engine answers
/// it with 404 (a transient state of the containerd store).
const LIST_ATTEMPTS: u32 = 4;

impl Engine {
    /// The engine's store, runtimes and data folder.
    pub async fn facts(&self) -> Result<EngineFacts, EngineError> {
        let started = Instant::now();
        let info = self
            .lookups()
            .info()
            .await
            .map_err(|source| lookup_error("describe itself".into(), source))?;
        let containerd_store = info
            .driver_status
            .iter()
            .flatten()
            .flatten()
            .any(|s| s.contains("io.containerd.snapshotter"));
        let facts = EngineFacts {
            containerd_store,
            nvidia_runtime: info
                .runtimes
                .is_some_and(|r| r.keys().any(|name| name.contains("nvidia"))),
            desktop: info
                .operating_system
                .is_some_and(|os| os.contains("Docker Desktop")),
            wsl: info
                .kernel_version
                .is_some_and(|kernel| kernel.to_lowercase().contains("microsoft")),
            root_dir: info.docker_root_dir,
            driver: info.driver,
        };
        tracing::info!(
            containerd_store = facts.containerd_store,
            nvidia_runtime = facts.nvidia_runtime,
            desktop = facts.desktop,
            wsl = facts.wsl,
            root_dir = ?facts.root_dir,
            driver = ?facts.driver,
            elapsed_ms = elapsed_ms(started),
            "engine facts"
        );
        Ok(facts)
    }

    /// Every tagged or untagged top-level image, with its layers.
    pub async fn local_images(&self) -> Result<Vec<LocalImage>, EngineError> {
        let started = Instant::now();
        let summaries = self.image_summaries().await?;
        let mut images = Vec::with_capacity(summaries.len());
        for summary in summaries {
            if let Some(info) = self.image(&summary.id).await? {
                images.push(LocalImage {
                    tags: summary.repo_tags,
                    info,
                });
            }
        }
        tracing::debug!(
            images = images.len(),
            elapsed_ms = elapsed_ms(started),
            "listed the engine's images"
        );
        Ok(images)
    }

    /// The IDs of every tagged or untagged top-level image: one request.
    pub async fn image_ids(&self) -> Result<Vec<ImageId>, EngineError> {
        self.image_summaries()
            .await?
            .into_iter()
            .map(listed_id)
            .collect()
    }

    /// The engine's list of images.
    async fn image_summaries(&self) -> Result<Vec<bollard::models::ImageSummary>, EngineError> {
        let mut attempt = 1;
        loop {
            let listed = self
                .lookups()
                .list_images(Some(ListImagesOptionsBuilder::default().build()))
                .await;
            match listed {
                // The containerd store answers 404 (or 500, for content
                // that is going) while another client's load or removal of
                // some image is half-way: ask again.
                Err(
                    ref e @ bollard::errors::Error::DockerResponseServerError { status_code, .. },
                ) if attempt < LIST_ATTEMPTS && (status_code == 404 || super::content_going(e)) => {
                    tracing::debug!(attempt, "the engine could not list its images yet");
                    tokio::time::sleep(std::time::Duration::from_millis(250 << attempt)).await;
                    attempt += 1;
                }
                other => return other.map_err(|source| lookup_error("list images".into(), source)),
            }
        }
    }

    /// Tags the image `id` as `reference` (`name:tag`; `latest` when it
    /// names no tag).
    pub async fn tag(&self, id: &ImageId, reference: &str) -> Result<(), EngineError> {
        let parsed = Reference::parse(reference)?;
        let (repo, tag) = parsed.name_and_tag();
        let started = Instant::now();
        let tagged = self
            .docker()
            .tag_image(
                id.as_str(),
                Some(
                    TagImageOptionsBuilder::default()
                        .repo(&repo)
                        .tag(tag)
                        .build(),
                ),
            )
            .await
            .map_err(|source| api_error(format!("tag {id} as `{reference}`"), source));
        log_call("tag image", reference, started, &tagged);
        tagged
    }

    /// Loads a `docker save`-format tar from `body` (`POST /images/load`),
    /// reading the engine's answer to the end: an error inside the 200 answer
    /// is a failure. The body going out and the answer coming back are
    /// watched together: nothing on either for the idle limit is
    /// [`EngineError::Stalled`].
    pub async fn load(
        &self,
        body: impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static,
    ) -> Result<(), EngineError> {
        let started = Instant::now();
        tracing::info!("loading images into the engine");
        let activity = Activity::new();
        let watched = {
            let activity = activity.clone();
            body.inspect(move |_| activity.touch())
        };
        let options = ImportImageOptionsBuilder::default().quiet(false).build();
        let mut answer = self.streams().import_image_stream(options, watched, None);
        let read = async {
            while let Some(item) = answer.next().await {
                activity.touch();
                item.map_err(|source| EngineError::Load {
                    detail: crate::error_text(&source),
                })?;
            }
            Ok(())
        };
        let loaded = tokio::select! {
            result = read => result,
            stalled = activity.stalled("loading images") => Err(stalled),
        };
        log_call("load images", "", started, &loaded);
        loaded
    }
}

/// The ID of an image the engine listed.
fn listed_id(summary: bollard::models::ImageSummary) -> Result<ImageId, EngineError> {
    summary
        .id
        .parse()
        .map_err(|source| answer_error("the list of images".into(), source))
}

/// A container the engine lists as made from an image.
#[derive(Debug, Clone)]
pub struct UsingContainer {
    /// Its name (its ID when it has none).
    pub name: String,
    /// Its labels.
    pub labels: std::collections::HashMap<String, String>,
}

impl Engine {
    /// The state of a container (`running`, `created`, `exited`, …), or `None`
    /// when there is no such container.
    pub async fn container_state(&self, name: &str) -> Result<Option<String>, EngineError> {
        Ok(self.inspect_container(name).await?.map(|c| {
            c.state
                .and_then(|s| s.status)
                .map_or_else(|| "unknown".to_owned(), |s| s.to_string())
        }))
    }

    /// The value of the label `label` of the container `name`: `None` when
    /// there is no such container, `Some(None)` when it lacks the label.
    pub async fn container_label(
        &self,
        name: &str,
        label: &str,
    ) -> Result<Option<Option<String>>, EngineError> {
        Ok(self.inspect_container(name).await?.map(|c| {
            c.config
                .and_then(|config| config.labels)
                .and_then(|mut labels| labels.remove(label))
        }))
    }

    /// The engine's answer on the container `name`; `None` when there is none.
    async fn inspect_container(
        &self,
        name: &str,
    ) -> Result<Option<bollard::models::ContainerInspectResponse>, EngineError> {
        let started = Instant::now();
        let container = found(self.lookups().inspect_container(name, None).await, || {
            format!("inspect container `{name}`")
        });
        log_call("inspect container", name, started, &container);
        container
    }

    /// Whether any container, running or not, was made from the image `id`
    /// (or from an image built on it).
    pub async fn image_used(&self, id: &ImageId) -> Result<bool, EngineError> {
        Ok(!self.containers_using(id).await?.is_empty())
    }

    /// The containers, running or not, made from the image `id` (or from an
    /// image built on it).
    pub async fn containers_using(&self, id: &ImageId) -> Result<Vec<UsingContainer>, EngineError> {
        let started = Instant::now();
        let filters = std::collections::HashMap::from([("ancestor", vec![id.as_str()])]);
        let options = bollard::query_parameters::ListContainersOptionsBuilder::new()
            .all(true)
            .filters(&filters)
            .build();
        let listed = self
            .lookups()
            .list_containers(Some(options))
            .await
            .map_err(|source| lookup_error(format!("list the containers of {id}"), source));
        log_call("list containers", id.as_str(), started, &listed);
        Ok(listed?
            .into_iter()
            .map(|c| UsingContainer {
                name: c
                    .names
                    .and_then(|names| names.into_iter().next())
                    .map(|name| name.trim_start_matches('/').to_owned())
                    .or(c.id)
                    .unwrap_or_default(),
                labels: c.labels.unwrap_or_default(),
            })
            .collect())
    }

    /// Removes an image by reference unless a container uses it; `false`
    /// when the engine keeps it for that reason.
    pub async fn remove_image_if_unused(&self, reference: &str) -> Result<bool, EngineError> {
        match self.remove(reference, false).await {
            Ok(()) => Ok(true),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409 | 404,
                ..
            }) => Ok(false),
            Err(source) => Err(api_error(format!("remove image `{reference}`"), source)),
        }
    }

    /// Removes the image `id` once it has no name left, unless a container
    /// uses it. A name it still has is somebody else's (a tag the user gave
    /// it, another program's load of the same image): removing by ID would
    /// take that name, and the image, with it, so both stay.
    pub async fn remove_unnamed_image(&self, id: &ImageId) -> Result<IdRemoval, EngineError> {
        match self.image(id.as_str()).await? {
            None => return Ok(IdRemoval::Gone),
            Some(info) if !info.tags.is_empty() => return Ok(IdRemoval::Named(info.tags)),
            Some(_) => {}
        }
        match self.remove(id.as_str(), false).await {
            Ok(())
            | Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(IdRemoval::Gone),
            Err(bollard::errors::Error::DockerResponseServerError {
                status_code: 409, ..
            }) => Ok(IdRemoval::InUse),
            Err(source) => Err(api_error(format!("remove image {id}"), source)),
        }
    }

    /// Takes the tag `reference` off its image, unless it is the image's
    /// only name (the image would go with it); whether it took it off.
    pub async fn untag(&self, reference: &str) -> Result<bool, EngineError> {
        match self.image(reference).await? {
            Some(info) if info.tags.len() > 1 => self
                .remove(reference, false)
                .await
                .map(|()| true)
                .map_err(|source| api_error(format!("untag `{reference}`"), source)),
            _ => Ok(false),
        }
    }

    async fn remove(&self, name: &str, force: bool) -> Result<(), bollard::errors::Error> {
        let options = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(force)
            .build();
        let started = Instant::now();
        let removed = self
            .docker()
            .remove_image(name, Some(options), None)
            .await
            .map(drop);
        tracing::debug!(
            image = name,
            force,
            elapsed_ms = elapsed_ms(started),
            outcome = match &removed {
                Ok(()) => "removed".to_owned(),
                Err(e) => crate::error_text(e),
            },
            "remove image"
        );
        removed
    }
}
