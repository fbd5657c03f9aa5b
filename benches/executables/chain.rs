//! (c) A 10-deep chain of HTTP services, each starting only once its predecessor is
//! healthy. Each service is a python3 `http.server` that sleeps `START_MS` before it
//! listens (its own start work) and answers `GET /health` as soon as it listens.
//!
//! Every variant is timed the same way: from the moment the orchestrator is exec'd (or
//! the objects are created) until the last service answers `GET /health` (polled by
//! the bench every 2 ms). Per round the variants run back to back on fresh ports:
//!
//! - ideal: the bench starts the services one after another itself, polling each one
//!   every 1 ms — the sum of the services' own start times;
//! - kaspire (serve): the 10 Executables created on the running control plane (waitFor
//!   the predecessor, http readiness check on a fixed targetPort);
//! - kaspire (up): `kaspire up -f chain.yaml` exec'd on a fresh state dir (includes the
//!   control plane's own start);
//! - honcho: a Procfile of the 10; honcho has no ordering, so each service but the first
//!   runs behind `wait.sh`, which polls the predecessor's port every 100 ms (bash
//!   `/dev/tcp` + `sleep 0.1`, kaspire's fast-probe interval) and then execs it;
//! - supervisord: the same 10 commands as programs with `priority` 1..10 and
//!   `startsecs=0` (priority orders the spawns but never waits for readiness).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::objects::{self, env, executable, path_str};
use crate::observer::Observer;
use crate::support::{
    Samples, Table, free_port, kill_tagged, ms, python, stop_group, target_dir, wait_healthy,
};

const DEPTH: usize = 10;
/// Each service's own start work before it listens.
const START_MS: u64 = 200;
/// Rounds (1 in quick mode, which also leaves out the pip-installed peers).
fn rounds() -> usize {
    crate::common::size(3, 1)
}
const POLL: Duration = Duration::from_millis(2);
const TIMEOUT: Duration = Duration::from_secs(60);

const SERVICE: &str = r#"# A service whose start takes START_MS, then answers GET /health.
import http.server, os, time
time.sleep(int(os.environ["START_MS"]) / 1000)
class Health(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["PORT"])), Health).serve_forever()
"#;

const WAIT: &str = r#"#!/bin/bash
# wait.sh PORT CMD...: waits until the predecessor listens on PORT (polled every 100 ms),
# then runs CMD in its place.
until (exec 3<>/dev/tcp/127.0.0.1/$1) 2>/dev/null; do sleep 0.1; done
shift
exec "$@"
"#;

struct Files {
    dir: PathBuf,
    python: PathBuf,
    service: PathBuf,
    wait: PathBuf,
    peers: Option<PathBuf>,
}

#[derive(Default)]
struct Totals {
    ideal: Vec<f64>,
    per_service: Vec<f64>,
    serve_healthy: Vec<f64>,
    serve_ready: Vec<f64>,
    up: Vec<f64>,
    honcho: Vec<f64>,
    supervisord: Vec<f64>,
}

pub async fn run(
    bin: &Path,
    client: &kube::Client,
    observer: &Observer,
    dir: &Path,
    run_id: &str,
    table: &mut Table,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let files = Files {
        dir: dir.to_path_buf(),
        python: python()?,
        service: dir.join("service.py"),
        wait: dir.join("wait.sh"),
        peers: if crate::common::quick() {
            None
        } else {
            peers_venv()
        },
    };
    std::fs::write(&files.service, SERVICE)?;
    std::fs::write(&files.wait, WAIT)?;
    if files.peers.is_none() && !crate::common::quick() {
        table.notes.push(
            "honcho/supervisord not available (pip install into target/bench-peers failed): peers skipped"
                .into(),
        );
    }
    let mut totals = Totals::default();
    for round in 0..rounds() {
        eprintln!("[chain] round {round}: ideal, kaspire serve, kaspire up, honcho, supervisord");
        let (total, each) = ideal(&files, run_id)?;
        totals.ideal.push(total);
        totals.per_service.extend(each);
        let (healthy, ready) = kaspire_serve(client, observer, &files, run_id, round).await?;
        totals.serve_healthy.push(healthy);
        totals.serve_ready.push(ready);
        totals.up.push(kaspire_up(bin, &files, run_id, round)?);
        if let Some(venv) = &files.peers {
            totals.honcho.push(honcho(venv, &files, run_id, round)?);
            totals
                .supervisord
                .push(supervisord(venv, &files, run_id, round)?);
        }
    }

    let section = "(c) 10-deep chain of HTTP services, each waits for its predecessor";
    let ideal = Samples::new(totals.ideal).median();
    let per = Samples::new(totals.per_service);
    table
        .row(
            section,
            format!("ideal: sum of the services' own start times (START_MS={START_MS})"),
            format!("{ideal:.0} ms"),
        )
        .reference(format!(
            "one service exec -> healthy: p50 {:.1} ms",
            per.median()
        ));
    let mut line = |name: &str, v: Vec<f64>, extra: String| {
        if v.is_empty() {
            return;
        }
        let s = Samples::new(v);
        let m = s.median();
        table
            .row(section, name, format!("{m:.0} ms"))
            .reference(format!(
                "x{:.2} ideal, +{:.0} ms per link; rounds {:.0}–{:.0}{extra}",
                m / ideal,
                (m - ideal) / DEPTH as f64,
                s.min(),
                s.max()
            ));
    };
    let ready = Samples::new(totals.serve_ready.clone()).median();
    line(
        "kaspire serve: create -> last healthy",
        totals.serve_healthy,
        format!("; last Ready seen {ready:.0} ms"),
    );
    line(
        "kaspire up -f: exec -> last healthy",
        totals.up,
        String::new(),
    );
    line(
        "honcho + wait.sh (100 ms port poll): exec -> last healthy",
        totals.honcho,
        String::new(),
    );
    line(
        "supervisord priority + wait.sh: exec -> last healthy",
        totals.supervisord,
        String::new(),
    );
    Ok(())
}

/// The venv with honcho and supervisord under target/, created on first use.
fn peers_venv() -> Option<PathBuf> {
    let venv = target_dir().join("bench-peers");
    let ready = |v: &Path| v.join("bin/honcho").exists() && v.join("bin/supervisord").exists();
    if ready(&venv) {
        return Some(venv);
    }
    eprintln!(
        "[chain] creating {} (pip install supervisor honcho)",
        venv.display()
    );
    let python = python().ok()?;
    let ok = Command::new(&python)
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .ok()?
        .success()
        && Command::new(venv.join("bin/pip"))
            .args(["install", "-q", "supervisor", "honcho"])
            .status()
            .ok()?
            .success();
    (ok && ready(&venv)).then_some(venv)
}

fn ports() -> anyhow::Result<Vec<u16>> {
    (0..DEPTH).map(|_| free_port()).collect()
}

/// Starts the services one after another, each once the previous answers; returns the
/// total and each service's exec -> healthy time (ms).
fn ideal(files: &Files, run_id: &str) -> anyhow::Result<(f64, Vec<f64>)> {
    let ports = ports()?;
    let mut children: Vec<Child> = Vec::new();
    let mut each = Vec::new();
    let started = Instant::now();
    let result = (|| {
        for &port in &ports {
            let t = Instant::now();
            children.push(
                Command::new(&files.python)
                    .arg(&files.service)
                    .env("PORT", port.to_string())
                    .env("START_MS", START_MS.to_string())
                    .env("KASPIRE_BENCH_RUN", run_id)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()?,
            );
            let at = wait_healthy(port, Duration::from_millis(1), TIMEOUT)
                .ok_or_else(|| anyhow::anyhow!("ideal: service on {port} never answered"))?;
            each.push(ms(at - t));
        }
        Ok::<_, anyhow::Error>(ms(started.elapsed()))
    })();
    for mut child in children {
        let _ = child.kill();
        let _ = child.wait();
    }
    Ok((result?, each))
}

/// The spec of service `i` of the chain listening on `ports[i]`.
fn service_spec(files: &Files, run_id: &str, ports: &[u16], i: usize) -> Value {
    let mut spec = json!({
        "command": path_str(&files.python),
        "args": [path_str(&files.service)],
        "env": env(&[
            ("START_MS", START_MS.to_string()),
            ("KASPIRE_BENCH_RUN", run_id.into()),
        ]),
        "endpoints": [{
            "name": "http", "scheme": "http", "targetPort": ports[i], "proxied": false, "env": "PORT",
        }],
        "healthChecks": [{"http": {"endpoint": "http", "path": "/health"}}],
    });
    if i > 0 {
        spec["waitFor"] = json!([{"name": format!("svc-{}", i - 1)}]);
    }
    spec
}

/// Creates the chain on the running control plane; returns (last healthy, last Ready
/// seen) in ms from the first create. Deletes it afterwards.
async fn kaspire_serve(
    client: &kube::Client,
    observer: &Observer,
    files: &Files,
    run_id: &str,
    round: usize,
) -> anyhow::Result<(f64, f64)> {
    let ns = format!("chain-{round}");
    objects::ensure_namespace(client, &ns).await?;
    let ports = ports()?;
    let objects = (0..DEPTH)
        .map(|i| {
            executable(
                &ns,
                &format!("svc-{i}"),
                service_spec(files, run_id, &ports, i),
            )
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let keys: Vec<String> = (0..DEPTH).map(|i| format!("{ns}/svc-{i}")).collect();
    let last = *ports.last().expect("ports");
    let started = Instant::now();
    let poll = tokio::task::spawn_blocking(move || wait_healthy(last, POLL, TIMEOUT));
    objects::create_all(client, objects).await?;
    let all_ready = observer.all_ready(&keys, TIMEOUT).await;
    let ready_at = Instant::now();
    let healthy = poll.await?;
    objects::delete_all(client, &keys).await?;
    observer.all_deleted(&keys, TIMEOUT).await;
    observer.forget(&keys);
    anyhow::ensure!(all_ready, "kaspire serve: the chain did not become Ready");
    let healthy =
        healthy.ok_or_else(|| anyhow::anyhow!("kaspire serve: the last service never answered"))?;
    Ok((ms(healthy - started), ms(ready_at - started)))
}

/// `kaspire up -f chain.yaml` on a fresh state dir; exec -> last healthy (ms). SIGTERM
/// ends its session.
fn kaspire_up(bin: &Path, files: &Files, run_id: &str, round: usize) -> anyhow::Result<f64> {
    let ports = ports()?;
    let documents: Vec<String> = (0..DEPTH)
        .map(|i| {
            json!({
                "apiVersion": "kaspire.dev/v1alpha1",
                "kind": "Executable",
                "metadata": {"name": format!("svc-{i}")},
                "spec": service_spec(files, run_id, &ports, i),
            })
            .to_string()
        })
        .collect();
    let app = files.dir.join(format!("chain-{round}.yaml"));
    std::fs::write(&app, documents.join("\n---\n"))?;
    let state = files.dir.join(format!("up-state-{round}"));
    let started = Instant::now();
    let mut child = Command::new(bin)
        .arg("--state-dir")
        .arg(&state)
        .args(["up", "-f"])
        .arg(&app)
        .env("RUST_LOG", "warn")
        .env("KASPIRE_BENCH_RUN", run_id)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()?;
    let healthy = wait_healthy(*ports.last().expect("ports"), POLL, TIMEOUT);
    let elapsed = healthy.map(|h| ms(h - started));
    crate::support::terminate(child.id());
    let deadline = Instant::now() + Duration::from_secs(30);
    while Instant::now() < deadline && child.try_wait()?.is_none() {
        std::thread::sleep(Duration::from_millis(10));
    }
    if child.try_wait()?.is_none() {
        let _ = child.kill();
        let _ = child.wait();
        anyhow::bail!("kaspire up did not end its session within 30 s of SIGTERM");
    }
    elapsed.ok_or_else(|| anyhow::anyhow!("kaspire up: the last service never answered"))
}

/// The shell command of service `i` for the peers: behind wait.sh except the first.
fn peer_command(files: &Files, ports: &[u16], i: usize) -> String {
    let service = format!("{} {}", files.python.display(), files.service.display());
    if i == 0 {
        service
    } else {
        format!("bash {} {} {service}", files.wait.display(), ports[i - 1])
    }
}

fn honcho(venv: &Path, files: &Files, run_id: &str, round: usize) -> anyhow::Result<f64> {
    let ports = ports()?;
    let procfile: String = (0..DEPTH)
        .map(|i| {
            format!(
                "s{i}: exec env PORT={} START_MS={START_MS} {}\n",
                ports[i],
                peer_command(files, &ports, i)
            )
        })
        .collect();
    let path = files.dir.join(format!("Procfile-{round}"));
    std::fs::write(&path, procfile)?;
    let mut cmd = Command::new(venv.join("bin/honcho"));
    cmd.arg("-f").arg(&path).args(["--no-colour", "start"]);
    peer_run(
        cmd,
        &files.dir,
        run_id,
        *ports.last().expect("ports"),
        &format!("honcho-{round}"),
    )
}

fn supervisord(venv: &Path, files: &Files, run_id: &str, round: usize) -> anyhow::Result<f64> {
    let ports = ports()?;
    let dir = files.dir.display();
    let mut conf = format!(
        "[supervisord]\nnodaemon=true\nloglevel=warn\nlogfile={dir}/supervisord-{round}.log\npidfile={dir}/supervisord-{round}.pid\nchildlogdir={dir}\n"
    );
    for i in 0..DEPTH {
        conf += &format!(
            "\n[program:s{i}]\ncommand={}\nenvironment=PORT=\"{}\",START_MS=\"{START_MS}\"\npriority={}\nstartsecs=0\nautorestart=false\nstopasgroup=true\nkillasgroup=true\nstdout_logfile=NONE\nstderr_logfile=NONE\n",
            peer_command(files, &ports, i),
            ports[i],
            i + 1
        );
    }
    let path = files.dir.join(format!("supervisord-{round}.conf"));
    std::fs::write(&path, conf)?;
    let mut cmd = Command::new(venv.join("bin/supervisord"));
    cmd.arg("-n").arg("-c").arg(&path);
    peer_run(
        cmd,
        &files.dir,
        run_id,
        *ports.last().expect("ports"),
        &format!("supervisord-{round}"),
    )
}

/// Runs a peer orchestrator in its own process group until the last service answers;
/// exec -> last healthy (ms). The whole group is stopped afterwards.
fn peer_run(
    mut cmd: Command,
    dir: &Path,
    run_id: &str,
    last: u16,
    name: &str,
) -> anyhow::Result<f64> {
    use std::os::unix::process::CommandExt;
    let tag = format!("KASPIRE_BENCH_PEER={name}");
    cmd.current_dir(dir)
        .env("KASPIRE_BENCH_RUN", run_id)
        .env("KASPIRE_BENCH_PEER", name)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    let started = Instant::now();
    let mut child = cmd.spawn()?;
    let healthy = wait_healthy(last, POLL, TIMEOUT);
    stop_group(&mut child, Duration::from_secs(10));
    let left = kill_tagged(&tag);
    if left > 0 {
        eprintln!("  {name} left {left} processes behind (killed)");
    }
    healthy
        .map(|h| ms(h - started))
        .ok_or_else(|| anyhow::anyhow!("{name}: the last service never answered"))
}
