//! The executables benchmark (issue 3): `cargo bench --bench executables
//! [-- handoff readiness chain scale]`.
//!
//! Drives the real `kaspire` release binary (`kaspire serve` on a temporary state dir;
//! objects created with the `kube` crate over HTTPS, as kubectl would) and prints, in
//! one run and one table:
//!
//! - (a) hand-off: a dependency turning Ready -> its dependent's first instruction;
//! - (b) readiness detection: a process listening -> Ready=True seen by a watch;
//! - (c) a 10-deep chain of python HTTP services, each waiting for its predecessor's
//!   health, under kaspire, honcho and supervisord, against the sum of the services'
//!   own start times;
//! - (d) 500 executables applied at once: time to all Ready, RSS and idle CPU.
//!
//! Sub-second moments come from the processes themselves (they write the realtime
//! clock) and from an outside watch, because status timestamps have 1 s precision.
//! The processes are this bench binary re-executed as a tiny helper (see `helper`).
//! At the end the control plane gets SIGTERM and ends its session; the bench then
//! checks that no process it started, through kaspire or a peer, is left.
//!
//! `KASPIRE_BIN` overrides the binary; otherwise the release build cargo made for
//! this bench (`target/release/kaspire`) is used.

#[path = "executables/chain.rs"]
mod chain;
#[path = "common/mod.rs"]
mod common;
#[path = "executables/handoff.rs"]
mod handoff;
#[path = "executables/helper.rs"]
mod helper;
#[path = "executables/objects.rs"]
mod objects;
#[path = "executables/observer.rs"]
mod observer;
#[path = "executables/scale.rs"]
mod scale;
#[path = "executables/support.rs"]
mod support;

use std::time::Duration;

use common::selected;
use support::{Server, Table};

fn main() {
    // Re-executed as one of the bench's processes: never returns.
    helper::run_if_helper();
    if common::filtered_out("executables") {
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
            eprintln!("executables bench failed: {e:#}");
            std::process::exit(1);
        }
    }
}

async fn run() -> anyhow::Result<()> {
    let bin = support::kaspire_binary()?;
    let tmp = tempfile::Builder::new()
        .prefix("kaspire-exe-bench")
        .tempdir()?;
    let run_id = format!("{}-{}", std::process::id(), support::now_secs() as u64);
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(0);
    eprintln!(
        "kaspire executables bench: {} ({cores} cores)",
        bin.display()
    );
    let run = common::Run::start();
    let mut table = Table::default();
    let mut server = Server::start(&bin, &tmp.path().join("state"), &run_id)?;
    let result = phases(&bin, &server, tmp.path(), &run_id, &mut table).await;

    // End the session the normal way and check nothing is left behind.
    let running = support::leftovers(&run_id).len().saturating_sub(1);
    match server.end_session(Duration::from_secs(120)) {
        Some(took) => {
            table.row(
                "session end",
                format!(
                    "SIGTERM -> control plane exited ({running} tagged processes were running)"
                ),
                format!("{:.0} ms", support::ms(took)),
            );
        }
        None => table
            .notes
            .push("the control plane did not exit within 120 s of SIGTERM".into()),
    }
    drop(server);
    std::thread::sleep(Duration::from_millis(200));
    let left = support::leftovers(&run_id);
    table.row(
        "session end",
        "processes of this run left afterwards",
        left.len().to_string(),
    );
    if !left.is_empty() {
        support::kill_tagged(&format!("KASPIRE_BENCH_RUN={run_id}"));
        eprintln!("killed leftover processes {left:?}");
    }
    result?;
    table
        .notes
        .push("latencies pool all trials, totals are medians of rounds".into());
    table.print("executables", &run);
    anyhow::ensure!(
        left.is_empty(),
        "{} processes of this run outlived the session",
        left.len()
    );
    Ok(())
}

async fn phases(
    bin: &std::path::Path,
    server: &Server,
    dir: &std::path::Path,
    run_id: &str,
    table: &mut Table,
) -> anyhow::Result<()> {
    let client = server.client().await?;
    let observer = observer::Observer::start(client.clone()).await?;
    if selected("handoff") || selected("readiness") {
        let dir = dir.join("handoff");
        std::fs::create_dir_all(&dir)?;
        handoff::run(&client, &observer, &dir, run_id, table).await?;
    }
    if selected("chain") {
        chain::run(bin, &client, &observer, &dir.join("chain"), run_id, table).await?;
    }
    if selected("scale") {
        let dir = dir.join("scale");
        std::fs::create_dir_all(&dir)?;
        scale::run(&client, &observer, server.pid(), &dir, run_id, table).await?;
    }
    Ok(())
}
