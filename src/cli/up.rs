//! `kaspire up -f FILE… [--detach] [--wait [--timeout S]]`: a control plane (API server,
//! log store, controllers), the files server-side applied to it (field manager
//! `kaspire-up`, pruning what the files no longer hold), then a live status view until
//! Ctrl-C or SIGTERM ends the session. `--detach` runs the control plane in the
//! background instead and returns; `--wait` returns once the app is up.

mod apply;
mod detach;
mod view;
mod wait;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;

use super::connect::{connect, running_pid};
use super::serve::Signals;
use crate::controlplane::ControlPlane;
use crate::state_dir::StateDir;

/// The field manager `kaspire up` applies with.
pub const MANAGER: &str = "kaspire-up";

#[derive(Debug, Args)]
pub struct UpArgs {
    /// App files (YAML, several documents each); repeat -f for more.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// API server port on 127.0.0.1 (0: the previous run's port if free, else any).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Run the control plane in the background, apply the files and return; a control
    /// plane already running for the state dir gets the files applied instead.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Return once every resource is Ready (or Finished); fail as soon as one ends
    /// FailedToStart or Exited. Implies --detach.
    #[arg(long)]
    pub wait: bool,
    /// With --wait: give up after this many seconds.
    #[arg(long, default_value_t = 300.0, requires = "wait")]
    pub timeout: f64,
}

pub async fn run(state_dir: PathBuf, args: UpArgs) -> anyhow::Result<ExitCode> {
    let documents = apply::load(&args.files)?;
    if args.detach || args.wait {
        detached(state_dir, args, documents).await
    } else {
        foreground(state_dir, args, documents).await
    }
}

async fn foreground(
    state_dir: PathBuf,
    args: UpArgs,
    documents: Vec<apply::Document>,
) -> anyhow::Result<ExitCode> {
    // Installed first, so a Ctrl-C while starting still ends the session cleanly.
    let mut signals = Signals::new()?;
    let started = Instant::now();
    let state = StateDir::create(&state_dir)?;
    if let Some(pid) = running_pid(&state) {
        bail!(
            "a control plane is already running for state dir {} (pid {pid}); apply the files to it with \
             `kaspire up --detach -f …`, or end it first with `kaspire down`",
            state_dir.display()
        );
    }
    let control_plane = ControlPlane::start(&state, args.port).await?;
    let kubeconfig = state.kubeconfig();
    println!(
        "control plane ready in {} ms — KUBECONFIG={}",
        started.elapsed().as_millis(),
        std::fs::canonicalize(&kubeconfig)
            .unwrap_or(kubeconfig)
            .display()
    );
    let client = control_plane.client();
    if let Err(error) = apply::apply_all(&client, &documents).await {
        end(control_plane, &mut signals).await;
        return Err(error);
    }
    let view = tokio::spawn(view::follow(client));
    signals.recv().await;
    println!("kaspire: ending the session — stopping its resources (Ctrl-C again to skip)");
    end(control_plane, &mut signals).await;
    view.abort();
    println!("kaspire: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Ends the session (a second signal skips the wait) and shuts the control plane down.
pub async fn end(control_plane: ControlPlane, signals: &mut Signals) {
    tokio::select! {
        ended = control_plane.end_session() => {
            if let Err(error) = ended {
                eprintln!("kaspire: the session did not end cleanly: {error:#}");
            }
        }
        () = signals.recv() => {
            eprintln!("kaspire: not waiting for the session's resources to stop; the next start cleans up");
        }
    }
    control_plane.shutdown().await;
}

async fn detached(
    state_dir: PathBuf,
    args: UpArgs,
    documents: Vec<apply::Document>,
) -> anyhow::Result<ExitCode> {
    let state = StateDir::create(&state_dir)?;
    let client = match running_pid(&state) {
        Some(pid) => {
            println!(
                "applying to the control plane already running for this state dir (pid {pid})"
            );
            connect(&state).await?
        }
        None => detach::spawn_control_plane(&state, args.port).await?,
    };
    let applied = apply::apply_all(&client, &documents).await?;
    let code = if args.wait {
        let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
        wait::until_ready(&client, &applied, timeout).await?
    } else {
        ExitCode::SUCCESS
    };
    print_hints(&state_dir);
    Ok(code)
}

/// How to follow and end a detached app, with `--state-dir` when it is not the default.
fn print_hints(state_dir: &Path) {
    let flag =
        if state_dir == Path::new(".kaspire") || std::env::var_os("KASPIRE_STATE_DIR").is_some() {
            String::new()
        } else {
            format!(" --state-dir {}", state_dir.display())
        };
    println!(
        "follow it with:\n  kaspire{flag} get            # state, health and URLs\n  \
         kaspire{flag} logs NAME -f   # output of one resource\n  \
         kaspire{flag} down           # end the session"
    );
}
