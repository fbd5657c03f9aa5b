//! `kaspire logs NAME [-f] [--tail N] [--timestamps] [--replica I] [--source S]`: the
//! `log` subresource of whichever kaspire kind NAME is, streamed to stdout.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use futures::AsyncReadExt;

use super::connect::connect;
use super::resources::find;
use crate::state_dir::StateDir;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// The resource (names are unique across kaspire kinds).
    pub name: String,
    /// Keep streaming new lines until interrupted.
    #[arg(short = 'f', long)]
    pub follow: bool,
    /// Only the last N lines.
    #[arg(long)]
    pub tail: Option<u64>,
    /// Prefix each line with its RFC 3339 timestamp.
    #[arg(long)]
    pub timestamps: bool,
    /// Only this replica (0-based index); default: every replica.
    #[arg(long)]
    pub replica: Option<u32>,
    /// Only this stream; `system` holds kaspire's own lines about the resource.
    #[arg(long, value_enum)]
    pub source: Option<LogSource>,
    /// Namespace (default: the kubeconfig's, `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogSource {
    Stdout,
    Stderr,
    System,
    Startup,
}

impl LogSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Stdout => "stdout",
            Self::Stderr => "stderr",
            Self::System => "system",
            Self::Startup => "startup",
        }
    }
}

pub async fn run(state_dir: PathBuf, args: LogsArgs) -> anyhow::Result<ExitCode> {
    let client = connect(&StateDir::at(state_dir)).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let (kind, _) = find(&client, &namespace, &args.name).await?;
    let uri = format!(
        "/apis/{}/{}/namespaces/{namespace}/{}/{}/log?{}",
        crate::api::GROUP,
        crate::api::VERSION,
        kind.plural,
        args.name,
        query(&args)
    );
    let request = http::Request::get(uri).body(Vec::new())?;
    let mut body = client
        .request_stream(request)
        .await
        .with_context(|| format!("cannot read the log of {} {}", kind.singular, args.name))?;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut stdout = std::io::stdout().lock();
    loop {
        let read = body
            .read(&mut buffer)
            .await
            .with_context(|| format!("the log of {} {} broke off", kind.singular, args.name))?;
        if read == 0 {
            break;
        }
        // `kaspire logs api | head` closes the pipe early; that is a normal end.
        if stdout
            .write_all(&buffer[..read])
            .and_then(|()| stdout.flush())
            .is_err()
        {
            break;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn query(args: &LogsArgs) -> String {
    let mut query = form_urlencoded::Serializer::new(String::new());
    if args.follow {
        query.append_pair("follow", "true");
    }
    if let Some(tail) = args.tail {
        query.append_pair("tailLines", &tail.to_string());
    }
    if args.timestamps {
        query.append_pair("timestamps", "true");
    }
    if let Some(replica) = args.replica {
        query.append_pair("replica", &replica.to_string());
    }
    if let Some(source) = args.source {
        query.append_pair("source", source.as_str());
    }
    query.finish()
}
