//! `kaspire crds`: the CRDs generated from the Rust types in `src/api/`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

#[derive(Debug, Args)]
pub struct CrdsArgs {
    /// Write one file per kind into this directory (e.g. `crds/`) instead of printing.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

pub fn run(args: CrdsArgs) -> anyhow::Result<ExitCode> {
    let files = crate::api::crd_files();
    match args.dir {
        Some(dir) => {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("cannot create {}", dir.display()))?;
            for (name, yaml) in files {
                let path = dir.join(&name);
                std::fs::write(&path, yaml)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                println!("wrote {}", path.display());
            }
        }
        None => {
            let docs: Vec<String> = files.into_iter().map(|(_, yaml)| yaml).collect();
            print!("{}", docs.join("---\n"));
        }
    }
    Ok(ExitCode::SUCCESS)
}
