//! The probing loop of one check: probes on a timer, counts consecutive outcomes
//! against the thresholds, and publishes the check's state.

use std::time::Duration;

use jiff::Timestamp;
use tokio::sync::watch;
use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::{ProbeSettings, Prober};

/// Where a check stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CheckState {
    /// Not yet passed: health Unknown and Ready withheld. Failures here never make the
    /// check Failing, so a slow starter is not killed by its liveness check.
    Pending,
    /// Passed `successThreshold` probes in a row and has not failed since.
    Passing,
    /// Passed once, then failed `failureThreshold` probes in a row.
    Failing,
}

/// The current state of a check and the latest probe's reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckStatus {
    /// Pending, Passing or Failing.
    pub state: CheckState,
    /// What the latest probe found; `None` before the first probe.
    pub message: Option<String>,
    /// When `state` last changed (when probing started, while Pending).
    pub since: Timestamp,
}

/// A running check. Reading its status is cheap; dropping it stops probing (and kills
/// an exec probe in flight).
#[derive(Debug)]
pub struct Probe {
    status: watch::Receiver<CheckStatus>,
    task: AbortHandle,
}

impl Probe {
    /// The check's state now.
    pub fn status(&self) -> CheckStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every change of state or message, for callers that wait
    /// on the check instead of being notified.
    pub fn subscribe(&self) -> watch::Receiver<CheckStatus> {
        self.status.clone()
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Starts probing `target` per `settings` on the current Tokio runtime. `notify` is
/// called after every change of [`CheckState`], from the probing task; the controller
/// uses it to requeue the object at once.
pub fn start(
    target: impl Prober,
    settings: ProbeSettings,
    notify: impl Fn() + Send + Sync + 'static,
) -> Probe {
    let (tx, status) = watch::channel(CheckStatus {
        state: CheckState::Pending,
        message: None,
        since: Timestamp::now(),
    });
    let task = tokio::spawn(run(target, settings, tx, notify)).abort_handle();
    Probe { status, task }
}

async fn run(
    target: impl Prober,
    settings: ProbeSettings,
    tx: watch::Sender<CheckStatus>,
    notify: impl Fn(),
) {
    tokio::time::sleep(settings.initial_delay).await;
    let mut tracker = Tracker::new(&settings);
    loop {
        let started = Instant::now();
        let outcome = target.probe(settings.timeout).await;
        let changed = tracker.record(outcome.healthy);
        if changed {
            tracing::debug!(state = ?tracker.state, "health check: {}", outcome.message);
        }
        tx.send_if_modified(|status| {
            let news = status.message.as_deref() != Some(&outcome.message);
            if news {
                status.message = Some(outcome.message);
            }
            if changed {
                status.state = tracker.state;
                status.since = Timestamp::now();
            }
            news || changed
        });
        if changed {
            notify();
        }
        tokio::time::sleep_until(started + tracker.period()).await;
    }
}

/// The thresholds as a pure state machine: consecutive outcomes in, state out.
#[derive(Debug, Clone)]
pub(super) struct Tracker {
    pub state: CheckState,
    successes: u32,
    failures: u32,
    success_threshold: u32,
    failure_threshold: u32,
    period: Duration,
    fast_period: Duration,
}

impl Tracker {
    pub fn new(settings: &ProbeSettings) -> Self {
        Self {
            state: CheckState::Pending,
            successes: 0,
            failures: 0,
            success_threshold: settings.success_threshold.max(1),
            failure_threshold: settings.failure_threshold.max(1),
            period: settings.period,
            fast_period: settings.fast_period,
        }
    }

    /// Counts one outcome; returns whether the state changed.
    pub fn record(&mut self, healthy: bool) -> bool {
        let next = if healthy {
            self.successes = self.successes.saturating_add(1);
            self.failures = 0;
            (self.successes >= self.success_threshold).then_some(CheckState::Passing)
        } else {
            self.failures = self.failures.saturating_add(1);
            self.successes = 0;
            // Only a check that passed can fail: before that the target is starting.
            let fails = self.failures >= self.failure_threshold;
            (fails && self.state == CheckState::Passing).then_some(CheckState::Failing)
        };
        match next {
            Some(next) if next != self.state => {
                self.state = next;
                true
            }
            _ => false,
        }
    }

    /// Time from one probe's start to the next: fast until the check first passes.
    pub fn period(&self) -> Duration {
        match self.state {
            CheckState::Pending => self.fast_period,
            CheckState::Passing | CheckState::Failing => self.period,
        }
    }
}
