//! The API-server benchmark: `cargo bench --bench apiserver`.
//!
//! Drives the real `kaspire` release binary (`kaspire serve` on a temporary state dir)
//! over real HTTPS with `kube::Client`, and prints one table: durable write throughput
//! (with a same-run fsynced-redb reference), GET/LIST latency at 1k and 10k objects,
//! watch delivery latency to 100 watchers, cold and warm start, and RSS. The machine
//! is small and shared, so figures are medians / p99 over several rounds, next to a
//! reference measured in the same run.
//!
//! `KASPIRE_BIN` overrides the binary; otherwise `target/release/kaspire` is used
//! (built with `cargo build --release` when missing). If `etcd` is on PATH, its durable
//! put throughput is measured with the same concurrency as a peer reference.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use kaspire::api::executable::{Executable, ExecutableSpec};
use kube::api::{Api, PostParams, WatchEvent, WatchParams};
use kube::core::ObjectMeta;
use tokio::sync::Notify;

#[path = "common/mod.rs"]
mod common;

use common::{Samples, Table, ensure_namespace, free_port, kaspire_binary, ms, selected};

/// Concurrent in-flight writes for the throughput phase.
const CONCURRENCY: usize = 64;
const WRITE_TARGET_PER_S: f64 = 3000.0;
const GET_P99_TARGET_MS: f64 = 2.0;
const WATCH_P99_TARGET_MS: f64 = 5.0;
const COLD_START_TARGET_MS: f64 = 100.0;
const WATCHERS: usize = 100;
const WATCH_WRITES: usize = 200;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    if let Err(e) = runtime.block_on(run()) {
        eprintln!("apiserver bench failed: {e:#}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------------
// The server process

/// A running `kaspire serve`; SIGKILLed when dropped.
struct Server {
    child: Child,
    kubeconfig: PathBuf,
    /// From exec to the "listening" line (kubeconfig written).
    ready: Duration,
}

impl Server {
    fn start(bin: &Path, state_dir: &Path) -> anyhow::Result<Server> {
        let started = Instant::now();
        let mut child = Command::new(bin)
            .args([
                "--state-dir",
                state_dir.to_str().expect("utf-8 path"),
                "serve",
                "--port",
                "0",
            ])
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
        let first = lines.next().transpose()?.unwrap_or_default();
        let ready = started.elapsed();
        anyhow::ensure!(
            first.contains("listening on https://127.0.0.1:"),
            "unexpected output from kaspire serve: {first:?}"
        );
        std::thread::spawn(move || for _ in lines {});
        Ok(Server {
            child,
            kubeconfig: state_dir.join("kubeconfig"),
            ready,
        })
    }

    async fn client(&self) -> anyhow::Result<kube::Client> {
        let kubeconfig = kube::config::Kubeconfig::read_from(&self.kubeconfig)?;
        let config = kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default()).await?;
        Ok(kube::Client::try_from(config)?)
    }

    fn rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(f64::NAN)
    }

    /// SIGTERM and wait, so the store is closed cleanly before a restart.
    fn stop(mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------
// Workload helpers

fn executable(name: &str, round: usize) -> Executable {
    let mut spec = ExecutableSpec {
        command: "dotnet".into(),
        ..Default::default()
    };
    spec.run.args = vec!["run".into(), "--project".into(), format!("src/Api{round}")];
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

fn fmt_rate(v: f64) -> String {
    format!("{v:.0}/s")
}

fn fmt_pair(p50: f64, p99: f64) -> String {
    format!("{p50:.2} / {p99:.2} ms")
}

// ---------------------------------------------------------------------------------
// The phases

async fn run() -> anyhow::Result<()> {
    let bin = kaspire_binary()?;
    let tmp = tempfile::tempdir()?;
    let mut table = Table::default();
    eprintln!(
        "kaspire API-server bench: {} ({} cores)",
        bin.display(),
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    let total = Instant::now();

    // Reference: one fsynced redb transaction per write, on the same disk.
    eprintln!("[reference] raw redb: one fsynced transaction per write");
    let redb_rate = redb_reference(&tmp.path().join("ref.redb"))?;

    let state = tmp.path().join("state");
    let server = Server::start(&bin, &state)?;
    let client = server.client().await?;
    for ns in ["small", "large", "watch"] {
        ensure_namespace(&client, ns).await?;
    }

    if selected("writes") || selected("reads") || selected("start") {
        writes(&client, &mut table, redb_rate).await?;
        let rss = server.rss_mib();
        table.row(
            "memory",
            "RSS after loading 10k objects",
            format!("{rss:.1} MiB"),
        );
    }
    if selected("reads") {
        reads(&client, &mut table).await?;
    }
    if selected("watch") {
        watch(&client, &mut table).await?;
    }
    drop(client);
    server.stop();

    if selected("start") {
        starts(&bin, tmp.path(), &state, &mut table).await?;
    }
    if selected("etcd") {
        etcd(tmp.path(), &mut table).await?;
    }

    table.notes.push(format!(
        "{} cores, total bench time {:.0} s; latency percentiles pool every round's samples, throughput is the median of rounds (min–max in brackets)",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        total.elapsed().as_secs_f64()
    ));
    table.print();
    Ok(())
}

/// Writes per second of a loop committing one tiny fsynced redb transaction per write.
fn redb_reference(path: &Path) -> anyhow::Result<f64> {
    const T: redb::TableDefinition<&[u8], &[u8]> = redb::TableDefinition::new("objects");
    let db = redb::Database::create(path)?;
    let value = vec![b'x'; 600];
    let mut rates = Vec::new();
    for round in 0..3 {
        let started = Instant::now();
        let mut n = 0;
        while started.elapsed() < Duration::from_millis(700) {
            let txn = db.begin_write()?;
            txn.open_table(T)?
                .insert(format!("k{round}-{n}").as_bytes(), value.as_slice())?;
            txn.commit()?;
            n += 1;
        }
        rates.push(n as f64 / started.elapsed().as_secs_f64());
    }
    Ok(Samples::new(rates).median())
}

/// Creates 1k objects in `small` and 10k in `large` (rounds of 2,000), then updates.
async fn writes(client: &kube::Client, table: &mut Table, redb_rate: f64) -> anyhow::Result<()> {
    eprintln!("[writes] durable creates and updates, {CONCURRENCY} in flight");
    let small: Api<Executable> = Api::namespaced(client.clone(), "small");
    let large: Api<Executable> = Api::namespaced(client.clone(), "large");
    let pp = PostParams::default();

    // Warm-up: opens the connection pool (TLS handshakes) outside the measured rounds.
    concurrently(CONCURRENCY * 2, |i| {
        let api = small.clone();
        let pp = pp.clone();
        async move {
            Ok(api
                .create(&pp, &executable(&format!("obj-{i:05}"), 0))
                .await?)
        }
    })
    .await?;
    concurrently(1000 - CONCURRENCY * 2, |i| {
        let api = small.clone();
        let pp = pp.clone();
        async move {
            Ok(api
                .create(
                    &pp,
                    &executable(&format!("obj-{:05}", i + CONCURRENCY * 2), 0),
                )
                .await?)
        }
    })
    .await?;

    let mut create_rates = Vec::new();
    let mut create_lat = Vec::new();
    let mut stored: Vec<Executable> = Vec::new();
    for round in 0..5 {
        let (elapsed, lat, out) = concurrently(2000, |i| {
            let api = large.clone();
            let pp = pp.clone();
            async move {
                Ok(api
                    .create(&pp, &executable(&format!("obj-{:05}", round * 2000 + i), 0))
                    .await?)
            }
        })
        .await?;
        create_rates.push(2000.0 / elapsed.as_secs_f64());
        create_lat.extend(lat);
        stored.extend(out);
    }

    let mut update_rates = Vec::new();
    let mut update_lat = Vec::new();
    for round in 1..=5 {
        let chunk: Vec<Executable> = stored.drain(..2000).collect();
        let (elapsed, lat, out) = concurrently(chunk.len(), |i| {
            let api = large.clone();
            let pp = pp.clone();
            let mut object = chunk[i].clone();
            object.spec.run.args[2] = format!("src/Api{round}");
            async move {
                let name = object.metadata.name.clone().unwrap_or_default();
                Ok(api.replace(&name, &pp, &object).await?)
            }
        })
        .await?;
        update_rates.push(chunk.len() as f64 / elapsed.as_secs_f64());
        update_lat.extend(lat);
        stored.extend(out);
    }

    for (verb, rates, lat) in [
        ("create", create_rates, create_lat),
        ("update (PUT)", update_rates, update_lat),
    ] {
        let (min, max) = (
            rates.iter().copied().fold(f64::MAX, f64::min),
            rates.iter().copied().fold(0.0, f64::max),
        );
        let median = Samples::new(rates).median();
        table
            .row(
                "durable writes, 64 in flight, 5 rounds x 2000",
                format!("{verb} throughput"),
                format!("{} [{:.0}–{:.0}]", fmt_rate(median), min, max),
            )
            .reference(format!(
                "x{:.1} vs 1 fsync/write ({})",
                median / redb_rate,
                fmt_rate(redb_rate)
            ))
            .at_least(median, WRITE_TARGET_PER_S, "writes/s");
        let lat = Samples::new(lat);
        table.row(
            "durable writes, 64 in flight, 5 rounds x 2000",
            format!("{verb} latency p50 / p99"),
            fmt_pair(lat.median(), lat.pct(99.0)),
        );
    }
    Ok(())
}

/// Sequential GETs and LISTs against the 1k and 10k namespaces.
async fn reads(client: &kube::Client, table: &mut Table) -> anyhow::Result<()> {
    eprintln!("[reads] GET and LIST latency");
    for (ns, count, lists) in [("small", 1000usize, 50usize), ("large", 10_000, 15)] {
        let api: Api<Executable> = Api::namespaced(client.clone(), ns);
        let mut gets = Vec::new();
        for i in 0..200 {
            api.get(&format!("obj-{:05}", (i * 7919) % count)).await?; // warm-up
        }
        for _round in 0..5 {
            for i in 0..400 {
                let name = format!("obj-{:05}", (i * 7919 + 13) % count);
                let t = Instant::now();
                api.get(&name).await?;
                gets.push(ms(t.elapsed()));
            }
        }
        let gets = Samples::new(gets);
        let label = if count == 1000 { "1k" } else { "10k" };
        table
            .row(
                "reads (sequential, one client)",
                format!("GET one object, {label} in ns: p50 / p99"),
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
                "reads (sequential, one client)",
                format!("LIST {label} objects (raw body): p50 / p99"),
                fmt_pair(list_ms.median(), list_ms.pct(99.0)),
            )
            .reference(format!(
                "{:.1} MB, {:.0} ns/object p50",
                bytes as f64 / 1e6,
                list_ms.median() * 1e6 / count as f64
            ));
    }
    Ok(())
}

/// 100 watchers on one namespace; 200 sequential creates; delivery latency from each
/// write's request start to each watcher's receipt.
async fn watch(client: &kube::Client, table: &mut Table) -> anyhow::Result<()> {
    eprintln!("[watch] {WATCHERS} watchers, {WATCH_WRITES} writes");
    let api: Api<Executable> = Api::namespaced(client.clone(), "watch");
    let pp = PostParams::default();
    let mut quiet = Vec::new();
    for seq in 0..WATCH_WRITES {
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
    for _ in 0..WATCHERS {
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
                    if local.len() == WATCH_WRITES {
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
    for seq in 0..WATCH_WRITES {
        let t = Instant::now();
        started.insert(seq, t);
        api.create(&pp, &executable(&format!("w-{seq}"), 0)).await?;
        round_trips.push(ms(t.elapsed()));
        // Pace: the next write starts once every watcher has this one (or after 1 s).
        let want = (seq + 1) * WATCHERS;
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
    let latencies = Samples::new(
        received
            .into_iter()
            .filter_map(|(seq, at)| started.get(&seq).map(|s| ms(at.duration_since(*s))))
            .collect(),
    );
    let round_trips = Samples::new(round_trips);
    table
        .row(
            "watch (100 watchers, 200 sequential creates)",
            "delivery latency p50 / p99",
            fmt_pair(latencies.median(), latencies.pct(99.0)),
        )
        .reference(format!(
            "write round trip {}",
            fmt_pair(round_trips.median(), round_trips.pct(99.0))
        ))
        .at_most(latencies.pct(99.0), WATCH_P99_TARGET_MS, "ms p99");
    table.row(
        "watch (100 watchers, 200 sequential creates)",
        "reference: same creates, no watchers",
        fmt_pair(quiet.median(), quiet.pct(99.0)),
    );
    table.row(
        "watch (100 watchers, 200 sequential creates)",
        "events delivered",
        format!(
            "{count} of {}{}",
            WATCHERS * WATCH_WRITES,
            if timeouts > 0 {
                format!(" ({timeouts} waits timed out)")
            } else {
                String::new()
            }
        ),
    );
    Ok(())
}

/// Cold start on fresh state dirs and warm restart on the 10k-object dir.
async fn starts(bin: &Path, tmp: &Path, loaded: &Path, table: &mut Table) -> anyhow::Result<()> {
    eprintln!("[start] cold start x10, warm restart x5");
    async fn one(bin: &Path, dir: &Path) -> anyhow::Result<(f64, f64)> {
        let t = Instant::now();
        let server = Server::start(bin, dir)?;
        let client = server.client().await?;
        client.apiserver_version().await?;
        let served = ms(t.elapsed());
        let ready = ms(server.ready);
        server.stop();
        Ok((ready, served))
    }
    let (mut cold_ready, mut cold_served) = (Vec::new(), Vec::new());
    for i in 0..10 {
        let (ready, served) = one(bin, &tmp.join(format!("cold-{i}"))).await?;
        cold_ready.push(ready);
        cold_served.push(served);
    }
    let (mut warm_ready, mut warm_served) = (Vec::new(), Vec::new());
    for _ in 0..5 {
        let (ready, served) = one(bin, loaded).await?;
        warm_ready.push(ready);
        warm_served.push(served);
    }
    // Reference: exec of a trivial process, to separate process start from server start.
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
    let exec = Samples::new(exec);
    let (cr, cs, wr, ws) = (
        Samples::new(cold_ready),
        Samples::new(cold_served),
        Samples::new(warm_ready),
        Samples::new(warm_served),
    );
    table
        .row(
            "start (median of runs)",
            "cold start: exec -> /version served",
            format!("{:.1} ms", cs.median()),
        )
        .reference(format!(
            "kubeconfig written at {:.1} ms; p99 {:.1} ms",
            cr.median(),
            cs.pct(99.0)
        ))
        .at_most(cs.median(), COLD_START_TARGET_MS, "ms");
    table
        .row(
            "start (median of runs)",
            "warm restart, 10k objects: exec -> /version",
            format!("{:.1} ms", ws.median()),
        )
        .reference(format!("kubeconfig written at {:.1} ms", wr.median()));
    table.row(
        "start (median of runs)",
        "reference: exec of `kaspire --version`",
        format!("{:.1} ms", exec.median()),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Optional peer reference: etcd's durable put throughput via its JSON gateway.

async fn etcd(tmp: &Path, table: &mut Table) -> anyhow::Result<()> {
    let Some(etcd) = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join("etcd"))
            .find(|p| p.is_file())
    }) else {
        table.notes.push("etcd is not on PATH: peer reference skipped (apt-get install etcd-server to enable it)".into());
        return Ok(());
    };
    eprintln!("[etcd] durable puts, {CONCURRENCY} in flight");
    let port = free_port()?;
    let peer = free_port()?;
    let client_url = format!("http://127.0.0.1:{port}");
    let peer_url = format!("http://127.0.0.1:{peer}");
    let mut child = Command::new(etcd)
        .args(["--data-dir", tmp.join("etcd").to_str().expect("utf-8")])
        .args([
            "--listen-client-urls",
            &client_url,
            "--advertise-client-urls",
            &client_url,
        ])
        .args([
            "--listen-peer-urls",
            &peer_url,
            "--initial-advertise-peer-urls",
            &peer_url,
        ])
        .args(["--initial-cluster", &format!("default={peer_url}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let result = etcd_puts(port).await;
    let _ = child.kill();
    let _ = child.wait();
    let (rates, lat) = result?;
    let median = Samples::new(rates).median();
    let lat = Samples::new(lat);
    table
        .row(
            "peer: etcd (same machine, same concurrency)",
            "etcd durable put throughput",
            fmt_rate(median),
        )
        .reference(format!(
            "p50 / p99 {}",
            fmt_pair(lat.median(), lat.pct(99.0))
        ));
    Ok(())
}

async fn etcd_puts(port: u16) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
    use base64::Engine;
    let b64 = &base64::engine::general_purpose::STANDARD;
    let deadline = Instant::now() + Duration::from_secs(10);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        anyhow::ensure!(Instant::now() < deadline, "etcd did not start");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let value = b64.encode(vec![b'x'; 600]);
    let mut conns = Vec::new();
    for _ in 0..CONCURRENCY {
        conns.push(HttpConn::connect(port).await?);
    }
    let (mut rates, mut lat) = (Vec::new(), Vec::new());
    for round in 0..4 {
        let per_conn = 2000 / CONCURRENCY;
        let started = Instant::now();
        let results =
            futures::future::try_join_all(conns.iter_mut().enumerate().map(|(c, conn)| {
                let value = value.clone();
                async move {
                    let mut lat = Vec::new();
                    for i in 0..per_conn {
                        let key = b64.encode(format!("/bench/{round}/{c}/{i}"));
                        let body = format!("{{\"key\":\"{key}\",\"value\":\"{value}\"}}");
                        let t = Instant::now();
                        conn.post("/v3/kv/put", &body).await?;
                        lat.push(ms(t.elapsed()));
                    }
                    Ok::<_, anyhow::Error>(lat)
                }
            }))
            .await?;
        let n: usize = results.iter().map(Vec::len).sum();
        rates.push(n as f64 / started.elapsed().as_secs_f64());
        if round > 0 {
            lat.extend(results.into_iter().flatten());
        }
    }
    rates.remove(0); // warm-up round
    Ok((rates, lat))
}

/// A minimal keep-alive HTTP/1.1 client: enough for etcd's JSON gateway.
struct HttpConn {
    stream: tokio::io::BufReader<tokio::net::TcpStream>,
}

impl HttpConn {
    async fn connect(port: u16) -> anyhow::Result<Self> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
        tcp.set_nodelay(true)?;
        Ok(HttpConn {
            stream: tokio::io::BufReader::new(tcp),
        })
    }

    async fn post(&mut self, path: &str, body: &str) -> anyhow::Result<String> {
        use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream.get_mut().write_all(request.as_bytes()).await?;
        let mut status = String::new();
        self.stream.read_line(&mut status).await?;
        anyhow::ensure!(
            status.starts_with("HTTP/1.1 200"),
            "etcd answered {status:?}"
        );
        let (mut length, mut chunked) = (0usize, false);
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let lower = line.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse()?;
            } else if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
                chunked = true;
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                let mut size = String::new();
                self.stream.read_line(&mut size).await?;
                let size = usize::from_str_radix(size.trim(), 16)?;
                let mut chunk = vec![0; size + 2];
                self.stream.read_exact(&mut chunk).await?;
                if size == 0 {
                    break;
                }
                body.extend_from_slice(&chunk[..size]);
            }
        } else {
            body.resize(length, 0);
            self.stream.read_exact(&mut body).await?;
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}
