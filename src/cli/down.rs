//! `kaspire down [--timeout S]`: ends the session of the control plane running for this
//! state dir. It sends SIGTERM to the pid in the pid file — the control plane's handler
//! stops and deletes the Session resources, waits for their processes, then exits — and
//! waits until that process is gone.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use rustix::process::{Pid, Signal, kill_process};

use super::connect::{is_alive, log_file, running_pid};
use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct DownArgs {
    /// Give up waiting for the session to end after this many seconds.
    #[arg(long, default_value_t = 120.0)]
    pub timeout: f64,
}

pub async fn run(state_dir: PathBuf, args: DownArgs) -> anyhow::Result<ExitCode> {
    let state = StateDir::at(&state_dir);
    let Some(pid) = running_pid(&state) else {
        println!(
            "no control plane is running for state dir {}; nothing to do",
            state_dir.display()
        );
        return Ok(ExitCode::SUCCESS);
    };
    let started = Instant::now();
    let target = Pid::from_raw(pid).context("the pid file holds an invalid pid")?;
    kill_process(target, Signal::TERM)
        .with_context(|| format!("cannot signal the control plane (pid {pid})"))?;
    println!("ending the session of the control plane (pid {pid})…");
    let deadline = started + Duration::from_secs_f64(args.timeout.max(0.0));
    while is_alive(pid) {
        if Instant::now() > deadline {
            let log = log_file(&state);
            let log = if log.exists() {
                format!(" (its output: {})", log.display())
            } else {
                String::new()
            };
            eprintln!(
                "the control plane (pid {pid}) is still ending its session after {} s{log}; \
                 run `kaspire down` again to keep waiting, or `kill -KILL {pid}` to end it at once \
                 (its Session processes are then cleaned up at the next start)",
                args.timeout,
            );
            return Ok(ExitCode::FAILURE);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!(
        "session ended, control plane stopped after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    Ok(ExitCode::SUCCESS)
}
