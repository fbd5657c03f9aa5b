//! `kaspire serve`: the control plane (API server, log store, controllers) in the
//! foreground; Ctrl-C or SIGTERM (what `kaspire down` sends) ends the session, then
//! shuts down.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use tokio::signal::unix::{Signal, SignalKind, signal};

use crate::controlplane::ControlPlane;
use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Port on 127.0.0.1 (0: the previous run's port if free, else any free port).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Serve the API only: no controllers run anything (for controllers elsewhere, or
    /// for testing API clients against the store alone).
    #[arg(long)]
    pub no_controllers: bool,
}

pub async fn run(state_dir: PathBuf, args: ServeArgs) -> anyhow::Result<ExitCode> {
    let mut signals = Signals::new()?;
    let started = Instant::now();
    let state = StateDir::create(state_dir)?;
    if args.no_controllers {
        let embedded = crate::apiserver::embedded::Embedded::start(&state, args.port).await?;
        print_ready(embedded.port, started, &state);
        signals.recv().await;
        embedded.shutdown();
        return Ok(ExitCode::SUCCESS);
    }
    let control_plane = ControlPlane::start(&state, args.port).await?;
    print_ready(control_plane.embedded.port, started, &state);
    signals.recv().await;
    eprintln!("kaspire: ending the session");
    super::up::end(control_plane, &mut signals).await;
    eprintln!("kaspire: stopped");
    Ok(ExitCode::SUCCESS)
}

/// The first line (the port) is what scripts and tests wait for.
fn print_ready(port: u16, started: Instant, state: &StateDir) {
    let kubeconfig = state.kubeconfig();
    println!(
        "kaspire API server listening on https://127.0.0.1:{} (ready in {} ms)\nkubeconfig: {}\n  export KUBECONFIG={}",
        port,
        started.elapsed().as_millis(),
        kubeconfig.display(),
        std::fs::canonicalize(&kubeconfig)
            .unwrap_or(kubeconfig.clone())
            .display(),
    );
}

/// SIGINT (Ctrl-C) and SIGTERM, installed once so a signal arriving at any point after
/// is seen (not the default action, which would kill the process mid-session).
pub struct Signals {
    interrupt: Signal,
    terminate: Signal,
}

impl Signals {
    pub fn new() -> anyhow::Result<Signals> {
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Waits for the next SIGINT or SIGTERM.
    pub async fn recv(&mut self) {
        tokio::select! {
            _ = self.interrupt.recv() => {}
            _ = self.terminate.recv() => {}
        }
    }
}
