//! The `kaspire` command line: one file per subcommand under `cli/`.

mod connect;
mod crds;
mod documents;
mod down;
mod get;
mod kubeconfig;
mod logs;
mod publish;
mod request;
mod resources;
mod serve;
mod up;
mod watchdog;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// kaspire runs a developer's distributed app — processes, containers, parameters —
/// from YAML, with a Kubernetes-compatible control plane that kubectl works against.
#[derive(Debug, Parser)]
#[command(name = "kaspire", version, about, propagate_version = true)]
pub struct Cli {
    /// Where the store, TLS material, kubeconfig and logs live.
    #[arg(
        long,
        global = true,
        env = "KASPIRE_STATE_DIR",
        default_value = ".kaspire"
    )]
    pub state_dir: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an app: control plane, apply the files (pruning what they no longer hold), live
    /// status until Ctrl-C ends the session; or --detach / --wait to return.
    Up(up::UpArgs),
    /// Run the API server and controllers until interrupted (Ctrl-C / SIGTERM).
    Serve(serve::ServeArgs),
    /// List every kaspire resource: state, health, URL, restarts, age, what it waits on.
    Get(get::GetArgs),
    /// Print (or follow with -f) the output of a resource.
    Logs(logs::LogsArgs),
    /// Start a resource (explicit start, stopped or waiting) and report the state it reaches.
    Start(request::RequestArgs),
    /// Stop a resource and report the state it reaches.
    Stop(request::RequestArgs),
    /// Restart a resource and report the state it reaches.
    Restart(request::RequestArgs),
    /// End the session of the control plane running for this state dir.
    Down(down::DownArgs),
    /// Print the kubeconfig of the running control plane (or its path with --path).
    Kubeconfig(kubeconfig::KubeconfigArgs),
    /// Print the CustomResourceDefinitions of kaspire's kinds (or write them with --dir).
    Crds(crds::CrdsArgs),
    /// Internal: started by the control plane to stop its Session processes if it dies.
    #[command(name = "__watchdog", hide = true)]
    Watchdog(watchdog::WatchdogArgs),
    /// Write the app as an Aspire manifest (expressions kept as placeholders; nothing runs).
    Publish(publish::PublishArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_tracing();
    let result = match cli.command {
        Command::Up(args) => run_async(up::run(cli.state_dir, args)),
        Command::Serve(args) => run_async(serve::run(cli.state_dir, args)),
        Command::Get(args) => run_async(get::run(cli.state_dir, args)),
        Command::Logs(args) => run_async(logs::run(cli.state_dir, args)),
        Command::Start(args) => {
            run_async(request::run(cli.state_dir, request::Request::Start, args))
        }
        Command::Stop(args) => run_async(request::run(cli.state_dir, request::Request::Stop, args)),
        Command::Restart(args) => {
            run_async(request::run(cli.state_dir, request::Request::Restart, args))
        }
        Command::Down(args) => run_async(down::run(cli.state_dir, args)),
        Command::Kubeconfig(args) => kubeconfig::run(&cli.state_dir, args),
        Command::Crds(args) => crds::run(args),
        Command::Watchdog(args) => watchdog::run(args),
        Command::Publish(args) => publish::run(args),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn run_async<F: std::future::Future<Output = anyhow::Result<ExitCode>>>(
    future: F,
) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(future);
    // Every task was told to stop; one that does not (a blocked read) must not keep
    // the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_secs(2));
    result
}

/// Diagnostics go to stderr; `KASPIRE_LOG` takes tracing filter directives (e.g. `debug`).
fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KASPIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
