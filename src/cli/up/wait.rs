//! `kaspire up --wait`: returns once every applied kaspire resource is Ready (or Finished),
//! and fails as soon as one ends FailedToStart or Exited, naming each failure.

use std::collections::HashMap;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::runtime::watcher;

use super::apply::Applied;
use super::view::{View, watch_all};
use crate::cli::resources::Summary;

/// How long to keep collecting failures after the first one.
const FAILURE_GRACE: Duration = Duration::from_millis(300);

/// The summary of `target` if its status speaks about the current spec.
fn current<'a>(
    known: &'a HashMap<(String, String), Summary>,
    target: &(String, String),
) -> Option<&'a Summary> {
    known.get(target).filter(|s| !s.stale)
}

/// Watches `applied` until all are Ready/Finished (success), one failed, or `timeout`.
pub async fn until_ready(
    client: &kube::Client,
    applied: &[Applied],
    timeout: Duration,
) -> anyhow::Result<ExitCode> {
    let started = Instant::now();
    let targets: Vec<(String, String)> = applied
        .iter()
        .filter(|a| a.kaspire_kind().is_some())
        .map(|a| (a.namespace.clone().unwrap_or_default(), a.name.clone()))
        .collect();
    let mut known: HashMap<(String, String), Summary> = HashMap::new();
    let mut view = View::default();
    let mut events = watch_all(client);
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    // After the first failure, a short grace collects failures that happen together (a
    // dependency failing takes its waiters with it) into one report.
    let grace = tokio::time::sleep(Duration::MAX);
    tokio::pin!(grace);
    let mut failing = false;
    loop {
        let (kind, event) = tokio::select! {
            next = events.next() => match next {
                Some(next) => next,
                None => anyhow::bail!("the watch on the app's resources ended"),
            },
            () = &mut grace, if failing => break,
            () = &mut deadline => break,
        };
        match event {
            Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                let summary = Summary::of(kind, &o);
                view.show(&summary);
                known.insert((summary.namespace.clone(), summary.name.clone()), summary);
            }
            Ok(watcher::Event::Delete(o)) => {
                let summary = Summary::of(kind, &o);
                view.removed(&summary);
                known.remove(&(summary.namespace, summary.name));
            }
            _ => continue,
        }
        if !failing
            && targets
                .iter()
                .any(|t| current(&known, t).is_some_and(Summary::is_settled_failure))
        {
            failing = true;
            grace
                .as_mut()
                .reset(tokio::time::Instant::now() + FAILURE_GRACE);
        }
        if !failing
            && targets
                .iter()
                .all(|t| current(&known, t).is_some_and(Summary::is_ready_or_finished))
        {
            println!(
                "all {} resources are Ready or Finished after {:.1} s",
                targets.len(),
                started.elapsed().as_secs_f64()
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    if failing {
        eprintln!("not every resource came up:");
        for s in targets
            .iter()
            .filter_map(|t| current(&known, t))
            .filter(|s| s.is_settled_failure())
        {
            eprintln!("  {}", s.failure_line());
        }
        eprintln!("their output: `kaspire logs NAME`");
        return Ok(ExitCode::FAILURE);
    }
    eprintln!(
        "not every resource was Ready within {} s:",
        timeout.as_secs_f64()
    );
    for target in &targets {
        match known.get(target) {
            Some(s) if s.is_ready_or_finished() => {}
            Some(s) => eprintln!("  {}", s.failure_line()),
            None => eprintln!("  {} does not exist", target.1),
        }
    }
    Ok(ExitCode::FAILURE)
}
