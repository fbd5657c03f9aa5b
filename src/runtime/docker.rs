//! The Docker Engine, through its API (bollard) — never the docker CLI.
//!
//! [`Runtime`] connects lazily (an app without Containers never touches Docker), to
//! whatever endpoint the environment names (`DOCKER_HOST`, else the local socket), and
//! negotiates the API version, so engines from 20.10 on work. It remembers whether the
//! engine answered recently, which is what `RuntimeUnhealthy` reports.
//!
//! A running container is a [`ContainerProcess`]: waited on and stopped like a process.
//! Every container kaspire creates carries the [`labels`] that say whose it is.

mod logs;
mod probe;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{
    InspectContainerOptions, KillContainerOptions, RemoveContainerOptions, WaitContainerOptions,
};
use futures::StreamExt;

use crate::runtime::process::{Signal, signal_name};

pub use logs::follow_logs;
pub use probe::{ContainerExec, ImageHealth, exec, exec_lines};

/// Labels on every container, network and volume kaspire creates.
pub mod labels {
    /// `kaspire` on everything kaspire manages.
    pub const MANAGED_BY: &str = "kaspire.dev/managed-by";
    /// The control plane instance (state directory) that created it.
    pub const INSTANCE: &str = "kaspire.dev/instance";
    /// The uid of the Container object.
    pub const UID: &str = "kaspire.dev/uid";
    /// `namespace/name` of the Container object.
    pub const RESOURCE: &str = "kaspire.dev/resource";
    /// The replica index.
    pub const REPLICA: &str = "kaspire.dev/replica";
    /// `Session` or `Persistent`.
    pub const LIFETIME: &str = "kaspire.dev/lifetime";
    /// The lifecycle key the container was created from.
    pub const LIFECYCLE_KEY: &str = "kaspire.dev/lifecycle-key";
    /// The id of the image the container was created from.
    pub const IMAGE_ID: &str = "kaspire.dev/image-id";
}

/// How long a verdict on the engine's health is trusted before asking again.
const HEALTH_TTL: Duration = Duration::from_millis(500);

/// The connection to the Docker Engine, made on first use.
#[derive(Default)]
pub struct Runtime {
    state: tokio::sync::Mutex<Option<Docker>>,
    /// When the engine last answered a ping or failed to, and how.
    health: Mutex<Option<(Instant, Result<(), String>)>>,
}

impl Runtime {
    /// A client of the engine, connecting (and negotiating the API version) if needed.
    pub async fn client(&self) -> Result<Docker, String> {
        let mut state = self.state.lock().await;
        if let Some(docker) = &*state {
            return Ok(docker.clone());
        }
        let docker = Docker::connect_with_defaults()
            .map_err(|e| unreachable_message(&e.to_string()))?
            .negotiate_version()
            .await
            .map_err(|e| unreachable_message(&e.to_string()))?;
        *state = Some(docker.clone());
        Ok(docker)
    }

    /// Whether this control plane has talked to the engine (an app without Containers
    /// never has).
    pub async fn connected(&self) -> bool {
        self.state.lock().await.is_some()
    }

    /// Why the engine cannot be used right now, or `None` when it answers. Cached
    /// briefly: every Container's reconcile asks.
    pub async fn problem(&self) -> Option<String> {
        if let Some((at, verdict)) = &*lock(&self.health)
            && at.elapsed() < HEALTH_TTL
        {
            return verdict.clone().err();
        }
        let verdict = match self.client().await {
            Ok(docker) => match docker.ping().await {
                Ok(_) => Ok(()),
                Err(e) => {
                    // Reconnect next time: the engine may come back on another version.
                    *self.state.lock().await = None;
                    Err(unreachable_message(&e.to_string()))
                }
            },
            Err(message) => Err(message),
        };
        *lock(&self.health) = Some((Instant::now(), verdict.clone()));
        verdict.err()
    }
}

fn unreachable_message(error: &str) -> String {
    let endpoint =
        std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into());
    format!(
        "the Docker Engine at {endpoint} is unreachable ({error}); start Docker, or point DOCKER_HOST at a running engine — Containers recover on their own when it answers"
    )
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// One container on one engine.
#[derive(Clone, Debug)]
pub struct ContainerRef {
    pub docker: Docker,
    pub id: String,
}

impl ContainerRef {
    /// What the engine knows about the container now.
    pub async fn inspect(&self) -> Result<ContainerInspectResponse, bollard::errors::Error> {
        self.docker
            .inspect_container(&self.id, None::<InspectContainerOptions>)
            .await
    }

    /// Removes the container (stopping it first if it runs), with its anonymous volumes.
    pub async fn remove(&self) {
        let options = RemoveContainerOptions {
            force: true,
            v: true,
            ..Default::default()
        };
        let _ = self.docker.remove_container(&self.id, Some(options)).await;
    }

    /// Removes the container and waits until the engine no longer knows it (a removal
    /// already under way elsewhere — a Session replica's stop — makes `remove` return
    /// early, and its name is taken until that one finishes).
    pub async fn remove_and_wait(&self) {
        self.remove().await;
        let deadline = Instant::now() + Duration::from_secs(15);
        while Instant::now() < deadline {
            match self.inspect().await {
                Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404, ..
                }) => return,
                Err(_) => return,
                Ok(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    self.remove().await;
                }
            }
        }
    }
}

/// A replica running as a container: waited on and stopped like a process.
#[derive(Clone, Debug)]
pub struct ContainerProcess {
    pub container: ContainerRef,
    /// The id, also in [`ContainerRef`]; here for cheap comparisons.
    pub id: String,
    /// The container's main process on the host (0 when the engine does not say).
    pub pid: i32,
    /// Remove the container once stopped (Session lifetime); Persistent ones stay.
    pub remove_on_stop: bool,
}

impl ContainerProcess {
    /// Waits until the container is not running; its exit code, or `None` when it
    /// disappeared. Rides out an engine that is briefly unreachable.
    pub async fn wait(&self) -> Option<i32> {
        loop {
            let options = WaitContainerOptions {
                condition: "not-running".into(),
            };
            let mut stream = self
                .container
                .docker
                .wait_container(&self.id, Some(options));
            match stream.next().await {
                Some(Ok(response)) => return Some(response.status_code as i32),
                Some(Err(bollard::errors::Error::DockerContainerWaitError { code, .. })) => {
                    return Some(code as i32);
                }
                Some(Err(bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                })) => return None,
                // The engine went away (or the stream broke): look again shortly.
                Some(Err(_)) | None => tokio::time::sleep(Duration::from_secs(1)).await,
            }
            if let Ok(state) = self.container.inspect().await
                && state.state.as_ref().and_then(|s| s.running) == Some(false)
            {
                return state
                    .state
                    .and_then(|s| s.exit_code)
                    .map(|code| code as i32);
            }
        }
    }

    /// Sends `signal`, then SIGKILL after `timeout`; removes a Session container.
    pub async fn stop(&self, signal: Signal, timeout: Duration) {
        let docker = &self.container.docker;
        let kill = |signal: Signal| KillContainerOptions {
            signal: signal_name(signal.as_raw()),
        };
        if docker
            .kill_container(&self.id, Some(kill(signal)))
            .await
            .is_ok()
            && tokio::time::timeout(timeout, self.wait()).await.is_err()
        {
            let _ = docker
                .kill_container(&self.id, Some(kill(Signal::KILL)))
                .await;
            let _ = tokio::time::timeout(Duration::from_secs(10), self.wait()).await;
        }
        if self.remove_on_stop {
            self.container.remove().await;
        }
    }
}
