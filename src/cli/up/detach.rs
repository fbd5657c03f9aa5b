//! `kaspire up --detach`: the control plane as a background `kaspire serve` in its own
//! process group (a Ctrl-C in the terminal does not reach it), its output in the state
//! dir, and a client once it answers.

use std::os::unix::process::CommandExt;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::cli::connect::{connect, log_file};
use crate::state_dir::StateDir;

/// How long a control plane may take to answer after it was spawned.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Spawns `kaspire serve` for `state` in the background and waits until it answers.
pub async fn spawn_control_plane(state: &StateDir, port: u16) -> anyhow::Result<kube::Client> {
    let started = Instant::now();
    let exe = std::env::current_exe().context("cannot find the kaspire binary to run")?;
    let root = std::fs::canonicalize(state.root())?;
    let log_path = log_file(state);
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("cannot open {}", log_path.display()))?;
    let mut child = Command::new(exe)
        .arg("--state-dir")
        .arg(&root)
        .args(["serve", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(log.try_clone()?)
        .stderr(log)
        .process_group(0)
        .spawn()
        .context("cannot start the control plane in the background")?;
    loop {
        if let Ok(client) = connect(state).await {
            println!(
                "control plane running in the background (pid {}), ready in {} ms; its output: {}",
                child.id(),
                started.elapsed().as_millis(),
                log_path.display()
            );
            return Ok(client);
        }
        if let Some(status) = child.try_wait()? {
            bail!(
                "the control plane exited ({status}) while starting; its output ({}):\n{}",
                log_path.display(),
                tail(&log_path)
            );
        }
        if started.elapsed() > START_TIMEOUT {
            bail!(
                "the control plane (pid {}) did not answer within {} s; its output is in {}",
                child.id(),
                START_TIMEOUT.as_secs(),
                log_path.display()
            );
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn tail(path: &std::path::Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}
