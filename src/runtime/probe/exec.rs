//! The `exec` probe on the host: run a command in its own process group; healthy iff
//! it exits with 0. Its last line of output goes into the message, as the reason a
//! tool like `pg_isready` gives ("no response").

use std::sync::Mutex;
use std::time::Duration;

use crate::runtime::process::{self, OutputSink, ProcessSpec, Running, Signal, Stream};

use super::{ProbeOutcome, human};

/// Longest piece of output quoted in a message.
const MAX_QUOTED: usize = 200;
/// How long a finished probe waits for its output to reach the sink; a grandchild
/// holding the pipes open must not hold up the probe.
const DRAIN_GRACE: Duration = Duration::from_millis(50);
/// How long the kill of a timed-out probe may take.
const KILL_GRACE: Duration = Duration::from_secs(2);

/// Runs `spec`; on timeout its whole process group is killed.
pub(super) async fn probe(spec: &ProcessSpec, timeout: Duration) -> ProbeOutcome {
    if spec.command.is_empty() {
        return ProbeOutcome::unhealthy(
            "exec probe has no command: set healthChecks[].exec.command to a program and its arguments",
        );
    }
    let what = command_line(spec);
    let output = std::sync::Arc::new(LastLine::default());
    let running = match process::spawn(spec, output.clone()) {
        Ok(running) => running,
        Err(e) => return ProbeOutcome::unhealthy(format!("`{what}` could not start: {e}")),
    };
    let guard = KillOnDrop(running.clone());
    let Ok(exit) = tokio::time::timeout(timeout, running.wait()).await else {
        running.stop(Signal::KILL, KILL_GRACE).await;
        drop(guard);
        return ProbeOutcome::unhealthy(format!("`{what}` timed out after {}", human(timeout)));
    };
    drop(guard);
    let _ = tokio::time::timeout(DRAIN_GRACE, running.output_drained()).await;
    let said = output
        .0
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .take()
        .map(|line| format!(": {line}"))
        .unwrap_or_default();
    let message = match exit.code {
        Some(code) => format!("`{what}` exited with {code}{said}"),
        None => format!("`{what}` {exit}{said}"),
    };
    ProbeOutcome {
        healthy: exit.success(),
        message,
    }
}

/// The command as a shell user would write it, for messages: `sh -c 'exit 2'`.
fn command_line(spec: &ProcessSpec) -> String {
    let quote = |word: &String| {
        if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '\'') {
            word.clone()
        } else {
            format!("'{}'", word.replace('\'', r"'\''"))
        }
    };
    std::iter::once(&spec.command)
        .chain(&spec.args)
        .map(quote)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Kills the probe's process group when the probe is abandoned mid-run (its loop was
/// stopped), so no probe command outlives its check.
struct KillOnDrop(Running);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if self.0.try_exit().is_some() {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let running = self.0.clone();
            runtime.spawn(async move { running.stop(Signal::KILL, KILL_GRACE).await });
        }
    }
}

/// Keeps the last non-empty line of output (stdout or stderr), cut to [`MAX_QUOTED`].
#[derive(Default)]
struct LastLine(Mutex<Option<String>>);

impl OutputSink for LastLine {
    fn line(&self, _: Stream, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        let mut cut: String = line.chars().take(MAX_QUOTED).collect();
        if cut.len() < line.len() {
            cut.push('…');
        }
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(cut);
    }
}
