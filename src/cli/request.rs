//! `kaspire start|stop|restart NAME [--timeout S]`: write the declarative request into
//! the object (an annotation, or `spec.stopped`), then watch it and report the state it
//! actually reached — never just "accepted".

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::bail;
use clap::Args;
use futures::StreamExt;
use kube::api::{DynamicObject, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::json;

use super::connect::connect;
use super::resources::{Kind, Summary, find};
use crate::api::{RESTART_REQUESTED_AT_ANNOTATION, START_REQUESTED_AT_ANNOTATION};
use crate::state_dir::StateDir;

/// The field manager of the CLI's requests.
const MANAGER: &str = "kaspire-cli";

#[derive(Debug, Args)]
pub struct RequestArgs {
    /// The Executable or Container.
    pub name: String,
    /// Give up waiting for the outcome after this many seconds.
    #[arg(long, default_value_t = 60.0)]
    pub timeout: f64,
    /// Namespace (default: the kubeconfig's, `default`).
    #[arg(short = 'n', long)]
    pub namespace: Option<String>,
}

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Request {
    Start,
    Stop,
    Restart,
}

impl Request {
    fn verb(self) -> &'static str {
        match self {
            Self::Start => "start",
            Self::Stop => "stop",
            Self::Restart => "restart",
        }
    }

    /// The merge patch that asks for it, and the value the controller echoes in status
    /// (`handledStartRequest`/`handledRestartRequest`) once it acted on it.
    fn patch(self, now: &str) -> (serde_json::Value, Option<(&'static str, String)>) {
        match self {
            Self::Start => (
                json!({"metadata": {"annotations": {START_REQUESTED_AT_ANNOTATION: now}}}),
                Some(("handledStartRequest", now.to_owned())),
            ),
            Self::Restart => (
                json!({"metadata": {"annotations": {RESTART_REQUESTED_AT_ANNOTATION: now}}}),
                Some(("handledRestartRequest", now.to_owned())),
            ),
            Self::Stop => (json!({"spec": {"stopped": true}}), None),
        }
    }

    /// Whether `s` is where this request ends, and whether that counts as success.
    fn outcome(self, s: &Summary) -> Option<bool> {
        match self {
            Self::Start | Self::Restart => match s.state.as_str() {
                "Running" if s.ready || !s.has_readiness_checks => Some(true),
                "Finished" => Some(true),
                "FailedToStart" => Some(false),
                "Exited" if !s.restart_pending => Some(false),
                _ => None,
            },
            Self::Stop => match s.state.as_str() {
                "Exited" | "Finished" | "NotStarted" => Some(true),
                "FailedToStart" => Some(true),
                _ => None,
            },
        }
    }
}

pub async fn run(
    state_dir: PathBuf,
    request: Request,
    args: RequestArgs,
) -> anyhow::Result<ExitCode> {
    let client = connect(&StateDir::at(state_dir)).await?;
    let namespace = args
        .namespace
        .clone()
        .unwrap_or_else(|| client.default_namespace().to_owned());
    let (kind, object) = find(&client, &namespace, &args.name).await?;
    if !kind.runs {
        bail!(
            "{} {} has no process to {}; only Executables and Containers can be started, stopped and restarted",
            kind.singular,
            args.name,
            request.verb()
        );
    }
    let started = Instant::now();
    let now = jiff::Timestamp::now().to_string();
    let (patch, mut handled) = request.patch(&now);
    if request == Request::Start && already_started(&object) {
        // Nothing to request: report the state it settles in. (A start request left
        // pending on a running resource would restart it the next time it ends.)
        handled = None;
    } else {
        let params = PatchParams {
            field_manager: Some(MANAGER.into()),
            ..Default::default()
        };
        kind.api(&client, Some(&namespace))
            .patch(&args.name, &params, &Patch::Merge(&patch))
            .await
            .map_err(|e| {
                anyhow::anyhow!(
                    "cannot {} {} {}: {e}",
                    request.verb(),
                    kind.singular,
                    args.name
                )
            })?;
    }
    let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
    let reached = tokio::time::timeout(
        timeout,
        watch_until(
            &client,
            kind,
            &namespace,
            &args.name,
            request,
            handled.clone(),
        ),
    )
    .await;
    let elapsed = took(started.elapsed());
    match reached {
        Ok(Ok((summary, true))) => {
            println!("{}: {} after {elapsed}", args.name, summary.state_text());
            Ok(ExitCode::SUCCESS)
        }
        Ok(Ok((summary, false))) => {
            let mut line = format!("{}: {} after {elapsed}", args.name, summary.state_text());
            if !summary.message.is_empty() {
                line.push_str(&format!(" — {}", summary.message));
            }
            eprintln!("{line}\nsee `kaspire logs {}` for its output", args.name);
            Ok(ExitCode::FAILURE)
        }
        Ok(Err(error)) => Err(error),
        Err(_) => {
            let current = kind
                .api(&client, Some(&namespace))
                .get_opt(&args.name)
                .await?;
            let now = current.as_ref().map(|o| Summary::of(kind, o));
            let taken = handled.is_none()
                || current
                    .as_ref()
                    .is_some_and(|o| handled_matches(o, handled.as_ref()));
            let mut line = format!(
                "{}: did not {} within {} s",
                args.name,
                request.verb(),
                args.timeout
            );
            match now {
                Some(s) if taken => {
                    line.push_str(&format!("; it is {}", s.state_text()));
                    if !s.message.is_empty() {
                        line.push_str(&format!(" — {}", s.message));
                    }
                }
                Some(_) => line.push_str(
                    "; no controller took the request (is the control plane's controller running?)",
                ),
                None => line.push_str("; it was deleted"),
            }
            eprintln!("{line}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// `42 ms` under a second, `1.3 s` above.
fn took(elapsed: Duration) -> String {
    if elapsed < Duration::from_secs(1) {
        format!("{} ms", elapsed.as_millis())
    } else {
        format!("{:.1} s", elapsed.as_secs_f64())
    }
}

/// Running or on its way there, and not asked to stop.
fn already_started(object: &DynamicObject) -> bool {
    let stopped = object.data.pointer("/spec/stopped") == Some(&json!(true));
    let state = object
        .data
        .pointer("/status/state")
        .and_then(serde_json::Value::as_str);
    !stopped && matches!(state, Some("Running" | "Starting"))
}

fn handled_matches(object: &DynamicObject, handled: Option<&(&str, String)>) -> bool {
    handled.is_none_or(|(field, value)| {
        object
            .data
            .pointer(&format!("/status/{field}"))
            .and_then(serde_json::Value::as_str)
            == Some(value.as_str())
    })
}

/// Watches the object until the request was taken and its state settled; returns the
/// summary there and whether it counts as success.
async fn watch_until(
    client: &kube::Client,
    kind: Kind,
    namespace: &str,
    name: &str,
    request: Request,
    handled: Option<(&'static str, String)>,
) -> anyhow::Result<(Summary, bool)> {
    let api = kind.api(client, Some(namespace));
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    let mut events = watcher(api, config).boxed();
    while let Some(event) = events.next().await {
        let object = match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => o,
            Ok(watcher::Event::Delete(_)) => {
                bail!(
                    "{} {name} was deleted while waiting for it to {}",
                    kind.singular,
                    request.verb()
                )
            }
            Ok(_) => continue,
            // The watcher re-lists after a broken watch; keep waiting until the timeout.
            Err(_) => continue,
        };
        if !handled_matches(&object, handled.as_ref()) {
            continue;
        }
        let summary = Summary::of(kind, &object);
        if let Some(success) = request.outcome(&summary) {
            return Ok((summary, success));
        }
    }
    bail!("the watch on {} {name} ended", kind.singular)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::resources::KINDS;

    fn with_status(status: serde_json::Value, checks: bool) -> Summary {
        let spec = if checks {
            json!({"healthChecks": [{"tcp": {"endpoint": "x"}}]})
        } else {
            json!({})
        };
        let o: DynamicObject = serde_json::from_value(json!({
            "apiVersion": "kaspire.dev/v1alpha1", "kind": "Executable",
            "metadata": {"name": "api"}, "spec": spec, "status": status
        }))
        .unwrap();
        Summary::of(KINDS[0], &o)
    }

    #[test]
    fn start_waits_for_readiness_only_when_there_are_checks() {
        let running = json!({"state": "Running"});
        assert_eq!(
            Request::Start.outcome(&with_status(running.clone(), false)),
            Some(true)
        );
        assert_eq!(Request::Start.outcome(&with_status(running, true)), None);
        assert_eq!(
            Request::Restart.outcome(&with_status(json!({"state": "FailedToStart"}), false)),
            Some(false)
        );
        assert_eq!(
            Request::Start.outcome(&with_status(json!({"state": "Waiting"}), false)),
            None
        );
    }

    #[test]
    fn stop_ends_in_a_stopped_state() {
        assert_eq!(
            Request::Stop.outcome(&with_status(json!({"state": "Stopping"}), false)),
            None
        );
        assert_eq!(
            Request::Stop.outcome(&with_status(json!({"state": "Exited"}), false)),
            Some(true)
        );
    }

    #[test]
    fn requests_echo_the_written_timestamp() {
        let (patch, handled) = Request::Restart.patch("2025-01-01T00:00:00.123Z");
        assert_eq!(
            patch.pointer("/metadata/annotations/kaspire.dev~1restart-requested-at"),
            Some(&json!("2025-01-01T00:00:00.123Z"))
        );
        assert_eq!(handled.unwrap().0, "handledRestartRequest");
        assert_eq!(Request::Stop.patch("x").1, None);
    }
}
