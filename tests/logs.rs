//! The `log` subresource on a real in-process API server, read with the real kubectl:
//! tail with timestamps, follow seeing a line written after it started, kubectl-style
//! 404 and 400 Statuses, history across a control-plane restart, and a chatty writer
//! held to the size bound.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Duration;

use kaspire::api::{Executable, ExecutableSpec};
use kaspire::apiserver::embedded::Embedded;
use kaspire::runtime::logs::{self, LogStore, ResourceRef, Source};
use kaspire::state_dir::StateDir;
use kube::api::{Api, PostParams};

const LOG: &str = "/apis/kaspire.dev/v1alpha1/namespaces/default/executables";

struct Fixture {
    embedded: Embedded,
    logs: Arc<LogStore>,
    state: StateDir,
    _tmp: tempfile::TempDir,
}

impl Fixture {
    async fn start() -> Fixture {
        let tmp = tempfile::tempdir().unwrap();
        let state = StateDir::create(tmp.path().join("state")).unwrap();
        let embedded = Embedded::start(&state, 0).await.unwrap();
        let logs = LogStore::open(&state.logs()).unwrap();
        logs::install(&embedded.server, logs.clone());
        Fixture {
            embedded,
            logs,
            state,
            _tmp: tmp,
        }
    }

    async fn create_executable(&self, name: &str) -> ResourceRef {
        let api: Api<Executable> = Api::namespaced(self.embedded.client.clone(), "default");
        let exe = Executable::new(
            name,
            ExecutableSpec {
                command: "sleep".into(),
                ..Default::default()
            },
        );
        api.create(&PostParams::default(), &exe).await.unwrap();
        ResourceRef::new("default", "Executable", name)
    }

    fn kubectl(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("kubectl");
        cmd.env("KUBECONFIG", &self.embedded.kubeconfig)
            .arg("--cache-dir")
            .arg(self.state.root().join("kubectl-cache"))
            .args(args);
        cmd
    }

    /// `kubectl get --raw PATH` run off the async runtime.
    async fn raw(&self, path: &str) -> Output {
        let mut cmd = self.kubectl(&["get", "--raw", path]);
        tokio::task::spawn_blocking(move || cmd.output().expect("run kubectl"))
            .await
            .unwrap()
    }
}

fn stdout(out: &Output) -> String {
    assert!(
        out.status.success(),
        "kubectl failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_reads_the_tail_with_timestamps() {
    let f = Fixture::start().await;
    let api = f.create_executable("api").await;
    let out = f.logs.writer(&api, 0, Source::Stdout).unwrap();
    let err = f.logs.writer(&api, 1, Source::Stderr).unwrap();
    let sys = f.logs.writer(&api, 0, Source::System).unwrap();
    out.line(b"first\n");
    sys.line(b"replica 0 started");
    err.line(b"second\r\n");
    out.line(b"third");

    let body = stdout(
        &f.raw(&format!("{LOG}/api/log?tail=2&timestamps=true"))
            .await,
    );
    let lines: Vec<(jiff::Timestamp, &str)> = body
        .lines()
        .map(|l| {
            let (ts, text) = l.split_once(' ').unwrap();
            (ts.parse().expect("an RFC3339 timestamp"), text)
        })
        .collect();
    assert_eq!(lines.len(), 2, "{body}");
    assert_eq!((lines[0].1, lines[1].1), ("second", "third"));
    assert!(lines[0].0 <= lines[1].0);

    let all = stdout(&f.raw(&format!("{LOG}/api/log")).await);
    assert_eq!(all, "first\nsecond\nthird\n");
    let replica = stdout(&f.raw(&format!("{LOG}/api/log?replica=1")).await);
    assert_eq!(replica, "second\n");
    let system = stdout(
        &f.raw(&format!("{LOG}/api/log?source=system&tailLines=5"))
            .await,
    );
    assert_eq!(system, "replica 0 started\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kubectl_follow_sees_a_line_written_after_it_started() {
    let f = Fixture::start().await;
    let api = f.create_executable("web").await;
    let w = f.logs.writer(&api, 0, Source::Stdout).unwrap();
    w.line(b"before");

    let mut child = f
        .kubectl(&["get", "--raw", &format!("{LOG}/web/log?follow=true&tail=1")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = mpsc::channel();
    let reader = BufReader::new(child.stdout.take().unwrap());
    std::thread::spawn(move || {
        for line in reader.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let next = || {
        rx.recv_timeout(Duration::from_secs(20))
            .expect("a followed line")
    };
    assert_eq!(next(), "before");
    w.line(b"after");
    assert_eq!(next(), "after");
    w.line(b"and more");
    assert_eq!(next(), "and more");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_objects_and_bad_parameters_are_kubectl_style_errors() {
    let f = Fixture::start().await;
    f.create_executable("api").await;

    let missing = f.raw(&format!("{LOG}/nope/log")).await;
    assert!(!missing.status.success());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(
        stderr.contains(r#"executables.kaspire.dev "nope" not found"#),
        "{stderr}"
    );

    for (query, name) in [
        ("tailLines=x", "tailLines"),
        ("follow=maybe", "follow"),
        ("source=stdin", "source"),
        ("limitBytes=0", "limitBytes"),
    ] {
        let out = f.raw(&format!("{LOG}/api/log?{query}")).await;
        assert!(!out.status.success(), "{query} was accepted");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(name), "{query}: {stderr}");
    }
}

/// The log store is reopened on the same directory, as a restarted control plane does
/// (the API store itself is redb and locked by this process, so it stays up).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn history_survives_reopening_the_log_store() {
    let f = Fixture::start().await;
    let api = f.create_executable("api").await;
    f.logs
        .writer(&api, 0, Source::Stdout)
        .unwrap()
        .line(b"from the first run");
    let Fixture {
        embedded,
        logs,
        state,
        _tmp,
    } = f;
    drop(logs);
    let logs = LogStore::open(&state.logs()).unwrap();
    logs::install(&embedded.server, logs.clone());
    logs.writer(&api, 0, Source::Stdout)
        .unwrap()
        .line(b"from the second run");
    let f = Fixture {
        embedded,
        logs,
        state,
        _tmp,
    };
    let out = f.raw(&format!("{LOG}/api/log")).await;
    assert_eq!(stdout(&out), "from the first run\nfrom the second run\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_writer_stays_within_the_bound() {
    let f = Fixture::start().await;
    let api = f.create_executable("chatty").await;
    let dir = f.logs.path(&api);
    let w = f.logs.writer(&api, 0, Source::Stdout).unwrap();
    let writer = tokio::task::spawn_blocking(move || {
        let mut line = vec![b'y'; 1024];
        let mut max = 0;
        for i in 0..300_000u32 {
            // 300 MB through the default 8 MiB bound
            line[..10].copy_from_slice(format!("{i:010}").as_bytes());
            w.line(&line);
            if i % 5000 == 0 {
                max = max.max(disk_usage(&dir));
            }
        }
        max
    });
    let max = writer.await.unwrap();
    f.logs.flush();
    let max = max.max(disk_usage(&f.logs.path(&api)));
    assert!(
        max <= logs::DEFAULT_BOUND,
        "{max} bytes on disk, bound {}",
        logs::DEFAULT_BOUND
    );
    let tail = stdout(&f.raw(&format!("{LOG}/chatty/log?tail=1")).await);
    assert!(tail.starts_with("0000299999y"), "{}", &tail[..20]);
}

fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}
