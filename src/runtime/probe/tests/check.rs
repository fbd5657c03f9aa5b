//! The probing loop with real sockets, and the threshold state machine on its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::watch;

use super::super::check::Tracker;
use super::*;

/// Settings that probe quickly so tests take milliseconds, not periods of 5 s.
fn quick(failure_threshold: u32) -> ProbeSettings {
    ProbeSettings {
        initial_delay: Duration::ZERO,
        period: Duration::from_millis(30),
        fast_period: Duration::from_millis(10),
        timeout: Duration::from_secs(1),
        failure_threshold,
        success_threshold: 1,
    }
}

/// Counts `notify` calls.
fn counter() -> (Arc<AtomicUsize>, impl Fn() + Send + Sync + 'static) {
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    (count, move || {
        c.fetch_add(1, Ordering::SeqCst);
    })
}

async fn reach(status: &mut watch::Receiver<CheckStatus>, state: CheckState) -> CheckStatus {
    within(10, status.wait_for(|s| s.state == state))
        .await
        .expect("probe task alive")
        .clone()
}

#[tokio::test]
async fn check_passes_within_about_a_fast_period_of_a_listener_appearing() {
    let port = free_port();
    let (notified, notify) = counter();
    // Production settings: a 5 s period, but 100 ms until the first success.
    let probe = start(tcp_target(port), ProbeSettings::default(), notify);
    tokio::time::sleep(Duration::from_millis(350)).await;
    let status = probe.status();
    assert_eq!(status.state, CheckState::Pending);
    let refused = format!("connection refused on 127.0.0.1:{port}");
    assert_eq!(status.message.as_deref(), Some(refused.as_str()));

    let _listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let appeared = Instant::now();
    let passing = reach(&mut probe.subscribe(), CheckState::Passing).await;
    // ~100 ms expected; the bound leaves room for a loaded machine.
    assert!(
        appeared.elapsed() < Duration::from_millis(750),
        "took {:?}",
        appeared.elapsed()
    );
    assert_eq!(
        passing.message,
        Some(format!("connected to 127.0.0.1:{port}"))
    );
    assert_eq!(notified.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn check_fails_after_failure_threshold_failures_once_it_passed_and_recovers() {
    let server = Responder::start(200).await;
    let (notified, notify) = counter();
    let probe = start(server.target("/health"), quick(3), notify);
    let mut status = probe.subscribe();
    let passed = reach(&mut status, CheckState::Passing).await;

    server.set(500);
    let switched = server.requests();
    let failing = reach(&mut status, CheckState::Failing).await;
    assert!(
        server.requests() - switched >= 3,
        "failed after {} probes",
        server.requests() - switched
    );
    assert!(failing.since > passed.since);
    let message = failing.message.unwrap();
    assert!(message.ends_with("returned 500, expected 200"), "{message}");
    assert_eq!(notified.load(Ordering::SeqCst), 2);

    server.set(200);
    reach(&mut status, CheckState::Passing).await;
    assert_eq!(notified.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn check_that_never_succeeded_stays_pending_while_failing() {
    let port = free_port();
    let (notified, notify) = counter();
    let probe = start(tcp_target(port), quick(1), notify);
    // ~30 failed probes against a failure threshold of 1.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let status = probe.status();
    assert_eq!(status.state, CheckState::Pending);
    assert!(status.message.unwrap().starts_with("connection refused"));
    assert_eq!(notified.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn check_waits_the_initial_delay_before_probing() {
    let server = Responder::start(200).await;
    let settings = ProbeSettings {
        initial_delay: Duration::from_millis(300),
        ..quick(3)
    };
    let probe = start(server.target("/"), settings, || {});
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(server.requests(), 0);
    assert_eq!(probe.status().message, None);
    reach(&mut probe.subscribe(), CheckState::Passing).await;
}

#[tokio::test]
async fn dropping_the_probe_stops_probing() {
    let server = Responder::start(200).await;
    let probe = start(server.target("/"), quick(3), || {});
    within(10, async {
        while server.requests() < 3 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    drop(probe);
    // A request already on the wire may still land.
    tokio::time::sleep(Duration::from_millis(50)).await;
    let after_drop = server.requests();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.requests(), after_drop);
}

#[test]
fn failures_before_the_first_pass_never_fail_the_check() {
    let mut tracker = Tracker::new(&ProbeSettings::default());
    for _ in 0..100 {
        assert!(!tracker.record(false));
    }
    assert_eq!(tracker.state, CheckState::Pending);
    assert_eq!(tracker.period(), Duration::from_millis(100));
    assert!(tracker.record(true));
    assert_eq!(tracker.state, CheckState::Passing);
    assert_eq!(tracker.period(), Duration::from_secs(5));
}

#[test]
fn thresholds_count_consecutive_outcomes_only() {
    let settings = ProbeSettings {
        success_threshold: 2,
        failure_threshold: 3,
        ..ProbeSettings::default()
    };
    let mut tracker = Tracker::new(&settings);
    let mut feed = |outcomes: &[bool]| {
        for &o in outcomes {
            tracker.record(o);
        }
        tracker.state
    };
    assert_eq!(
        feed(&[true, false, true]),
        CheckState::Pending,
        "successes interrupted"
    );
    assert_eq!(feed(&[true]), CheckState::Passing);
    assert_eq!(
        feed(&[false, false, true, false, false]),
        CheckState::Passing
    );
    assert_eq!(feed(&[false]), CheckState::Failing);
    assert_eq!(feed(&[true]), CheckState::Failing, "one success of two");
    assert_eq!(feed(&[true]), CheckState::Passing);
}

#[test]
fn a_failing_check_keeps_the_slow_period() {
    let mut tracker = Tracker::new(&quick(1));
    tracker.record(true);
    tracker.record(false);
    assert_eq!(tracker.state, CheckState::Failing);
    assert_eq!(tracker.period(), Duration::from_millis(30));
}
