//! `kaspire __watchdog` (hidden): started by the control plane, stops its Session
//! processes when it dies. See [`crate::runtime::process::watchdog`].

use std::process::ExitCode;

use clap::Args;

use crate::runtime::process::watchdog::serve;

#[derive(Debug, Args)]
pub struct WatchdogArgs {
    /// The instance id whose Session processes to stop (`KASPIRE_INSTANCE`).
    #[arg(long)]
    pub instance: String,
    /// The control plane's pid; its parent at start-up when omitted.
    #[arg(long)]
    pub parent: Option<i32>,
}

pub fn run(args: WatchdogArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(serve(&args.instance, args.parent))?;
    Ok(ExitCode::SUCCESS)
}
