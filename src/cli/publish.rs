//! `kaspire publish -f FILE… -o OUT`: the app written as an Aspire manifest. Nothing is
//! resolved or started and no control plane is needed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;

use super::documents::load;

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// App files (YAML, several documents each); repeat -f for more.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write the manifest, e.g. aspire-manifest.json (`-` for stdout).
    #[arg(short = 'o', long = "output", required = true)]
    pub output: PathBuf,
}

pub fn run(args: PublishArgs) -> anyhow::Result<ExitCode> {
    let documents = load(&args.files)?;
    let published = crate::publish::publish(
        documents
            .iter()
            .map(|document| (document.origin.as_str(), &document.object)),
    )?;
    for warning in &published.warnings {
        eprintln!("warning: {warning}");
    }
    let mut json = serde_json::to_string_pretty(&published.manifest)?;
    json.push('\n');
    if args.output.as_os_str() == "-" {
        print!("{json}");
    } else {
        std::fs::write(&args.output, json)
            .with_context(|| format!("cannot write {}", args.output.display()))?;
        let count = published.manifest["resources"]
            .as_object()
            .map_or(0, |resources| resources.len());
        println!("wrote {} ({count} resources)", args.output.display());
    }
    Ok(ExitCode::SUCCESS)
}
