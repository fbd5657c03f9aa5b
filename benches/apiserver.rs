//! The API-server benchmark: `cargo bench --bench apiserver [-- writes reads watch start]`.
//!
//! Drives the real `kaspire` release binary over real HTTPS with `kube::Client`, twice
//! in one run: as the store alone (`serve --no-controllers`) and as a user's control
//! plane (`serve`, whose controllers reconcile every object written — stopped,
//! Persistent Executables, so nothing is spawned and the objects survive restarts).
//! Per mode: durable create and update throughput (updates GET and retry on conflict
//! as real clients do), GET/LIST latency at the small and the large namespace, watch
//! delivery to many watchers, RSS, cold start and warm restart. Same-run references:
//! one fsynced redb transaction per write and, when `etcd` is on PATH, etcd's durable
//! puts at the same concurrency. The machine is small and shared: read ratios.
//!
//! Under `cargo test` it runs in quick mode (tiny sizes) as a smoke test.
//! `KASPIRE_BIN` overrides the binary.

#[path = "common/mod.rs"]
mod common;
#[path = "apiserver/etcd.rs"]
mod etcd;
#[path = "apiserver/phases.rs"]
mod phases;
#[path = "apiserver/server.rs"]
mod server;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{Run, Samples, Table, ensure_namespace, filtered_out, kaspire_binary, selected};
use phases::{References, Sizes, fmt_pair, fmt_rate};
use server::{Mode, Server};

fn main() {
    if filtered_out("apiserver") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let started = std::time::Instant::now();
    match runtime.block_on(run()) {
        Ok(()) => common::passed(started),
        Err(e) => {
            eprintln!("apiserver bench failed: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let run = Run::start();
    let bin = kaspire_binary()?;
    let tmp = tempfile::Builder::new()
        .prefix("kaspire-api-bench")
        .tempdir()?;
    let sizes = Sizes::new();
    eprintln!("kaspire API-server bench: {}", bin.display());

    eprintln!("[reference] redb: one fsynced transaction per write");
    let redb = redb_reference(&tmp.path().join("ref.redb"))?;
    let mut notes = Vec::new();
    let etcd = match etcd::binary() {
        Some(binary) if selected("writes") => {
            let figures = etcd::measure(&binary, &tmp.path().join("etcd")).await?;
            notes.push(format!(
                "peer: etcd {} on the same disk, durable puts through its JSON gateway, {} in flight: {} (latency p50 / p99 {})",
                figures.version,
                phases::CONCURRENCY,
                fmt_rate(figures.rate),
                fmt_pair(figures.latency.median(), figures.latency.pct(99.0))
            ));
            Some(figures.rate)
        }
        Some(_) => None,
        None => {
            notes.push(
                "etcd is not on PATH: its reference was skipped (apt-get install etcd-server)"
                    .into(),
            );
            None
        }
    };
    let references = References { redb, etcd };
    notes.push(
        "store alone: `kaspire serve --no-controllers`; with controllers: `kaspire serve`, whose controllers reconcile every object written (finalizer, status) — stopped, Persistent Executables, so nothing is spawned; updates are PUTs with the last resourceVersion seen, retried after a GET on conflict, as real clients do"
            .into(),
    );

    let exec = phases::exec_reference(&bin)?;
    let mut tables = Vec::new();
    for mode in Mode::ALL {
        eprintln!("== {}", mode.column());
        let table = one_mode(&bin, mode, tmp.path(), &sizes, &references, &exec).await?;
        tables.push((mode.column(), table));
    }
    let columns: Vec<(&str, &Table)> = tables.iter().map(|(c, t)| (*c, t)).collect();
    common::print_block("apiserver", &common::side_by_side(&columns), &notes, &run);
    Ok(())
}

/// Every phase against one server mode, on its own state dir.
async fn one_mode(
    bin: &Path,
    mode: Mode,
    dir: &Path,
    sizes: &Sizes,
    references: &References,
    exec_reference: &str,
) -> anyhow::Result<Table> {
    let mut table = Table::default();
    let state = dir.join(format!("state-{}", mode.short()));
    let server = Server::start(bin, &state, mode)?;
    let client = server.client().await?;
    for ns in ["small", "large", "watch"] {
        ensure_namespace(&client, ns).await?;
    }
    if selected("writes") || selected("reads") || selected("start") {
        phases::writes(&client, sizes, &mut table, references).await?;
        table.row(
            "memory",
            "RSS after the writes",
            format!("{:.0} MiB", server.rss_mib()),
        );
    }
    if selected("reads") {
        phases::reads(&client, sizes, &mut table).await?;
    }
    if selected("watch") {
        phases::watch(&client, sizes, &mut table).await?;
    }
    drop(client);
    server.stop();
    if selected("start") {
        let fresh = dir.join(format!("fresh-{}", mode.short()));
        phases::starts(bin, mode, &fresh, &state, sizes, exec_reference, &mut table).await?;
    }
    Ok(table)
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
        while started.elapsed() < Duration::from_millis(common::size(700, 100)) {
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
