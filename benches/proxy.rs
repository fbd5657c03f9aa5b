//! The proxy benchmark: `cargo bench --bench proxy`.
//!
//! A tiny keep-alive HTTP backend on loopback is loaded by `wrk` three ways in the same
//! run: directly, through kaspire's proxy (`runtime::proxy`, on its own Tokio runtime as
//! in the control plane), and through HAProxy in TCP mode as the reference L4 proxy.
//! Each round measures every target twice — throughput with many connections, and the
//! round trip of one connection (where the proxy's added latency shows undiluted by
//! queueing) — and the table prints medians over the rounds.
//!
//! Next to throughput and latency it prints what each proxy costs: CPU time of the
//! proxy's own threads per request (from `/proc/.../schedstat`, nanosecond counters), a
//! figure the other load on a shared machine disturbs much less than req/s.
//!
//! Every round runs in two CPU layouts (see [`Layout`]): all parties sharing every core,
//! and the proxies on a core of their own, wrk and the backend on the others — the
//! situation of a developer machine with cores to spare, which a 2-core test machine
//! can only emulate by pinning.
//!
//! Needs `wrk` (`apt-get install wrk`) and `taskset` (util-linux); HAProxy
//! (`apt-get install haproxy`) is skipped with a note when missing. `ROUNDS`, `SECONDS`
//! and `PROXY_WORKERS` override the defaults. Under `cargo test` it runs in quick mode
//! (one round of one second) as a smoke test.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "common/mod.rs"]
mod common;

use kaspire::runtime::ports;
use kaspire::runtime::proxy::{Backend, Protocol, Proxy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const TARGET_THROUGHPUT_RATIO: f64 = 0.80;
const TARGET_ADDED_P50_US: f64 = 50.0;
/// Connections for the throughput phase.
const CONNECTIONS: usize = 50;
const RESPONSE: &[u8] =
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nok";

fn main() {
    if common::filtered_out("proxy") {
        return;
    }
    if Command::new("wrk").arg("--version").output().is_err() {
        eprintln!("proxy bench needs wrk on PATH: apt-get install wrk");
        // A smoke run on a user's machine without wrk reports itself skipped; CI has it.
        let skip = common::quick() && std::env::var("CI").is_err();
        std::process::exit(if skip { 0 } else { 1 });
    }
    let run = common::Run::start();
    let started = std::time::Instant::now();
    let rounds = env_number("ROUNDS", common::size(5, 1));
    let seconds = env_number("SECONDS", common::size(3, 1));
    let mut notes = Vec::new();

    let backend_rt = runtime(BACKEND_THREAD, 1);
    let backend = backend_rt.block_on(http_backend());
    let proxy_rt = runtime(PROXY_THREAD, env_number("PROXY_WORKERS", 2));
    let proxy = proxy_rt.block_on(async {
        let proxy = Proxy::start(loopback(0), Protocol::Tcp).expect("proxy");
        proxy.set_backends(vec![Backend {
            id: 0,
            addr: backend,
            ready: true,
        }]);
        proxy
    });
    let haproxy = HaProxy::start(backend);
    if haproxy.is_none() {
        eprintln!("haproxy not on PATH (apt-get install haproxy): reference skipped");
        notes.push(
            "HAProxy is not on PATH: its reference was skipped (apt-get install haproxy)".into(),
        );
    }
    let layouts = Layout::available();
    let mut targets: Vec<Vec<Target>> = layouts
        .iter()
        .map(|_| {
            let mut targets = vec![
                Target::new("direct", backend, Cpu::None),
                Target::new(
                    "kaspire proxy",
                    proxy.local_addr(),
                    Cpu::Threads(PROXY_THREAD),
                ),
            ];
            if let Some(haproxy) = &haproxy {
                targets.push(Target::new(
                    "HAProxy (tcp mode)",
                    haproxy.addr,
                    Cpu::Process(haproxy.child.id()),
                ));
            }
            targets
        })
        .collect();
    // Rounds interleave the layouts and the targets, so a burst of other load on the
    // machine lands on all of them alike.
    for round in 1..=rounds {
        for (layout, targets) in layouts.iter().zip(&mut targets) {
            layout.pin(haproxy.as_ref().map(|h| h.child.id()));
            for target in targets.iter_mut() {
                if round == 1 {
                    // Warm-up: connections, caches, the proxy's first task.
                    wrk(layout, target.addr, 1, 1, 1);
                }
                measure(round, layout, target, seconds);
            }
        }
    }
    let mut body = table_head();
    for (layout, targets) in layouts.iter().zip(&targets) {
        let (rows, verdict) = layout_rows(layout, targets);
        body.push_str(&rows);
        notes.push(verdict);
    }
    notes.push(format!(
        "wrk, {rounds} rounds × {seconds} s per phase, medians; the layouts and targets interleave within each round"
    ));
    // Every wrk connection has closed by now; anything still open would be a leak.
    std::thread::sleep(Duration::from_millis(200));
    let stats = proxy.stats();
    notes.push(format!(
        "kaspire proxy afterwards: {} connections open, {} dropped, {} dispatched",
        stats.active,
        stats.dropped,
        stats.dispatched.values().sum::<u64>()
    ));
    common::print_block("proxy", &body, &notes, &run);
    drop(haproxy);
    drop(proxy);
    if stats.active != 0 || stats.dropped != 0 {
        eprintln!("proxy bench: the proxy leaked or dropped connections");
        std::process::exit(1);
    }
    common::passed(started);
}

/// One round's two phases on one target: throughput with many connections (with the
/// proxy's CPU time), then the round trip of a single connection.
fn measure(round: usize, layout: &Layout, target: &mut Target, seconds: u64) {
    let before = target.cpu.nanos();
    let mut load = wrk(layout, target.addr, 2, CONNECTIONS, seconds);
    let spent = target
        .cpu
        .nanos()
        .zip(before)
        .map(|(after, before)| after - before);
    load.cpu_us_per_request = spent.map(|ns| ns as f64 / 1e3 / (load.rps * seconds as f64));
    let single = wrk(layout, target.addr, 1, 1, seconds);
    eprintln!(
        "round {round} {:>13} {:>18}: {:>9.0} req/s p50 {:>6.0} µs p99 {:>6.0} µs cpu {:>4.1} µs/req | \
         c=1 {:>7.0} req/s p50 {:>5.1} µs p99 {:>6.1} µs",
        layout.name(),
        target.name,
        load.rps,
        load.p50_us,
        load.p99_us,
        load.cpu_us_per_request.unwrap_or(f64::NAN),
        single.rps,
        single.p50_us,
        single.p99_us
    );
    target.figures.load.push(load);
    target.figures.single.push(single);
}

fn table_head() -> String {
    format!(
        "| layout, target | req/s, {CONNECTIONS} conns | p50 / p99 | req/s, 1 conn | p50 / p99, 1 conn | \
         throughput vs direct | added p50, 1 conn | proxy CPU per request |\n\
         |---|---|---|---|---|---|---|---|\n"
    )
}

/// One layout's rows of the table, and the verdict on kaspire's targets there.
fn layout_rows(layout: &Layout, targets: &[Target]) -> (String, String) {
    let mut out = String::new();
    let direct = targets[0].figures.medians();
    for target in targets {
        let m = target.figures.medians();
        let cpu = m
            .load
            .cpu_us_per_request
            .map_or_else(|| "—".to_owned(), |us| format!("{us:.1} µs"));
        let name = if target.name == "kaspire proxy" {
            format!("**{}**", target.name)
        } else {
            target.name.to_string()
        };
        out.push_str(&format!(
            "| {} — {name} | {} | {:.0} / {:.0} µs | {} | {:.1} / {:.1} µs | {:.0} % | {:+.1} µs | {cpu} |\n",
            layout.name(),
            common::thousands(m.load.rps),
            m.load.p50_us,
            m.load.p99_us,
            common::thousands(m.single.rps),
            m.single.p50_us,
            m.single.p99_us,
            100.0 * m.load.rps / direct.load.rps,
            m.single.p50_us - direct.single.p50_us,
        ));
    }
    let kaspire = targets[1].figures.medians();
    let ratio = kaspire.load.rps / direct.load.rps;
    let added = kaspire.single.p50_us - direct.single.p50_us;
    let verdict = format!(
        "{}: kaspire's proxy {:.0} % of direct throughput (target ≥ {:.0} % {}), added p50 {:.1} µs \
         (target ≤ {TARGET_ADDED_P50_US:.0} µs {})",
        layout.describe(),
        100.0 * ratio,
        100.0 * TARGET_THROUGHPUT_RATIO,
        common::mark(ratio >= TARGET_THROUGHPUT_RATIO),
        added,
        common::mark(added <= TARGET_ADDED_P50_US),
    );
    (out, verdict)
}

// ---------------------------------------------------------------------------------
// Layouts: which CPUs the load, the backend and the proxies may use

/// Where the bench's parties run. `Shared`: wrk, the backend and the proxy all compete
/// for every core, so each microsecond a proxy spends is taken from the application (on
/// a 2-core machine that wrk and the backend already saturate, this bounds any proxy's
/// ratio). `OwnCore`: wrk and the backend share the first core(s) and the proxies have
/// the last one to themselves, as on a developer machine with cores to spare; the
/// direct target then gets exactly the application's cores.
enum Layout {
    Shared { cpus: usize },
    OwnCore { cpus: usize },
}

impl Layout {
    /// Both layouts when there are at least two CPUs to split.
    fn available() -> Vec<Layout> {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cpus < 2 {
            eprintln!("one CPU: the own-core layout is skipped");
            return vec![Layout::Shared { cpus }];
        }
        vec![Layout::Shared { cpus }, Layout::OwnCore { cpus }]
    }

    fn name(&self) -> &'static str {
        match self {
            Layout::Shared { .. } => "shared cores",
            Layout::OwnCore { .. } => "own core",
        }
    }

    fn describe(&self) -> String {
        match self {
            Layout::Shared { cpus } => {
                format!("shared cores (wrk, backend and proxy on all {cpus})")
            }
            Layout::OwnCore { cpus } => format!(
                "proxy on a core of its own (wrk and backend on CPU {}, the proxy on CPU {})",
                self.application_cpus(),
                cpus - 1
            ),
        }
    }

    /// The CPUs of wrk and the backend, as `taskset -c` takes them.
    fn application_cpus(&self) -> String {
        match self {
            Layout::Shared { cpus } => format!("0-{}", cpus - 1),
            Layout::OwnCore { cpus: 2 } => "0".to_owned(),
            Layout::OwnCore { cpus } => format!("0-{}", cpus - 2),
        }
    }

    fn proxy_cpus(&self) -> String {
        match self {
            Layout::Shared { cpus } => format!("0-{}", cpus - 1),
            Layout::OwnCore { cpus } => (cpus - 1).to_string(),
        }
    }

    /// Moves the backend's and the proxy's threads, and HAProxy, onto this layout's CPUs.
    fn pin(&self, haproxy: Option<u32>) {
        for (prefix, cpus) in [
            (BACKEND_THREAD, self.application_cpus()),
            (PROXY_THREAD, self.proxy_cpus()),
        ] {
            for task in threads_named("self", prefix).expect("/proc/self/task") {
                let tid = task.file_name().expect("a thread id").to_string_lossy();
                taskset(&["-p", "-c", &cpus, &tid]);
            }
        }
        if let Some(pid) = haproxy {
            taskset(&["-a", "-p", "-c", &self.proxy_cpus(), &pid.to_string()]);
        }
    }
}

/// The `/proc` directories of the threads of process `pid` (`self` for this one) whose
/// name starts with `prefix`; None when the process is gone.
fn threads_named(pid: &str, prefix: &str) -> Option<Vec<std::path::PathBuf>> {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).ok()?;
    let threads = tasks
        .flatten()
        .map(|task| task.path())
        .filter(|task| {
            std::fs::read_to_string(task.join("comm")).is_ok_and(|comm| comm.starts_with(prefix))
        })
        .collect();
    Some(threads)
}

fn taskset(args: &[&str]) {
    let output = Command::new("taskset")
        .args(args)
        .output()
        .expect("taskset (util-linux)");
    assert!(
        output.status.success(),
        "taskset {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

// ---------------------------------------------------------------------------------
// Figures

/// One target of the bench and what was measured on it.
struct Target {
    name: &'static str,
    addr: SocketAddr,
    cpu: Cpu,
    figures: Figures,
}

impl Target {
    fn new(name: &'static str, addr: SocketAddr, cpu: Cpu) -> Self {
        Self {
            name,
            addr,
            cpu,
            figures: Figures::default(),
        }
    }
}

/// Whose CPU time counts as the proxy's.
enum Cpu {
    /// No proxy (the direct target).
    None,
    /// Threads of this process whose name starts with this (the proxy's runtime).
    Threads(&'static str),
    /// Every thread of this process (HAProxy).
    Process(u32),
}

impl Cpu {
    /// Nanoseconds on CPU so far, summed over the threads that count.
    fn nanos(&self) -> Option<u64> {
        let (pid, prefix) = match self {
            Cpu::None => return None,
            Cpu::Threads(prefix) => ("self".to_owned(), *prefix),
            Cpu::Process(pid) => (pid.to_string(), ""),
        };
        let mut total = 0;
        for task in threads_named(&pid, prefix)? {
            let schedstat = std::fs::read_to_string(task.join("schedstat")).ok()?;
            total += schedstat.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(total)
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Run {
    rps: f64,
    p50_us: f64,
    p99_us: f64,
    /// CPU time of the proxy per request (throughput phase only).
    cpu_us_per_request: Option<f64>,
}

#[derive(Debug, Default)]
struct Figures {
    load: Vec<Run>,
    single: Vec<Run>,
}

struct Medians {
    load: Run,
    single: Run,
}

impl Figures {
    fn medians(&self) -> Medians {
        Medians {
            load: median_run(&self.load),
            single: median_run(&self.single),
        }
    }
}

fn median_run(runs: &[Run]) -> Run {
    let median = |pick: fn(&Run) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(pick).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    let mut cpu: Vec<f64> = runs.iter().filter_map(|r| r.cpu_us_per_request).collect();
    cpu.sort_by(f64::total_cmp);
    Run {
        rps: median(|r| r.rps),
        p50_us: median(|r| r.p50_us),
        p99_us: median(|r| r.p99_us),
        cpu_us_per_request: cpu.get(cpu.len() / 2).copied(),
    }
}

// ---------------------------------------------------------------------------------
// wrk

/// Runs wrk against `addr` (on the layout's application CPUs) and parses requests/s and
/// the latency distribution.
fn wrk(layout: &Layout, addr: SocketAddr, threads: usize, connections: usize, seconds: u64) -> Run {
    let output = Command::new("taskset")
        .args(["-c", &layout.application_cpus(), "wrk"])
        .args([
            "--latency",
            "-t",
            &threads.to_string(),
            "-c",
            &connections.to_string(),
        ])
        .args(["-d", &format!("{seconds}s"), &format!("http://{addr}/")])
        .output()
        .expect("wrk");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && !text.contains("Non-2xx") && !text.contains("Socket errors"),
        "wrk against {addr} failed:\n{text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let field = |prefix: &str| {
        text.lines()
            .map(str::trim)
            .find_map(|line| line.strip_prefix(prefix))
            .map(|rest| rest.trim().to_owned())
            .unwrap_or_else(|| panic!("wrk output lacks {prefix}:\n{text}"))
    };
    Run {
        rps: field("Requests/sec:").parse().expect("Requests/sec"),
        p50_us: micros(&field("50%")),
        p99_us: micros(&field("99%")),
        cpu_us_per_request: None,
    }
}

/// wrk's durations: `812.00us`, `1.23ms`, `2.00s`.
fn micros(text: &str) -> f64 {
    let split = text
        .find(|c: char| c.is_ascii_alphabetic())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().unwrap_or_else(|_| panic!("duration {text}"));
    number
        * match unit {
            "us" => 1.0,
            "ms" => 1e3,
            "s" => 1e6,
            "m" => 60e6,
            _ => panic!("duration unit in {text}"),
        }
}

// ---------------------------------------------------------------------------------
// The backend and HAProxy

/// A keep-alive HTTP/1.1 server answering every request with a 2-byte body.
async fn http_backend() -> SocketAddr {
    let listener = TcpListener::bind(loopback(0)).await.expect("backend");
    let addr = listener.local_addr().expect("backend addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                let mut filled = 0;
                loop {
                    let read = stream.read(&mut buf[filled..]).await.unwrap_or(0);
                    if read == 0 {
                        return;
                    }
                    filled += read;
                    // wrk sends bodiless GETs; answer each complete one in order.
                    let mut responses = Vec::new();
                    while let Some(end) = buf[..filled].windows(4).position(|w| w == b"\r\n\r\n") {
                        responses.extend_from_slice(RESPONSE);
                        buf.copy_within(end + 4..filled, 0);
                        filled -= end + 4;
                    }
                    if stream.write_all(&responses).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    addr
}

/// HAProxy in TCP mode with a generated config, in the foreground; killed on drop.
struct HaProxy {
    child: Child,
    addr: SocketAddr,
    _config: tempfile::NamedTempFile,
    _lease: ports::PortLease,
}

impl HaProxy {
    fn start(backend: SocketAddr) -> Option<HaProxy> {
        // Leased like every port kaspire hands out, so no other instance takes it meanwhile.
        let lease = ports::allocate().expect("a free port");
        let port = lease.port();
        let config = format!(
            "global\n  maxconn 4000\n  nbthread 2\n\
             defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n\
             frontend bench\n  bind 127.0.0.1:{port}\n  default_backend replicas\n\
             backend replicas\n  balance roundrobin\n  server r0 {backend}\n"
        );
        let file = tempfile::NamedTempFile::new().expect("haproxy config");
        std::fs::write(file.path(), config).expect("haproxy config");
        let mut child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(file.path())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .ok()?;
        let addr = loopback(port);
        let deadline = Instant::now() + Duration::from_secs(5);
        while std::net::TcpStream::connect(addr).is_err() {
            if Instant::now() > deadline || child.try_wait().ok().flatten().is_some() {
                let _ = child.kill();
                let output = child.wait_with_output().expect("haproxy output");
                panic!(
                    "haproxy did not start:\n{}",
                    String::from_utf8_lossy(&output.stderr)
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Some(HaProxy {
            child,
            addr,
            _config: file,
            _lease: lease,
        })
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, port))
}

/// Names the proxy runtime's threads, so their CPU time can be told apart.
const PROXY_THREAD: &str = "kaspire-proxy";
/// Names the backend's threads, so they can be pinned.
const BACKEND_THREAD: &str = "backend";

/// A runtime whose threads are named `name`; 0 workers means one current-thread runtime
/// driven by a thread of its own. Returns a handle to it; the runtime lives as long as
/// the bench.
fn runtime(name: &str, workers: usize) -> tokio::runtime::Handle {
    if workers == 0 {
        let (handle_tx, handle_rx) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                handle_tx.send(runtime.handle().clone()).expect("handle");
                runtime.block_on(std::future::pending::<()>())
            })
            .expect("runtime thread");
        return handle_rx.recv().expect("runtime handle");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .thread_name(name)
        .enable_all()
        .build()
        .expect("tokio runtime");
    let handle = runtime.handle().clone();
    // Runs until the bench exits.
    std::mem::forget(runtime);
    handle
}

fn env_number<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
