//! Commands run inside a container (`exec` health checks, a Value's `onParentReady`),
//! and the verdict of an image's own HEALTHCHECK, as [`Prober`]s for the check loop.

use std::time::Duration;

use bollard::container::LogOutput;
use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::models::HealthStatusEnum;
use futures::StreamExt;

use super::ContainerRef;
use crate::runtime::probe::{ProbeOutcome, Prober};
use crate::runtime::process::Stream;

/// Output kept for a probe's message.
const MAX_OUTPUT: usize = 4096;

/// Runs `command` inside the container, handing each chunk of output to `output`;
/// returns the exit code. The error says what went wrong, in words for the user.
pub async fn exec(
    container: &ContainerRef,
    command: &[String],
    mut output: impl FnMut(Stream, &[u8]) + Send,
) -> Result<i64, String> {
    let shown = command.join(" ");
    let options = CreateExecOptions {
        cmd: Some(command.to_vec()),
        attach_stdout: Some(true),
        attach_stderr: Some(true),
        ..Default::default()
    };
    let docker = &container.docker;
    let created = docker
        .create_exec(&container.id, options)
        .await
        .map_err(|e| format!("cannot run `{shown}` in the container: {e}"))?;
    match docker.start_exec(&created.id, None).await {
        Ok(StartExecResults::Attached {
            output: mut out, ..
        }) => {
            while let Some(Ok(chunk)) = out.next().await {
                match chunk {
                    LogOutput::StdErr { message } => output(Stream::Stderr, &message),
                    LogOutput::StdOut { message } | LogOutput::Console { message } => {
                        output(Stream::Stdout, &message)
                    }
                    LogOutput::StdIn { .. } => {}
                }
            }
        }
        Ok(StartExecResults::Detached) => {}
        Err(e) => return Err(format!("cannot run `{shown}` in the container: {e}")),
    }
    let inspected = docker
        .inspect_exec(&created.id)
        .await
        .map_err(|e| format!("cannot learn how `{shown}` ended: {e}"))?;
    inspected
        .exit_code
        .ok_or_else(|| format!("`{shown}` did not report an exit code"))
}

/// Runs `command` inside the container with its output, line by line, into `sink`;
/// returns the exit code.
pub async fn exec_lines(
    container: &ContainerRef,
    command: &[String],
    sink: &dyn crate::runtime::process::OutputSink,
) -> Result<i64, String> {
    let mut lines = super::logs::Lines::default();
    let code = exec(container, command, |stream, chunk| {
        lines.push(stream, chunk, sink)
    })
    .await;
    lines.flush(sink);
    code
}

/// An `exec` health check: healthy iff the command exits with 0 inside the container.
pub struct ContainerExec {
    container: ContainerRef,
    command: Vec<String>,
}

impl ContainerExec {
    pub fn new(container: ContainerRef, command: Vec<String>) -> Self {
        Self { container, command }
    }
}

impl Prober for ContainerExec {
    async fn probe(&self, timeout: Duration) -> ProbeOutcome {
        let shown = self.command.join(" ");
        let mut captured = Vec::new();
        let run = exec(&self.container, &self.command, |_, chunk| {
            if captured.len() < MAX_OUTPUT {
                captured.extend_from_slice(chunk);
            }
        });
        match tokio::time::timeout(timeout, run).await {
            Ok(Ok(0)) => ProbeOutcome::healthy(format!("`{shown}` exited with 0 in the container")),
            Ok(Ok(code)) => {
                let text = String::from_utf8_lossy(&captured);
                let first = text.lines().next().unwrap_or("").trim();
                ProbeOutcome::unhealthy(format!(
                    "`{shown}` exited with {code} in the container{}",
                    if first.is_empty() {
                        String::new()
                    } else {
                        format!(": {first}")
                    }
                ))
            }
            Ok(Err(message)) => ProbeOutcome::unhealthy(message),
            Err(_) => ProbeOutcome::unhealthy(format!(
                "`{shown}` did not finish within {} s in the container",
                timeout.as_secs_f64()
            )),
        }
    }
}

/// The image's HEALTHCHECK, as the engine runs and reports it.
pub struct ImageHealth {
    container: ContainerRef,
}

impl ImageHealth {
    pub fn new(container: ContainerRef) -> Self {
        Self { container }
    }
}

impl Prober for ImageHealth {
    async fn probe(&self, timeout: Duration) -> ProbeOutcome {
        let inspected = match tokio::time::timeout(timeout, self.container.inspect()).await {
            Ok(Ok(inspected)) => inspected,
            Ok(Err(e)) => {
                return ProbeOutcome::unhealthy(format!("cannot inspect the container: {e}"));
            }
            Err(_) => return ProbeOutcome::unhealthy("the engine did not answer in time"),
        };
        let health = inspected.state.and_then(|s| s.health);
        let last = health
            .as_ref()
            .and_then(|h| h.log.as_ref()?.last().cloned())
            .and_then(|r| r.output)
            .map(|o| o.trim().to_owned())
            .unwrap_or_default();
        match health.and_then(|h| h.status) {
            Some(HealthStatusEnum::HEALTHY) => {
                ProbeOutcome::healthy("the image's HEALTHCHECK passes")
            }
            Some(HealthStatusEnum::UNHEALTHY) => {
                ProbeOutcome::unhealthy(format!("the image's HEALTHCHECK fails: {last}"))
            }
            _ => ProbeOutcome::unhealthy("the image's HEALTHCHECK has not passed yet"),
        }
    }
}
