//! The measured phases, each filling one mode's table: durable writes, reads, watch
//! fan-out, cold and warm start.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kaspire::api::Lifetime;
use kaspire::api::executable::{Executable, ExecutableSpec};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::core::ObjectMeta;
use tokio::sync::Notify;

use crate::common::{Samples, Table, ms, size, thousands};
use crate::server::{Mode, Server};

/// Concurrent in-flight writes for the throughput phase (and etcd's).
pub const CONCURRENCY: usize = 64;
const WRITE_TARGET_PER_S: f64 = 3000.0;
const GET_P99_TARGET_MS: f64 = 2.0;
const WATCH_P99_TARGET_MS: f64 = 5.0;
const COLD_START_TARGET_MS: f64 = 100.0;

/// How much each phase does: the full bench, or the quick smoke run's tiny sizes.
pub struct Sizes {
    /// Objects in the `small` namespace (the "1k" reads).
    pub small: usize,
    /// Rounds of writes into `large`; `rounds × per_round` objects (the "10k" reads).
    pub rounds: usize,
    pub per_round: usize,
    pub gets: usize,
    pub lists: (usize, usize),
    pub watchers: usize,
    pub watch_writes: usize,
    pub cold_starts: usize,
    pub warm_starts: usize,
}

impl Sizes {
    pub fn new() -> Sizes {
        Sizes {
            small: size(1000, 40),
            rounds: size(5, 2),
            per_round: size(2000, 100),
            gets: size(2000, 50),
            lists: size((50, 15), (3, 2)),
            watchers: size(100, 5),
            watch_writes: size(200, 10),
            cold_starts: size(10, 2),
            warm_starts: size(5, 1),
        }
    }

    fn large(&self) -> usize {
        self.rounds * self.per_round
    }

    fn label(count: usize) -> String {
        if count >= 1000 && count % 1000 == 0 {
            format!("{}k", count / 1000)
        } else {
            count.to_string()
        }
    }
}

/// An Executable the controllers reconcile (finalizer, status) without spawning
/// anything: stopped, and Persistent so the end of a session keeps it for the warm
/// restart.
pub fn executable(name: &str, round: usize) -> Executable {
    let mut spec = ExecutableSpec {
        command: "dotnet".into(),
        ..Default::default()
    };
    spec.run.args = vec!["run".into(), "--project".into(), format!("src/Api{round}")];
    spec.run.stopped = true;
    spec.run.lifetime = Lifetime::Persistent;
    Executable {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some([("app".to_string(), "bench".to_string())].into()),
            ..Default::default()
        },
        spec,
        status: None,
    }
}

/// Same-run write rates the durable writes are compared with.
pub struct References {
    /// A loop committing one fsynced redb transaction per write.
    pub redb: f64,
    /// etcd's durable puts at the same concurrency, when etcd is on PATH.
    pub etcd: Option<f64>,
}

impl References {
    fn describe(&self) -> String {
        let mut out = format!(
            "one fsynced redb transaction per write: {}",
            fmt_rate(self.redb)
        );
        if let Some(etcd) = self.etcd {
            out.push_str(&format!("; etcd's durable puts: {}", fmt_rate(etcd)));
        }
        out
    }

    /// "×0.42 etcd, ×0.8 redb".
    fn ratios(&self, rate: f64) -> String {
        let redb = format!("×{:.2} redb", rate / self.redb);
        match self.etcd {
            Some(etcd) => format!("×{:.2} etcd, {redb}", rate / etcd),
            None => redb,
        }
    }
}

/// Runs `op(0..count)` with [`CONCURRENCY`] in flight: elapsed, latencies, outputs.
async fn concurrently<T, F, Fut>(
    count: usize,
    op: F,
) -> anyhow::Result<(Duration, Vec<f64>, Vec<T>)>
where
    F: Fn(usize) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<T>>,
{
    let started = Instant::now();
    let results: Vec<(f64, T)> = futures::stream::iter(0..count)
        .map(|i| {
            let fut = op(i);
            async move {
                let t = Instant::now();
                let out = fut.await?;
                Ok::<_, anyhow::Error>((ms(t.elapsed()), out))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .try_collect()
        .await?;
    let elapsed = started.elapsed();
    let (lat, out) = results.into_iter().unzip();
    Ok((elapsed, lat, out))
}

pub fn fmt_rate(v: f64) -> String {
    format!("{}/s", thousands(v))
}

pub fn fmt_pair(p50: f64, p99: f64) -> String {
    format!("{p50:.2} / {p99:.2} ms")
}

/// An update as a real client makes it: PUT with the resourceVersion last seen; on a
/// conflict (a controller wrote in between) GET the object again and retry. Returns
/// the stored object and how many conflicts it met.
async fn update(
    api: &Api<Executable>,
    mut object: Executable,
    round: usize,
) -> anyhow::Result<(Executable, usize)> {
    let name = object.metadata.name.clone().unwrap_or_default();
    let mut conflicts = 0;
    loop {
        object.spec.run.args[2] = format!("src/Api{round}");
        match api.replace(&name, &PostParams::default(), &object).await {
            Ok(stored) => return Ok((stored, conflicts)),
            Err(kube::Error::Api(e)) if e.code == 409 && conflicts < 20 => {
                conflicts += 1;
                object = api.get(&name).await?;
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Creates `small` objects in `small` and `rounds × per_round` in `large`, then
/// updates the large ones round by round.
pub async fn writes(
    client: &kube::Client,
    sizes: &Sizes,
    table: &mut Table,
    references: &References,
) -> anyhow::Result<()> {
    let section = "durable writes, 64 in flight";
    eprintln!("[writes] durable creates and updates, {CONCURRENCY} in flight");
    let small: Api<Executable> = Api::namespaced(client.clone(), "small");
    let large: Api<Executable> = Api::namespaced(client.clone(), "large");
    let pp = PostParams::default();

    // Warm-up: the `small` namespace, which also opens the connection pool (TLS
    // handshakes) outside the measured rounds.
    concurrently(sizes.small, |i| {
        let api = small.clone();
        let pp = pp.clone();
        async move {
            Ok(api
                .create(&pp, &executable(&format!("obj-{i:05}"), 0))
                .await?)
        }
    })
    .await?;

    let (mut create_rates, mut create_lat, mut stored) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..sizes.rounds {
        let (elapsed, lat, out) = concurrently(sizes.per_round, |i| {
            let api = large.clone();
            let pp = pp.clone();
            let name = format!("obj-{:05}", round * sizes.per_round + i);
            async move { Ok(api.create(&pp, &executable(&name, 0)).await?) }
        })
        .await?;
        create_rates.push(sizes.per_round as f64 / elapsed.as_secs_f64());
        create_lat.extend(lat);
        stored.extend(out);
    }

    let (mut update_rates, mut update_lat, mut conflicts) = (Vec::new(), Vec::new(), 0);
    for round in 1..=sizes.rounds {
        let chunk: Vec<Executable> = stored.drain(..sizes.per_round).collect();
        let (elapsed, lat, out) = concurrently(chunk.len(), |i| {
            let api = large.clone();
            let object = chunk[i].clone();
            async move { update(&api, object, round).await }
        })
        .await?;
        update_rates.push(chunk.len() as f64 / elapsed.as_secs_f64());
        update_lat.extend(lat);
        for (object, met) in out {
            stored.push(object);
            conflicts += met;
        }
    }

    let rounds = format!("{} rounds × {}", sizes.rounds, sizes.per_round);
    for (verb, rates, lat) in [
        ("create", create_rates, create_lat),
        (
            "update (PUT, retried on conflict)",
            update_rates,
            update_lat,
        ),
    ] {
        let (min, max) = (
            rates.iter().copied().fold(f64::MAX, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
        );
        let median = Samples::new(rates).median();
        table
            .row(
                section,
                format!("{verb}: throughput, median of {rounds}"),
                format!(
                    "{} [{}–{}]",
                    fmt_rate(median),
                    thousands(min),
                    thousands(max)
                ),
            )
            .reference(references.describe())
            .at_least(median, WRITE_TARGET_PER_S, "writes/s");
        table.row(
            section,
            format!("{verb}: throughput against the references"),
            references.ratios(median),
        );
        let lat = Samples::new(lat);
        table.row(
            section,
            format!("{verb}: latency p50 / p99"),
            fmt_pair(lat.median(), lat.pct(99.0)),
        );
    }
    table.row(
        section,
        "conflicts met by the updates (each retried after a GET)",
        conflicts.to_string(),
    );
    Ok(())
}

/// Sequential GETs and LISTs against the small and the large namespace.
pub async fn reads(client: &kube::Client, sizes: &Sizes, table: &mut Table) -> anyhow::Result<()> {
    let section = "reads (sequential, one client)";
    eprintln!("[reads] GET and LIST latency");
    for (ns, count, lists) in [
        ("small", sizes.small, sizes.lists.0),
        ("large", sizes.large(), sizes.lists.1),
    ] {
        let api: Api<Executable> = Api::namespaced(client.clone(), ns);
        let label = Sizes::label(count);
        for i in 0..sizes.gets / 10 {
            api.get(&format!("obj-{:05}", (i * 7919) % count)).await?; // warm-up
        }
        let mut gets = Vec::new();
        for i in 0..sizes.gets {
            let name = format!("obj-{:05}", (i * 7919 + 13) % count);
            let t = Instant::now();
            api.get(&name).await?;
            gets.push(ms(t.elapsed()));
        }
        let gets = Samples::new(gets);
        table
            .row(
                section,
                format!("GET one object, {label} in the namespace: p50 / p99"),
                fmt_pair(gets.median(), gets.pct(99.0)),
            )
            .at_most(gets.pct(99.0), GET_P99_TARGET_MS, "ms p99");

        let mut list_ms = Vec::new();
        let mut bytes = 0;
        for _ in 0..lists {
            let request = http::Request::get(format!(
                "/apis/kaspire.dev/v1alpha1/namespaces/{ns}/executables"
            ))
            .body(Vec::new())?;
            let t = Instant::now();
            let body = client.request_text(request).await?;
            list_ms.push(ms(t.elapsed()));
            bytes = body.len();
        }
        let list_ms = Samples::new(list_ms);
        table
            .row(
                section,
                format!("LIST {label} objects: p50 / p99"),
                fmt_pair(list_ms.median(), list_ms.pct(99.0)),
            )
            .reference(format!(
                "{:.1} MB, {:.1} µs per object",
                bytes as f64 / 1e6,
                list_ms.median() * 1e3 / count as f64
            ));
    }
    Ok(())
}

/// Watchers on one namespace, then sequential creates: delivery latency from each
/// write's request start to each watcher's receipt.
pub async fn watch(client: &kube::Client, sizes: &Sizes, table: &mut Table) -> anyhow::Result<()> {
    let (watchers, writes) = (sizes.watchers, sizes.watch_writes);
    let section = "watch fan-out";
    eprintln!("[watch] {watchers} watchers, {writes} writes");
    let api: Api<Executable> = Api::namespaced(client.clone(), "watch");
    let pp = PostParams::default();
    let mut quiet = Vec::new();
    for seq in 0..writes {
        let t = Instant::now();
        api.create(&pp, &executable(&format!("quiet-{seq}"), 0))
            .await?;
        quiet.push(ms(t.elapsed()));
    }
    let quiet = Samples::new(quiet);
    let received: Arc<Mutex<Vec<(usize, Instant)>>> = Arc::default();
    let delivered = Arc::new(AtomicUsize::new(0));
    let notify = Arc::new(Notify::new());
    let mut tasks = Vec::new();
    for _ in 0..watchers {
        let stream = api.watch(&WatchParams::default().timeout(290), "0").await?;
        let (received, delivered, notify) = (received.clone(), delivered.clone(), notify.clone());
        tasks.push(tokio::spawn(async move {
            let mut stream = std::pin::pin!(stream);
            let mut local = Vec::new();
            while let Some(event) = stream.next().await {
                let at = Instant::now();
                if let Ok(WatchEvent::Added(object)) = event {
                    let seq: Option<usize> = object
                        .metadata
                        .name
                        .as_deref()
                        .and_then(|n| n.strip_prefix("w-"))
                        .and_then(|n| n.parse().ok());
                    let Some(seq) = seq else { continue };
                    local.push((seq, at));
                    delivered.fetch_add(1, Ordering::SeqCst);
                    notify.notify_waiters();
                    if local.len() == writes {
                        break;
                    }
                }
            }
            received.lock().expect("poisoned").extend(local);
        }));
    }
    // Let every watch reach the server before the first write.
    tokio::time::sleep(Duration::from_millis(300)).await;

    let mut started = HashMap::new();
    let mut round_trips = Vec::new();
    let mut timeouts = 0;
    for seq in 0..writes {
        let t = Instant::now();
        started.insert(seq, t);
        api.create(&pp, &executable(&format!("w-{seq}"), 0)).await?;
        round_trips.push(ms(t.elapsed()));
        // Pace: the next write starts once every watcher has this one (or after 1 s).
        let want = (seq + 1) * watchers;
        let deadline = Instant::now() + Duration::from_secs(1);
        while delivered.load(Ordering::SeqCst) < want {
            let wait = notify.notified();
            if delivered.load(Ordering::SeqCst) >= want {
                break;
            }
            if tokio::time::timeout_at(deadline.into(), wait)
                .await
                .is_err()
            {
                timeouts += 1;
                break;
            }
        }
    }
    for task in tasks {
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
    }
    let received = std::mem::take(&mut *received.lock().expect("poisoned"));
    let count = received.len();
    anyhow::ensure!(
        count == watchers * writes,
        "watch: {count} of {} events delivered ({timeouts} waits timed out)",
        watchers * writes
    );
    let latencies = Samples::new(
        received
            .into_iter()
            .filter_map(|(seq, at)| started.get(&seq).map(|s| ms(at.duration_since(*s))))
            .collect(),
    );
    let round_trips = Samples::new(round_trips);
    table
        .row(
            section,
            format!("{watchers} watchers, {writes} sequential creates: delivery p50 / p99"),
            fmt_pair(latencies.median(), latencies.pct(99.0)),
        )
        .reference(format!(
            "the write's own round trip {}; without watchers {}",
            fmt_pair(round_trips.median(), round_trips.pct(99.0)),
            fmt_pair(quiet.median(), quiet.pct(99.0))
        ))
        .at_most(latencies.pct(99.0), WATCH_P99_TARGET_MS, "ms p99");
    Ok(())
}

/// "exec of `kaspire --version`: 1.5 ms": process start alone, to separate it from
/// server start.
pub fn exec_reference(bin: &Path) -> anyhow::Result<String> {
    let mut exec = Vec::new();
    for _ in 0..10 {
        let t = Instant::now();
        Command::new(bin)
            .arg("--version")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        exec.push(ms(t.elapsed()));
    }
    Ok(format!(
        "exec of `kaspire --version`: {:.1} ms",
        Samples::new(exec).median()
    ))
}

/// Cold starts on fresh state dirs and warm restarts on the loaded one.
pub async fn starts(
    bin: &Path,
    mode: Mode,
    fresh: &Path,
    loaded: &Path,
    sizes: &Sizes,
    exec_reference: &str,
    table: &mut Table,
) -> anyhow::Result<()> {
    let section = "start (median of runs)";
    eprintln!(
        "[start] cold start x{}, warm restart x{}",
        sizes.cold_starts, sizes.warm_starts
    );
    async fn one(bin: &Path, dir: &Path, mode: Mode) -> anyhow::Result<(f64, f64)> {
        let t = Instant::now();
        let server = Server::start(bin, dir, mode)?;
        let client = server.client().await?;
        client.apiserver_version().await?;
        let served = ms(t.elapsed());
        let ready = ms(server.ready);
        server.stop();
        Ok((ready, served))
    }
    let (mut cold_ready, mut cold_served) = (Vec::new(), Vec::new());
    for i in 0..sizes.cold_starts {
        let (ready, served) = one(bin, &fresh.join(format!("cold-{i}")), mode).await?;
        cold_ready.push(ready);
        cold_served.push(served);
    }
    let (mut warm_ready, mut warm_served) = (Vec::new(), Vec::new());
    for _ in 0..sizes.warm_starts {
        let (ready, served) = one(bin, loaded, mode).await?;
        warm_ready.push(ready);
        warm_served.push(served);
    }
    let (cr, cs, wr, ws) = (
        Samples::new(cold_ready),
        Samples::new(cold_served),
        Samples::new(warm_ready),
        Samples::new(warm_served),
    );
    table
        .row(
            section,
            "cold start: exec → kubeconfig written / `/version` served",
            format!("{:.1} / {:.1} ms", cr.median(), cs.median()),
        )
        .reference(exec_reference)
        .at_most(cs.median(), COLD_START_TARGET_MS, "ms");
    table.row(
        section,
        format!(
            "warm restart with {} objects: exec → kubeconfig written / `/version` served",
            sizes.small + sizes.large() + 2 * sizes.watch_writes
        ),
        format!("{:.1} / {:.1} ms", wr.median(), ws.median()),
    );
    Ok(())
}
