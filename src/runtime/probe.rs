//! Health checks (product.md §3 `healthChecks`): single probes and the loop that
//! turns their outcomes into a check's state.
//!
//! A single probe ([`Prober::probe`]) asks once, within a timeout, and answers with a
//! [`ProbeOutcome`] whose message a user can act on. [`ProbeTarget`] covers the probes
//! kaspire runs itself (`http`, `tcp`, `exec` on the host); a runtime that runs the
//! command elsewhere (`docker exec` for Containers) implements [`Prober`] and hands
//! that to the same loop.
//!
//! [`start`] runs the loop on the Tokio runtime: probe every 100 ms until the check
//! first passes (so a starting process is seen Ready within ~100 ms of listening),
//! then every `period`. The [`Probe`] it returns reads the current [`CheckStatus`]
//! cheaply and stops probing when dropped.

mod check;
mod exec;
mod http;
mod tcp;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::time::Duration;

use crate::api::HealthCheck;
use crate::runtime::process::ProcessSpec;

pub use check::{CheckState, CheckStatus, Probe, start};

/// What one probe found: healthy or not, and why, in words for the user, e.g.
/// "GET http://127.0.0.1:5123/health returned 503, expected 200".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeOutcome {
    /// The target answered as a healthy one does.
    pub healthy: bool,
    /// What was asked and what came back.
    pub message: String,
}

impl ProbeOutcome {
    /// A healthy outcome saying `message`.
    pub fn healthy(message: impl Into<String>) -> Self {
        Self {
            healthy: true,
            message: message.into(),
        }
    }

    /// An unhealthy outcome saying `message`.
    pub fn unhealthy(message: impl Into<String>) -> Self {
        Self {
            healthy: false,
            message: message.into(),
        }
    }
}

/// Something that can be probed once. The loop in [`start`] only knows this trait,
/// so a new kind of probe (a `docker exec`) needs no change to it.
pub trait Prober: Send + Sync + 'static {
    /// Probes once. Gives up after `timeout` with an unhealthy outcome, cleaning up
    /// whatever it started (an exec probe's process group is killed).
    fn probe(&self, timeout: Duration) -> impl Future<Output = ProbeOutcome> + Send;
}

/// A probe kaspire runs from the host. The controller resolves the spec's endpoint
/// name to the replica's address before building one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProbeTarget {
    /// HTTP/1.1 `GET http://host:port/path`; healthy iff the status is `expected_status`.
    Http {
        /// Host name or IP address to connect to, e.g. `127.0.0.1`.
        host: String,
        /// TCP port.
        port: u16,
        /// Request path, e.g. `/health`.
        path: String,
        /// Status code that counts as healthy.
        expected_status: u16,
    },
    /// TCP connect; healthy iff the connection is accepted.
    Tcp {
        /// Host name or IP address to connect to.
        host: String,
        /// TCP port.
        port: u16,
    },
    /// Runs a command on the host; healthy iff it exits with 0.
    Exec(ProcessSpec),
}

impl ProbeTarget {
    /// The exec probe of a spec's `exec.command` (program, then arguments; no shell).
    pub fn exec(command: &[String]) -> Self {
        let (program, args) = command.split_first().map_or(("", &[][..]), |(p, a)| (p, a));
        Self::Exec(ProcessSpec::new(program, args.iter().cloned()))
    }
}

impl Prober for ProbeTarget {
    async fn probe(&self, timeout: Duration) -> ProbeOutcome {
        match self {
            Self::Http {
                host,
                port,
                path,
                expected_status,
            } => http::probe(host, *port, path, *expected_status, timeout).await,
            Self::Tcp { host, port } => tcp::probe(host, *port, timeout).await,
            Self::Exec(spec) => exec::probe(spec, timeout).await,
        }
    }
}

/// When and how often a check probes and how many outcomes flip it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProbeSettings {
    /// Wait after start before the first probe.
    pub initial_delay: Duration,
    /// Time between probe starts once the check has passed.
    pub period: Duration,
    /// Time between probe starts until the check first passes.
    pub fast_period: Duration,
    /// Longest a single probe may take.
    pub timeout: Duration,
    /// Consecutive failures that turn a check that passed before Failing.
    pub failure_threshold: u32,
    /// Consecutive successes that turn the check Passing.
    pub success_threshold: u32,
}

/// Probe interval until a check first passes (product.md §3).
pub const FAST_PERIOD: Duration = Duration::from_millis(100);

impl Default for ProbeSettings {
    fn default() -> Self {
        settings_from_spec(&HealthCheck::default())
    }
}

/// The settings a spec's health check asks for, with product.md's defaults (period 5 s,
/// timeout = period, failure threshold 3, success threshold 1). Out-of-range numbers
/// (admission normally rejects them) are clamped to the smallest sensible value.
pub fn settings_from_spec(check: &HealthCheck) -> ProbeSettings {
    let secs = |s: i32, min: i32| Duration::from_secs(s.max(min) as u64);
    let period = secs(check.period_seconds, 1);
    ProbeSettings {
        initial_delay: secs(check.initial_delay_seconds.unwrap_or(0), 0),
        period,
        fast_period: FAST_PERIOD,
        timeout: check.timeout_seconds.map_or(period, |t| secs(t, 1)),
        failure_threshold: check.failure_threshold.max(1) as u32,
        success_threshold: check.success_threshold.max(1) as u32,
    }
}

/// Formats a timeout for messages: "2s", "1.5s", "150ms".
fn human(timeout: Duration) -> String {
    if timeout < Duration::from_secs(1) {
        format!("{}ms", timeout.as_millis())
    } else {
        format!("{}s", timeout.as_secs_f64())
    }
}
