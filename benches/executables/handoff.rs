//! (a) hand-off latency and (b) readiness detection, measured on the same trials.
//!
//! One trial: dependency `a-N` is the helper in `listen` mode behind a readiness check
//! (tcp or http) on an allocated endpoint; it sleeps a random 20–270 ms, listens, and
//! writes the moment right after `listen()`; it also writes when it accepted its first
//! connection (the first probe that passed). Dependent `b-N` waits for `a-N` Ready; its
//! first instruction writes the moment it runs. The outside watcher records when it
//! saw `a-N` Ready. So, on one realtime clock:
//!
//! - hand-off = b's first instruction − a Ready seen by the watcher (what a client sees
//!   as "Ready"; the watcher gets the event ~1.5 ms after the commit, so the true
//!   commit-to-spawn time is that much longer);
//! - probe pass → dependent running = b's first instruction − a's first accept;
//! - readiness detection = a Ready seen − a listening.
//!
//! Trials run one at a time (the pair is deleted before the next), after two warm-ups.

use std::path::Path;
use std::time::Duration;

use serde_json::json;

use crate::objects::{self, env, executable, helper_command, path_str};
use crate::observer::Observer;
use crate::support::{Samples, Table, now_secs, read_stamp, secs_of};

/// Measured trials per check (3 in quick mode), after `WARMUP`.
pub fn trials() -> usize {
    crate::common::size(30, 3)
}
const WARMUP: usize = 2;
const HANDOFF_TARGET_MS: f64 = 20.0;
const READINESS_TARGET_MS: f64 = 150.0;
const NAMESPACE: &str = "handoff";

/// Samples (ms) of one series of trials.
#[derive(Default)]
struct Series {
    handoff: Vec<f64>,
    probe_to_dependent: Vec<f64>,
    probe_to_ready_seen: Vec<f64>,
    ready_seen_to_dependent_seen: Vec<f64>,
    readiness: Vec<f64>,
    listen_to_probe: Vec<f64>,
}

pub async fn run(
    client: &kube::Client,
    observer: &Observer,
    dir: &Path,
    run_id: &str,
    table: &mut Table,
) -> anyhow::Result<()> {
    objects::ensure_namespace(client, NAMESPACE).await?;
    let exec_overhead = helper_exec_overhead(dir, run_id)?;
    let mut all = Vec::new();
    let trials = trials();
    for check in ["tcp", "http"] {
        eprintln!("[handoff/readiness] {trials} trials, {check} readiness check");
        let mut series = Series::default();
        for trial in 0..trials + WARMUP {
            let t = one_trial(client, observer, dir, run_id, check, trial).await?;
            if trial >= WARMUP {
                t.add_to(&mut series);
            }
        }
        all.push((check, series));
    }

    for (check, s) in &all {
        let handoff = Samples::new(s.handoff.clone());
        table
            .row(
                "(a) hand-off: dependency Ready -> dependent spawned",
                format!("a Ready (seen by a watch) -> b's first instruction, {check} check"),
                handoff.p50_p90(),
            )
            .reference(format!(
                "min {:.1}, max {:.1} ms; helper exec itself {exec_overhead:.2} ms",
                handoff.min(),
                handoff.max()
            ))
            .at_most(handoff.median(), HANDOFF_TARGET_MS, "ms p50");
        let probe = Samples::new(s.probe_to_dependent.clone());
        let split = Samples::new(s.probe_to_ready_seen.clone());
        table
            .row(
                "(a) hand-off: dependency Ready -> dependent spawned",
                format!("a's probe passed -> b's first instruction, {check}"),
                probe.p50_p90(),
            )
            .reference(format!(
                "of which probe passed -> a Ready seen {}",
                split.p50_p90()
            ));
        let seen = Samples::new(s.ready_seen_to_dependent_seen.clone());
        table.row(
            "(a) hand-off: dependency Ready -> dependent spawned",
            format!("a Ready seen -> b Starting/Running seen, {check}"),
            seen.p50_p90(),
        );
    }
    for (check, s) in &all {
        let readiness = Samples::new(s.readiness.clone());
        let wait = Samples::new(s.listen_to_probe.clone());
        table
            .row(
                "(b) readiness detection: listening -> Ready seen",
                format!("listen() -> Ready=True seen by a watch, {check} check"),
                readiness.p50_p90(),
            )
            .reference(format!(
                "of which listen -> first passing probe {} (100 ms fast probe)",
                wait.p50_p90()
            ))
            .at_most(readiness.median(), READINESS_TARGET_MS, "ms p50");
    }
    Ok(())
}

/// Moments of one trial, realtime seconds.
struct Trial {
    a_listening: f64,
    a_first_accept: f64,
    a_ready_seen: f64,
    b_running: f64,
    b_started_seen: f64,
}

impl Trial {
    fn add_to(&self, s: &mut Series) {
        let ms = |from: f64, to: f64| (to - from) * 1000.0;
        s.handoff.push(ms(self.a_ready_seen, self.b_running));
        s.probe_to_dependent
            .push(ms(self.a_first_accept, self.b_running));
        s.probe_to_ready_seen
            .push(ms(self.a_first_accept, self.a_ready_seen));
        s.ready_seen_to_dependent_seen
            .push(ms(self.a_ready_seen, self.b_started_seen));
        s.readiness.push(ms(self.a_listening, self.a_ready_seen));
        s.listen_to_probe
            .push(ms(self.a_listening, self.a_first_accept));
    }
}

async fn one_trial(
    client: &kube::Client,
    observer: &Observer,
    dir: &Path,
    run_id: &str,
    check: &str,
    trial: usize,
) -> anyhow::Result<Trial> {
    let helper = helper_command()?;
    let (a, b) = (format!("a-{check}-{trial}"), format!("b-{check}-{trial}"));
    let file = |suffix: &str| dir.join(format!("{check}-{trial}.{suffix}"));
    let (listen_file, accept_file, stamp_file) = (file("listen"), file("accept"), file("stamp"));
    let delay_ms: u64 = rand::random_range(20..270);
    let health = match check {
        "tcp" => json!({"tcp": {"endpoint": "main"}}),
        _ => json!({"http": {"endpoint": "main", "path": "/health"}}),
    };
    let dependency = executable(
        NAMESPACE,
        &a,
        json!({
            "command": helper,
            "env": env(&[
                ("KASPIRE_BENCH_HELPER", "listen".into()),
                ("KASPIRE_BENCH_RUN", run_id.into()),
                ("DELAY_MS", delay_ms.to_string()),
                ("STAMP_FILE", path_str(&listen_file)),
                ("ACCEPT_FILE", path_str(&accept_file)),
            ]),
            "endpoints": [{"name": "main", "scheme": check, "env": "PORT"}],
            "healthChecks": [health],
        }),
    )?;
    let dependent = executable(
        NAMESPACE,
        &b,
        json!({
            "command": helper,
            "env": env(&[
                ("KASPIRE_BENCH_HELPER", "stamp".into()),
                ("KASPIRE_BENCH_RUN", run_id.into()),
                ("STAMP_FILE", path_str(&stamp_file)),
            ]),
            "waitFor": [{"name": a}],
        }),
    )?;
    objects::create_all(client, vec![dependency, dependent]).await?;
    let keys = vec![format!("{NAMESPACE}/{a}"), format!("{NAMESPACE}/{b}")];
    anyhow::ensure!(
        observer.all_ready(&keys, Duration::from_secs(20)).await,
        "trial {check}-{trial}: {a} and {b} did not both become Ready within 20 s ({:?}, {:?})",
        observer.get(&keys[0]),
        observer.get(&keys[1])
    );
    let stamp = |f: &Path| {
        read_stamp(f, Duration::from_secs(2))
            .ok_or_else(|| anyhow::anyhow!("{} was not written", f.display()))
    };
    let seen_a = observer.get(&keys[0]).expect("seen");
    let seen_b = observer.get(&keys[1]).expect("seen");
    let moments = Trial {
        a_listening: stamp(&listen_file)?,
        a_first_accept: stamp(&accept_file)?,
        a_ready_seen: secs_of(seen_a.ready.expect("ready")),
        b_running: stamp(&stamp_file)?,
        b_started_seen: seen_b.started.map(secs_of).unwrap_or(f64::NAN),
    };
    objects::delete_all(client, &keys).await?;
    anyhow::ensure!(
        observer.all_deleted(&keys, Duration::from_secs(20)).await,
        "trial {check}-{trial}: the pair was not deleted within 20 s"
    );
    observer.forget(&keys);
    Ok(moments)
}

/// Median time from just before spawning the helper to its first instruction: the part
/// of every hand-off that is process creation, not kaspire.
fn helper_exec_overhead(dir: &Path, run_id: &str) -> anyhow::Result<f64> {
    let helper = helper_command()?;
    let mut samples = Vec::new();
    for i in 0..10 {
        let file = dir.join(format!("exec-{i}.stamp"));
        let before = now_secs();
        let mut child = std::process::Command::new(&helper)
            .env(crate::helper::MODE_VAR, "stamp")
            .env("KASPIRE_BENCH_RUN", run_id)
            .env("STAMP_FILE", &file)
            .spawn()?;
        let stamped = read_stamp(&file, Duration::from_secs(5));
        let _ = child.kill();
        let _ = child.wait();
        if let Some(at) = stamped {
            samples.push((at - before) * 1000.0);
        }
    }
    Ok(Samples::new(samples).median())
}
