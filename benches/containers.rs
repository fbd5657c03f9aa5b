//! The containers benchmark (issue 5): `cargo bench --bench containers [-- chain fanout
//! compose kaspire default fast]` (a word of a group narrows that group; none runs all).
//!
//! 20 containers of the local busybox test image, each with a health check, as a chain
//! (each waits for its predecessor healthy) and as a fan-out (one root, 19 waiting for
//! it), from apply to all Ready, in one run and one table:
//!
//! - docker-compose 1.29 with `depends_on: condition: service_healthy`: with Docker's
//!   default healthcheck timing (first probe 30 s after start: the chain alone takes
//!   over 10 minutes, so `DEFAULT_ROUNDS`, default 1) and with the fastest settings —
//!   the Engine's minimum interval of 1 ms, and 100 ms (kaspire's own fast-probe interval,
//!   which on two cores can beat 1 ms: every healthy container keeps exec'ing probes);
//! - kaspire, the same graph as `Container` objects with `waitFor` and an exec readiness
//!   check: on a running `kaspire serve`, and as `kaspire up --detach --wait -f`.
//!
//! The kaspire rows are skipped, with a note, while a single Container does not become
//! Ready within `PROBE_SECS` (30) — until the Container controller lands. Each run is
//! cleaned up (Compose's `down`, kaspire's delete; then a sweep by label or name), and at
//! the end the bench reports what was left in Docker after kaspire's session ended.
//! `ROUNDS` (default 3) sets the runs of the fast rows; figures are medians.
//! Needs a Docker Engine, `docker-compose`, and builds the test image if missing.

#[allow(dead_code)]
#[path = "../tests/support/busybox.rs"]
mod busybox;
#[path = "common/mod.rs"]
mod common;
#[path = "containers/compose.rs"]
mod compose;
#[allow(dead_code)]
#[path = "../tests/support/docker.rs"]
mod docker;
#[path = "containers/engine.rs"]
mod engine;
#[allow(dead_code, unused_imports)]
#[path = "executables/support.rs"]
mod exe_support;
#[path = "containers/floor.rs"]
mod floor;
#[path = "containers/graph.rs"]
mod graph;
#[path = "containers/kaspire.rs"]
mod kaspire_run;
#[path = "containers/report.rs"]
mod report;
#[path = "containers/session.rs"]
mod session;

use std::path::PathBuf;
use std::time::Duration;

use bollard::Docker;
use graph::Shape;
use report::{Figures, Series};

/// Whether `item` of `group` runs: every item unless the command line names one of the
/// group's items.
fn wants(group: &[&str], item: &str) -> bool {
    let named: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| group.contains(&a.as_str()))
        .collect();
    named.is_empty() || named.iter().any(|a| a == item)
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Whether Compose runs: when asked for, and never in the quick smoke run.
fn compose_runs() -> bool {
    wants(&SYSTEMS, "compose") && !common::quick()
}

const SYSTEMS: [&str; 3] = ["compose", "kaspire", "floor"];
const SETTINGS: [&str; 2] = ["default", "fast"];
const SHAPES: [&str; 2] = ["chain", "fanout"];
/// Time for one kaspire run to reach all Ready before it counts as failed.
pub const KASPIRE_TIMEOUT: Duration = Duration::from_secs(300);

fn main() {
    if common::filtered_out("containers") {
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
            eprintln!("containers bench failed: {e:#}");
            std::process::exit(1);
        }
    }
}

/// What every phase needs.
pub struct Bench {
    pub docker: Docker,
    pub image: String,
    pub dir: PathBuf,
    /// In every name this run gives (projects, namespaces, containers): `kb` + hex.
    pub token: String,
    /// `KASPIRE_BENCH_RUN` of the processes this run starts.
    pub run_id: String,
}

async fn run() -> anyhow::Result<()> {
    let run = common::Run::start();
    let docker = match docker::connect().await {
        Ok(docker) => docker,
        // A smoke run on a machine without Docker reports itself skipped; CI has Docker.
        Err(e) if common::quick() && std::env::var("CI").is_err() => {
            eprintln!("containers bench skipped: no Docker Engine ({e})");
            return Ok(());
        }
        Err(e) => anyhow::bail!("no Docker Engine: {e}"),
    };
    let engine = docker.version().await?;
    // The quick smoke run leaves out Compose, the peer that takes minutes.
    let compose_version = if common::quick() {
        "(not run in quick mode)".to_string()
    } else {
        compose::version().ok_or_else(|| {
            anyhow::anyhow!("docker-compose does not run (apt-get install docker-compose)")
        })?
    };
    let image = tokio::task::spawn_blocking(docker::ensure_test_image).await?;
    let tmp = tempfile::Builder::new()
        .prefix("kaspire-ctr-bench")
        .tempdir()?;
    let stamp = std::process::id() ^ (exe_support::now_secs() as u32);
    let bench = Bench {
        docker,
        image,
        dir: tmp.path().to_path_buf(),
        token: format!("kb{:06x}", stamp & 0xff_ffff),
        run_id: format!("ctr-{stamp:x}"),
    };
    eprintln!(
        "containers bench: Engine {} (API {}), docker-compose {compose_version}, image {}, names {}-*",
        engine.version.unwrap_or_default(),
        engine.api_version.unwrap_or_default(),
        bench.image,
        bench.token
    );
    let mut figures = Figures::default();
    let mut notes = Vec::new();

    let mut kaspire = None;
    if wants(&SYSTEMS, "kaspire") {
        match session::start(&bench).await {
            Ok(k) => kaspire = Some(k),
            Err(why) => notes.push(format!("kaspire rows skipped: {why}")),
        }
    }
    let rounds = env_usize("ROUNDS", common::size(3, 1));
    let shapes: Vec<Shape> = Shape::ALL
        .into_iter()
        .filter(|s| wants(&SHAPES, s.name()))
        .collect();
    for round in 0..rounds {
        for &shape in &shapes {
            if wants(&SYSTEMS, "floor") {
                floor_round(&bench, shape, round, &mut figures, &mut notes).await;
            }
            if compose_runs() && wants(&SETTINGS, "fast") {
                for settings in [compose::INTERVAL_100MS, compose::MINIMUM] {
                    compose_round(&bench, shape, settings, round, &mut figures, &mut notes).await;
                }
            }
            if let Some(k) = &kaspire {
                session::round(&bench, k, shape, round, &mut figures, &mut notes).await;
            }
        }
    }
    if compose_runs() && wants(&SETTINGS, "default") {
        for round in 0..env_usize("DEFAULT_ROUNDS", 1) {
            for &shape in &shapes {
                compose_round(
                    &bench,
                    shape,
                    compose::DEFAULT,
                    round,
                    &mut figures,
                    &mut notes,
                )
                .await;
            }
        }
    }
    let leftovers = match kaspire {
        Some(k) => Some(session::end(&bench, k).await),
        None => None,
    };

    let mut table = common::Table::default();
    report::fill(&mut table, &shapes, &figures);
    let mut clean = true;
    if let Some((line, nothing_left)) = leftovers {
        table.row("cleanup", "left after kaspire's session ended", line);
        clean = nothing_left;
    }
    // Every note so far is a round that failed or a system that could not run.
    let failures = notes.len();
    table.notes.extend(notes);
    table.notes.push(
        "compose timed to the Engine's last health_status event, kaspire to the last Ready=True seen by a watch".into(),
    );
    table.print("containers", &run);
    anyhow::ensure!(
        clean,
        "kaspire's session left containers, networks or processes"
    );
    anyhow::ensure!(failures == 0, "{failures} round(s) failed (see the notes)");
    Ok(())
}

async fn floor_round(
    bench: &Bench,
    shape: Shape,
    round: usize,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) {
    let prefix = format!("{}-f{round}{}", bench.token, shape.name());
    eprintln!("[{}] round {round}: the Engine's floor", shape.name());
    match floor::run(&bench.docker, shape, &bench.image, &prefix).await {
        Ok(ms) => figures.push(shape, Series::Floor, ms),
        Err(e) => notes.push(format!(
            "{} floor round {round} failed: {e:#}",
            shape.name()
        )),
    }
}

async fn compose_round(
    bench: &Bench,
    shape: Shape,
    settings: compose::Settings,
    round: usize,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) {
    let project = format!("{}{}{}{round}", bench.token, shape.name(), settings.name);
    eprintln!(
        "[{}] round {round}: docker-compose, interval {}",
        shape.name(),
        settings.name
    );
    match compose::run(
        &bench.docker,
        shape,
        settings,
        &bench.image,
        &bench.dir,
        &project,
    )
    .await
    {
        Ok(t) => {
            eprintln!("  all healthy {:.0} ms", t.all_healthy);
            figures.push(shape, Series::Compose(settings.name), t.all_healthy);
            if let Some(up) = t.up_returned {
                figures.push(shape, Series::ComposeUpReturned(settings.name), up);
            }
        }
        Err(e) => notes.push(format!(
            "{} compose {} round {round} failed: {e:#}",
            shape.name(),
            settings.name
        )),
    }
}
