//! kaspire's side of the bench: the `kaspire serve` under test (started once, and only
//! used when a single Container becomes Ready on it), one round of the app on it and
//! through `kaspire up`, and the cleanup after each.

use std::path::PathBuf;
use std::time::Duration;

use crate::graph::{self, Shape};
use crate::report::{Figures, Series};
use crate::{Bench, KASPIRE_TIMEOUT, common, engine, env_usize, exe_support, kaspire_run};

/// The control plane under test, after a single Container was seen Ready on it.
pub struct Kaspire {
    bin: PathBuf,
    server: exe_support::Server,
    client: kube::Client,
    observer: kaspire_run::Observer,
}

pub async fn start(bench: &Bench) -> Result<Kaspire, String> {
    let bin = common::kaspire_binary().map_err(|e| format!("no kaspire binary: {e:#}"))?;
    let server = exe_support::Server::start(&bin, &bench.dir.join("serve-state"), &bench.run_id)
        .map_err(|e| format!("kaspire serve did not start: {e:#}"))?;
    let client = server.client().await.map_err(|e| e.to_string())?;
    let observer = kaspire_run::Observer::start(client.clone());
    let k = Kaspire {
        bin,
        server,
        client,
        observer,
    };
    let probe = probe(bench, &k).await;
    match probe {
        Ok(()) => Ok(k),
        Err(why) => {
            end(bench, k).await;
            Err(why)
        }
    }
}

/// One Container without waits must become Ready within `PROBE_SECS`.
async fn probe(bench: &Bench, k: &Kaspire) -> Result<(), String> {
    let secs = env_usize("PROBE_SECS", 30) as u64;
    let ns = format!("{}-probe", bench.token);
    // Not a part of the namespace name, which kaspire's network name holds.
    let prefix = format!("{}-p0", bench.token);
    common::ensure_namespace(&k.client, &ns)
        .await
        .map_err(|e| e.to_string())?;
    let object = kaspire_run::container("probe", &bench.image, None, &prefix);
    let key = [format!("{ns}/probe")];
    kaspire_run::create_all(&k.client, &ns, vec![object])
        .await
        .map_err(|e| format!("creating a Container failed: {e:#}"))?;
    let ready = k
        .observer
        .wait_all(&key, Duration::from_secs(secs), |s| s.ready.is_some())
        .await;
    let last = k.observer.get(&key[0]).map(|s| s.last).unwrap_or_default();
    cleanup(bench, k, &ns, &["probe".to_string()], &prefix).await;
    match ready {
        Some(_) => Ok(()),
        None => Err(format!(
            "a single Container (image {}, exec check) was not Ready within {secs} s (last seen: {}) — \
             has the Container controller landed?",
            bench.image,
            if last.is_empty() {
                "no status".into()
            } else {
                last
            }
        )),
    }
}

pub async fn round(
    bench: &Bench,
    k: &Kaspire,
    shape: Shape,
    round: usize,
    figures: &mut Figures,
    notes: &mut Vec<String>,
) {
    eprintln!(
        "[{}] round {round}: kaspire serve, kaspire up",
        shape.name()
    );
    match serve(bench, k, shape, round).await {
        Ok(ms) => figures.push(shape, Series::KaspireServe, ms),
        Err(e) => notes.push(format!(
            "{} kaspire serve round {round} failed: {e:#}",
            shape.name()
        )),
    }
    let prefix = format!("{}-u{round}{}", bench.token, shape.name());
    let app = bench.dir.join(format!("{prefix}.yaml"));
    let documents: Vec<String> = kaspire_run::app(shape, &bench.image, &prefix)
        .iter()
        .map(|d| d.to_string())
        .collect();
    let result = std::fs::write(&app, documents.join("\n---\n"))
        .map_err(anyhow::Error::from)
        .and_then(|()| {
            let state = bench.dir.join(format!("{prefix}-state"));
            kaspire_run::up(&k.bin, &state, &app, &bench.run_id, KASPIRE_TIMEOUT)
        });
    let (containers, networks) = engine::sweep_named(&bench.docker, &prefix).await;
    if containers + networks > 0 {
        notes.push(format!(
            "kaspire down left {containers} containers and {networks} networks of {prefix} (removed)"
        ));
    }
    match result {
        Ok(ms) => figures.push(shape, Series::KaspireUp, ms),
        Err(e) => notes.push(format!(
            "{} kaspire up round {round} failed: {e:#}",
            shape.name()
        )),
    }
}

/// Creates the app on the running control plane; create -> last Ready seen (ms).
async fn serve(bench: &Bench, k: &Kaspire, shape: Shape, round: usize) -> anyhow::Result<f64> {
    let ns = format!("{}-{}-{round}", bench.token, shape.name());
    let prefix = format!("{}-s{round}{}", bench.token, shape.name());
    common::ensure_namespace(&k.client, &ns).await?;
    let names: Vec<String> = (0..graph::count()).map(graph::service).collect();
    let keys: Vec<String> = names.iter().map(|n| format!("{ns}/{n}")).collect();
    let started = kaspire_run::create_all(
        &k.client,
        &ns,
        kaspire_run::app(shape, &bench.image, &prefix),
    )
    .await?;
    let ready = k
        .observer
        .wait_all(&keys, KASPIRE_TIMEOUT, |s| s.ready.is_some())
        .await;
    let last_ready = keys
        .iter()
        .filter_map(|key| k.observer.get(key).and_then(|s| s.ready))
        .max();
    cleanup(bench, k, &ns, &names, &prefix).await;
    anyhow::ensure!(
        ready.is_some(),
        "not all {} Containers were Ready within {KASPIRE_TIMEOUT:?}",
        graph::count()
    );
    let last = last_ready.expect("all were Ready");
    Ok(common::ms(last - started))
}

/// Deletes the objects, waits for them to go, then removes from Docker anything named
/// with `prefix` that kaspire left.
async fn cleanup(bench: &Bench, k: &Kaspire, ns: &str, names: &[String], prefix: &str) {
    if let Err(e) = kaspire_run::delete_all(&k.client, ns, names).await {
        eprintln!("  deleting {ns}: {e:#}");
    }
    let keys: Vec<String> = names.iter().map(|n| format!("{ns}/{n}")).collect();
    if k.observer
        .wait_all(&keys, Duration::from_secs(120), |s| s.deleted)
        .await
        .is_none()
    {
        eprintln!("  {ns}: not every Container was deleted within 120 s");
    }
    let (containers, networks) = engine::sweep_named(&bench.docker, prefix).await;
    if containers + networks > 0 {
        eprintln!("  {ns}: kaspire left {containers} containers and {networks} networks (removed)");
    }
}

/// Ends kaspire's session (SIGTERM) and sweeps what it left; the summary line.
/// Ends kaspire's session; what was left (removed now), and whether nothing was.
pub async fn end(bench: &Bench, k: Kaspire) -> (String, bool) {
    let Kaspire {
        mut server,
        observer,
        ..
    } = k;
    // Stop watching first: the watch would only report the server going away.
    drop(observer);
    let ended = server.end_session(Duration::from_secs(120));
    drop(server);
    let (containers, networks) = engine::sweep_named(&bench.docker, &bench.token).await;
    let processes = exe_support::leftovers(&bench.run_id);
    exe_support::kill_tagged(&format!("KASPIRE_BENCH_RUN={}", bench.run_id));
    let line = format!(
        "{containers} containers, {networks} networks, {} processes (removed){}",
        processes.len(),
        if ended.is_some() {
            ""
        } else {
            "; the control plane did not exit within 120 s of SIGTERM"
        }
    );
    let clean = containers == 0 && networks == 0 && processes.is_empty() && ended.is_some();
    (line, clean)
}
