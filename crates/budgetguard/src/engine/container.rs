//! Running a one-off container of an image to its end: the NIM utilities that
//! fill and list a model cache. Its output is passed on line by line; the
//! container is removed whatever happens. A fill may print nothing for long
//! stretches (a NIM downloading a large file), so its log has no idle limit;
//! instead the container is looked up every [`WATCH_EVERY`] (or the idle
//! limit, when shorter), and an engine that does not answer that lookup ends
//! the run with [`EngineError::Stalled`]. A run with a time limit (the GPU
//! probe) is removed and ends with [`EngineError::Stalled`] past it.

use bollard::models::{ContainerCreateBody, DeviceRequest, HostConfig};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
};
use std::time::Duration;

use futures_util::StreamExt;

use super::gpu::GpuRequest;
use super::{api_error, idle, Engine, EngineError};
use crate::Cancel;

/// A one-off container.
#[derive(Debug, Clone)]
pub struct RunSpec {
    /// The image.
    pub image: String,
    /// The command.
    pub command: Vec<String>,
    /// The entrypoint in place of the image's, when set.
    pub entrypoint: Option<Vec<String>>,
    /// `uid:gid` to run as, when not the image's user.
    pub user: Option<String>,
    /// `NAME=value` variables.
    pub env: Vec<String>,
    /// `host:container[:ro]` bind mounts.
    pub binds: Vec<String>,
    /// `host` or `none`.
    pub network: String,
    /// What it is for, in its name and label (`fill`, `list`).
    pub purpose: &'static str,
    /// The GPU it asks for, as a node's Compose file would.
    pub gpu: Option<GpuRequest>,
    /// How long it may take from its creation to its end, when bounded.
    pub limit: Option<Duration>,
}

/// How a one-off container ended.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// Its exit code.
    pub exit_code: i64,
    /// Its standard output, whole.
    pub stdout: String,
    /// The last lines it printed on either stream.
    pub tail: Vec<String>,
}

/// Lines of output kept for [`RunOutput::tail`].
const TAIL: usize = 20;
/// Standard output kept, at most.
const MAX_STDOUT: usize = 1 << 20;
/// How often a running one-off container is looked up.
const WATCH_EVERY: Duration = Duration::from_secs(60);

impl Engine {
    /// Creates, starts and waits for a container as `spec` says, calling
    /// `on_line` for each line it prints; removes it at the end, or at once
    /// when `cancel` fires (then [`EngineError::Cancelled`]) or the engine
    /// stops answering lookups of it (then that lookup's error).
    pub async fn run_to_end(
        &self,
        spec: &RunSpec,
        on_line: &mut (dyn FnMut(&str) + Send),
        cancel: &Cancel,
    ) -> Result<RunOutput, EngineError> {
        let name = format!(
            "budgetguard-{}-{}-{}",
            spec.purpose,
            std::process::id(),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.subsec_nanos())
        );
        let body = ContainerCreateBody {
            image: Some(spec.image.clone()),
            cmd: Some(spec.command.clone()),
            entrypoint: spec.entrypoint.clone(),
            user: spec.user.clone(),
            env: Some(spec.env.clone()),
            labels: Some([("com.budgetguard.job".to_owned(), spec.purpose.to_owned())].into()),
            host_config: Some(HostConfig {
                binds: Some(spec.binds.clone()),
                network_mode: Some(spec.network.clone()),
                device_requests: spec.gpu.map(|gpu| vec![device_request(gpu)]),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.docker()
            .create_container(
                Some(CreateContainerOptionsBuilder::new().name(&name).build()),
                body,
            )
            .await
            .map_err(|source| {
                api_error(format!("create a container of `{}`", spec.image), source)
            })?;
        let limit = spec.limit.unwrap_or(Duration::MAX);
        let ran = tokio::select! {
            ran = self.follow(&name, on_line) => ran,
            hung = self.watch(&name) => Err(hung),
            _ = cancel.cancelled() => Err(EngineError::Cancelled),
            _ = tokio::time::sleep(limit) => Err(EngineError::Stalled {
                action: format!("running the `{}` container of `{}`", spec.purpose, spec.image),
                seconds: limit.as_secs(),
            }),
        };
        let _ = self
            .docker()
            .remove_container(
                &name,
                Some(RemoveContainerOptionsBuilder::new().force(true).build()),
            )
            .await;
        ran
    }

    /// Looks the container `name` up at intervals while it runs; returns the
    /// first lookup that fails (an engine that hangs: a stalled lookup).
    async fn watch(&self, name: &str) -> EngineError {
        let every = WATCH_EVERY.min(idle::limit());
        loop {
            tokio::time::sleep(every).await;
            if let Err(error) = self.container_state(name).await {
                return error;
            }
        }
    }

    /// Starts the container `name` and reads its output until it exits.
    async fn follow(
        &self,
        name: &str,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<RunOutput, EngineError> {
        self.docker()
            .start_container(name, None)
            .await
            .map_err(|source| api_error(format!("start container `{name}`"), source))?;
        let options = LogsOptionsBuilder::new()
            .follow(true)
            .stdout(true)
            .stderr(true)
            .build();
        let mut logs = self.streams().logs(name, Some(options));
        let (mut stdout, mut tail) = (String::new(), Vec::new());
        let mut partial = String::new();
        while let Some(item) = logs.next().await {
            let item =
                item.map_err(|source| api_error(format!("read the output of `{name}`"), source))?;
            let is_stdout = matches!(item, bollard::container::LogOutput::StdOut { .. });
            let text = String::from_utf8_lossy(&item.into_bytes()).into_owned();
            if is_stdout && stdout.len() < MAX_STDOUT {
                stdout.push_str(&text);
            }
            partial.push_str(&text);
            while let Some(end) = partial.find(['\n', '\r']) {
                let line = partial[..end].trim_end().to_owned();
                partial.drain(..=end);
                if !line.is_empty() {
                    on_line(&line);
                    tail.push(line);
                    if tail.len() > TAIL {
                        tail.remove(0);
                    }
                }
            }
        }
        let mut waited = self.streams().wait_container(name, None);
        let exit_code = match waited.next().await {
            Some(Ok(answer)) => answer.status_code,
            Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => code,
            Some(Err(source)) => return Err(api_error(format!("wait for `{name}`"), source)),
            None => -1,
        };
        Ok(RunOutput {
            exit_code,
            stdout,
            tail,
        })
    }
}

/// The engine's form of `gpu`: what Compose sends for the device
/// reservation of a node's Compose file.
fn device_request(gpu: GpuRequest) -> DeviceRequest {
    let device_ids = gpu.device_ids();
    DeviceRequest {
        driver: Some(gpu.driver().to_owned()),
        count: gpu.count().map(i64::from),
        device_ids: (!device_ids.is_empty()).then_some(device_ids),
        capabilities: Some(vec![gpu.capabilities()]),
        ..Default::default()
    }
}
