//! (d) 500 Executables applied at once, until all are Ready: time, the control plane's
//! RSS, and its idle CPU with 500 running (user + system time over 10 s idle).
//!
//! Variant 1 (three rounds, deleted in between): `sleep 3600`, no checks — Ready as
//! soon as Running. Variant 2 (one round): the helper listening on an allocated
//! endpoint behind a tcp readiness check. Its 500 processes are left running; the
//! bench's final SIGTERM to the control plane ends them with the session.
//! Same-run reference: the bench itself spawning 500 `sleep 3600`.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::common::size;
use crate::objects::{self, env, executable, helper_command, path_str};
use crate::observer::Observer;
use crate::support::{Samples, Table, cpu_time, ms, rss_mib};

/// Executables applied at once (20 in quick mode).
pub fn count() -> usize {
    size(500, 20)
}
fn rounds() -> usize {
    size(3, 1)
}
const TARGET_MS: f64 = 5000.0;
/// The window idle CPU is measured over.
fn idle() -> Duration {
    size(Duration::from_secs(10), Duration::from_millis(500))
}
const TIMEOUT: Duration = Duration::from_secs(120);
const SECTION: &str = "(d) many executables applied at once";

pub async fn run(
    client: &kube::Client,
    observer: &Observer,
    server_pid: u32,
    dir: &Path,
    run_id: &str,
    table: &mut Table,
) -> anyhow::Result<()> {
    let (count, rounds) = (count(), rounds());
    let rss_empty = rss_mib(server_pid);
    eprintln!(
        "[scale] idle CPU with nothing running ({:.1} s)",
        idle().as_secs_f64()
    );
    let cpu_empty = idle_cpu(server_pid).await;
    let reference = spawn_reference(run_id)?;

    let (mut ready, mut created, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
    let (mut rss_500, mut cpu_500) = (f64::NAN, f64::NAN);
    let mut first = None;
    for round in 0..rounds {
        eprintln!("[scale] round {round}: {count} x `sleep 3600`, no checks");
        let ns = format!("scale-{round}");
        let applied = apply(client, observer, server_pid, &ns, |_| {
            json!({
                "command": "sleep",
                "args": ["3600"],
                "env": env(&[("KASPIRE_BENCH_RUN", run_id.into())]),
            })
        })
        .await?;
        created.push(applied.created);
        ready.push(applied.ready);
        if round == 0 {
            first = Some((applied.started, applied.cpu));
        }
        let keys = applied.keys;
        if round == 0 {
            tokio::time::sleep(Duration::from_secs(2)).await;
            rss_500 = rss_mib(server_pid);
            eprintln!(
                "[scale] idle CPU with {count} running ({:.1} s)",
                idle().as_secs_f64()
            );
            cpu_500 = idle_cpu(server_pid).await;
        }
        let t = Instant::now();
        objects::delete_all(client, &keys).await?;
        anyhow::ensure!(
            observer.all_deleted(&keys, TIMEOUT).await,
            "scale: {count} objects were not deleted within {TIMEOUT:?}"
        );
        deleted.push(ms(t.elapsed()));
        observer.forget(&keys);
    }

    let rss_after_deletes = rss_mib(server_pid);
    eprintln!("[scale] {count} x helper behind a tcp readiness check");
    let helper = helper_command()?;
    let tcp = apply(client, observer, server_pid, "scale-tcp", |i| {
        json!({
            "command": helper,
            "env": env(&[
                ("KASPIRE_BENCH_HELPER", "listen".into()),
                ("KASPIRE_BENCH_RUN", run_id.into()),
                ("STAMP_FILE", path_str(&dir.join(format!("scale-{i}.listen")))),
            ]),
            "endpoints": [{"name": "main", "scheme": "tcp", "env": "PORT"}],
            "healthChecks": [{"tcp": {"endpoint": "main"}}],
        })
    })
    .await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let rss_tcp = rss_mib(server_pid);
    eprintln!(
        "[scale] idle CPU with {count} running + probing ({:.1} s)",
        idle().as_secs_f64()
    );
    let cpu_tcp = idle_cpu(server_pid).await;

    let r = Samples::new(ready);
    let c = Samples::new(created);
    table
        .row(
            SECTION,
            format!("apply -> all Ready, `sleep 3600`, no checks (median of {rounds})"),
            format!("{:.0} ms", r.median()),
        )
        .reference(format!(
            "rounds {:.0}–{:.0} ms; creates done at {:.0} ms; bench spawning {count} itself {reference:.0} ms",
            r.min(),
            r.max(),
            c.median()
        ))
        .at_most(r.median(), TARGET_MS, "ms");
    table
        .row(
            SECTION,
            "apply -> all Ready, helper + tcp readiness check",
            format!("{:.0} ms", tcp.ready),
        )
        .reference(format!(
            "creates done at {:.0} ms; started p50 {:.0} ms; control-plane CPU {:.0} ms",
            tcp.created, tcp.started[1], tcp.cpu
        ))
        .at_most(tcp.ready, TARGET_MS, "ms");
    if let Some((started, cpu)) = first {
        table
            .row(
                SECTION,
                "round 1: objects first seen started, p10 / p50 / p90",
                format!(
                    "{:.0} / {:.0} / {:.0} ms",
                    started[0], started[1], started[2]
                ),
            )
            .reference(format!(
                "control-plane CPU time from first create to all Ready: {cpu:.0} ms"
            ));
    }
    let d = Samples::new(deleted);
    table.row(
        SECTION,
        format!("delete {count} -> all gone (processes stopped, median)"),
        format!("{:.0} ms", d.median()),
    );
    table
        .row(
            SECTION,
            format!("control-plane RSS with {count} running (no checks / tcp)"),
            format!("{rss_500:.0} / {rss_tcp:.0} MiB"),
        )
        .reference(format!(
            "empty control plane {rss_empty:.0} MiB; after {rounds} x {count} applied and deleted {rss_after_deletes:.0} MiB"
        ));
    table
        .row(
            SECTION,
            format!("control-plane idle CPU with {count} running (no checks / tcp)"),
            format!("{cpu_500:.2}% / {cpu_tcp:.2}% of a core"),
        )
        .reference(format!(
            "empty control plane {cpu_empty:.2}%; {:.1} s windows",
            idle().as_secs_f64()
        ));
    Ok(())
}

/// What one apply of `count()` took, in ms from the first create.
struct Applied {
    keys: Vec<String>,
    created: f64,
    ready: f64,
    /// When objects were first seen started (Starting/Running): p10, p50, p90.
    started: [f64; 3],
    /// The control plane's CPU time from the first create to all Ready.
    cpu: f64,
}

/// Creates `count()` Executables in `ns` (spec `i` from `spec`) and waits until all are
/// Ready.
async fn apply(
    client: &kube::Client,
    observer: &Observer,
    server_pid: u32,
    ns: &str,
    spec: impl Fn(usize) -> serde_json::Value,
) -> anyhow::Result<Applied> {
    objects::ensure_namespace(client, ns).await?;
    let names: Vec<String> = (0..count()).map(|i| format!("exe-{i:03}")).collect();
    let objects = names
        .iter()
        .enumerate()
        .map(|(i, name)| executable(ns, name, spec(i)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keys: Vec<String> = names.iter().map(|n| format!("{ns}/{n}")).collect();
    let cpu_before = cpu_time(server_pid);
    let wall = std::time::SystemTime::now();
    let started = Instant::now();
    objects::create_all(client, objects).await?;
    let created = ms(started.elapsed());
    let all = observer.all_ready(&keys, TIMEOUT).await;
    let ready = ms(started.elapsed());
    if !all {
        let count = keys.len();
        let missing = keys
            .iter()
            .filter(|k| observer.get(k).is_none_or(|s| s.ready.is_none()))
            .count();
        anyhow::bail!("{missing} of {count} in {ns} were not Ready within {TIMEOUT:?}");
    }
    let cpu = ms(cpu_time(server_pid).saturating_sub(cpu_before));
    let since = |t: std::time::SystemTime| ms(t.duration_since(wall).unwrap_or_default());
    let started = Samples::new(
        keys.iter()
            .filter_map(|k| observer.get(k).and_then(|s| s.started).map(since))
            .collect(),
    );
    Ok(Applied {
        keys,
        created,
        ready,
        started: [started.pct(10.0), started.median(), started.pct(90.0)],
        cpu,
    })
}

/// The control plane's CPU use (% of one core) over `idle()` with nothing applied.
async fn idle_cpu(pid: u32) -> f64 {
    let before = cpu_time(pid);
    let t = Instant::now();
    tokio::time::sleep(idle()).await;
    let used = cpu_time(pid).saturating_sub(before);
    used.as_secs_f64() / t.elapsed().as_secs_f64() * 100.0
}

/// The bench itself spawning `count()` `sleep 3600` (fork/exec cost on this machine).
fn spawn_reference(run_id: &str) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut children: Vec<Child> = Vec::new();
    for _ in 0..count() {
        children.push(
            Command::new("sleep")
                .arg("3600")
                .env("KASPIRE_BENCH_RUN", run_id)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()?,
        );
    }
    let elapsed = ms(started.elapsed());
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok(elapsed)
}
