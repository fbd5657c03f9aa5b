//! `kaspire serve`: the API server (and the controllers that exist) in the foreground.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use tokio::signal::unix::{SignalKind, signal};

use crate::controlplane::ControlPlane;
use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0: the previous run's port if free, else any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

pub async fn run(state_dir: PathBuf, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let state = StateDir::create(state_dir)?;
    let plane = ControlPlane::start(&state, args.port).await?;
    let embedded = &plane.embedded;
    println!(
        "kaspire API server listening on https://127.0.0.1:{} (ready in {} ms)\nkubeconfig: {}\n  export KUBECONFIG={}",
        embedded.port,
        started.elapsed().as_millis(),
        embedded.kubeconfig.display(),
        std::fs::canonicalize(&embedded.kubeconfig)
            .unwrap_or(embedded.kubeconfig.clone())
            .display(),
    );
    wait_for_signal().await?;
    eprintln!("kaspire: ending the session");
    plane.end_session().await?;
    plane.shutdown().await;
    eprintln!("kaspire: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGINT (Ctrl-C) or SIGTERM.
pub async fn wait_for_signal() -> anyhow::Result<()> {
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        _ = interrupt.recv() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}
