//! `kaspire kubeconfig`: where kubectl should look.

use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct KubeconfigArgs {
    /// Print the file's absolute path instead of its contents.
    #[arg(long)]
    pub path: bool,
}

pub fn run(state_dir: &Path, args: KubeconfigArgs) -> anyhow::Result<ExitCode> {
    let path = StateDir::at(state_dir).kubeconfig();
    let contents = std::fs::read_to_string(&path)
        .with_context(|| format!("no kubeconfig at {} — start the control plane first with `kaspire serve` or `kaspire up`", path.display()))?;
    if args.path {
        println!("{}", std::fs::canonicalize(&path)?.display());
    } else {
        print!("{contents}");
    }
    Ok(ExitCode::SUCCESS)
}
