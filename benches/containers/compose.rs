//! The app under `docker-compose` (Debian's 1.29): one service per container with
//! `depends_on: {cN: {condition: service_healthy}}` and `healthcheck: test: [CMD, test,
//! -f, /tmp/ready]`, brought up with `docker-compose up -d` and timed from its exec to
//! the Engine's last `health_status: healthy` event of the project.
//!
//! What Compose allows: it waits for a dependency's Docker health, and Docker runs the
//! first probe one `interval` after the start (default 30 s). The Engine refuses an
//! interval under 1 ms ("Interval in Healthcheck cannot be less than 1ms"); `0s` means
//! the default. `start_interval` (a fast interval during `start_period`) needs Engine API
//! 1.44 (Docker 25) and the Compose Specification of Compose v2: Compose 1.29 rejects the
//! key and Engine 20.10 (API 1.41) would ignore it. `timeout`, `retries` and
//! `start_period` only matter when a probe fails, so they stay at their defaults.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use bollard::Docker;
use serde_json::{Value, json};

use crate::engine;
use crate::graph::{READY_CHECK, SCRIPT, Shape, count, service};

/// A healthcheck setting for every service.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Row label and part of the project name.
    pub name: &'static str,
    /// `healthcheck.interval`; None keeps Docker's default (30 s).
    pub interval: Option<&'static str>,
    /// The interval in seconds, for the time budget.
    pub interval_secs: f64,
}

pub const DEFAULT: Settings = Settings {
    name: "default",
    interval: None,
    interval_secs: 30.0,
};
/// kaspire's own fast-probe interval (until the first success): the like-for-like row.
pub const INTERVAL_100MS: Settings = Settings {
    name: "100ms",
    interval: Some("100ms"),
    interval_secs: 0.1,
};
/// The smallest interval the Engine accepts.
pub const MINIMUM: Settings = Settings {
    name: "1ms",
    interval: Some("1ms"),
    interval_secs: 0.001,
};

/// One timed `up`: exec -> all healthy, and exec -> `up -d` returned (ms).
pub struct Timing {
    pub all_healthy: f64,
    pub up_returned: Option<f64>,
}

/// The compose file (JSON, which is YAML) of `shape` under `settings`.
pub fn compose_file(shape: Shape, settings: Settings, image: &str) -> Value {
    let mut services = serde_json::Map::new();
    for i in 0..count() {
        let mut healthcheck =
            json!({"test": ["CMD", READY_CHECK[0], READY_CHECK[1], READY_CHECK[2]]});
        if let Some(interval) = settings.interval {
            healthcheck["interval"] = json!(interval);
        }
        let mut svc = json!({
            "image": image,
            "entrypoint": ["/bin/sh"],
            "command": ["-c", SCRIPT],
            "healthcheck": healthcheck,
        });
        if let Some(dep) = shape.waits_for(i) {
            svc["depends_on"] = json!({service(dep): {"condition": "service_healthy"}});
        }
        services.insert(service(i), svc);
    }
    json!({"services": services})
}

/// Brings the app up as project `project`, times it, and takes it down again (also
/// when it failed). `dir` receives the compose file and Compose's output.
pub async fn run(
    docker: &Docker,
    shape: Shape,
    settings: Settings,
    image: &str,
    dir: &Path,
    project: &str,
) -> anyhow::Result<Timing> {
    let file = dir.join(format!("{project}.yml"));
    std::fs::write(
        &file,
        serde_json::to_string_pretty(&compose_file(shape, settings, image))?,
    )?;
    let log = dir.join(format!("{project}.log"));
    // Every step waits at least one interval for the first probe; the rest is slack
    // for a loaded machine.
    let timeout = Duration::from_secs_f64(shape.depth() as f64 * settings.interval_secs * 1.5)
        + Duration::from_secs(300);
    let result = timed_up(docker, &file, &log, project, timeout).await;
    let left = down(docker, &file, project).await;
    if left > 0 {
        eprintln!("  compose {project}: `down` left {left} containers/networks (removed)");
    }
    result.map_err(|e| anyhow::anyhow!("{e} (Compose's output: {})", log.display()))
}

async fn timed_up(
    docker: &Docker,
    file: &Path,
    log: &Path,
    project: &str,
    timeout: Duration,
) -> anyhow::Result<Timing> {
    let label = format!("com.docker.compose.project={project}");
    let since = engine::since_now();
    let started = Instant::now();
    let mut up = compose(file, project)
        .args(["up", "-d"])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(log)?)
        .spawn()?;
    let mut returned = None;
    let healthy = {
        let filter = engine::filters(&[("label", &label)]);
        let healthy = engine::all_healthy(docker, filter, &since, count(), timeout);
        tokio::pin!(healthy);
        // `up -d` returns once the last service is started, usually before it is healthy;
        // when it fails instead, stop waiting at once.
        tokio::select! {
            at = &mut healthy => at,
            status = up.wait() => {
                let status = status?;
                anyhow::ensure!(status.success(), "docker-compose up -d failed: {status}");
                returned = Some(Instant::now());
                healthy.await
            }
        }
    };
    let healthy = healthy.ok_or_else(|| {
        anyhow::anyhow!(
            "not all {} services were healthy within {timeout:?}",
            count()
        )
    })?;
    if returned.is_none()
        && let Ok(Ok(status)) = tokio::time::timeout(Duration::from_secs(60), up.wait()).await
        && status.success()
    {
        returned = Some(Instant::now());
    }
    let ms = |at: Instant| crate::common::ms(at - started);
    Ok(Timing {
        all_healthy: ms(healthy),
        up_returned: returned.map(ms),
    })
}

/// `docker-compose down -t 0 -v --remove-orphans`, then a sweep by the project label
/// for anything it missed; how many things the sweep removed.
async fn down(docker: &Docker, file: &Path, project: &str) -> usize {
    let _ = compose(file, project)
        .args(["down", "-t", "0", "-v", "--remove-orphans"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .await;
    let filter = engine::filters(&[("label", &format!("com.docker.compose.project={project}"))]);
    engine::remove_containers(docker, filter.clone()).await
        + engine::remove_networks(docker, filter).await
}

fn compose(file: &Path, project: &str) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(compose_binary());
    cmd.arg("-p")
        .arg(project)
        .arg("-f")
        .arg(file)
        .env("COMPOSE_INTERACTIVE_NO_CLI", "1")
        .kill_on_drop(true);
    cmd
}

/// `DOCKER_COMPOSE` or `docker-compose` on PATH.
pub fn compose_binary() -> PathBuf {
    std::env::var_os("DOCKER_COMPOSE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("docker-compose"))
}

/// `docker-compose version --short`, or None when it does not run.
pub fn version() -> Option<String> {
    let out = std::process::Command::new(compose_binary())
        .args(["version", "--short"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}
