//! Single probes against real sockets and real processes; the loop in [`check`].

mod check;

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use super::*;

/// A tiny HTTP/1.1 server answering every request with `status` (changeable) and
/// counting the requests it saw.
struct Responder {
    port: u16,
    status: Arc<AtomicU16>,
    requests: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Responder {
    async fn start(status: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let status = Arc::new(AtomicU16::new(status));
        let requests = Arc::new(AtomicUsize::new(0));
        let (s, r) = (status.clone(), requests.clone());
        let task = tokio::spawn(async move {
            loop {
                let (mut socket, _) = listener.accept().await.unwrap();
                let (status, requests) = (s.clone(), r.clone());
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match socket.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    requests.fetch_add(1, Ordering::SeqCst);
                    let status = status.load(Ordering::SeqCst);
                    let response = format!(
                        "HTTP/1.1 {status} Whatever\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok"
                    );
                    let _ = socket.write_all(response.as_bytes()).await;
                    let _ = socket.shutdown().await;
                });
            }
        });
        Self {
            port,
            status,
            requests,
            task,
        }
    }

    fn set(&self, status: u16) {
        self.status.store(status, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }

    fn target(&self, path: &str) -> ProbeTarget {
        http_target(self.port, path)
    }
}

impl Drop for Responder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn http_target(port: u16, path: &str) -> ProbeTarget {
    ProbeTarget::Http {
        host: "127.0.0.1".into(),
        port,
        path: path.into(),
        expected_status: 200,
    }
}

fn tcp_target(port: u16) -> ProbeTarget {
    ProbeTarget::Tcp {
        host: "127.0.0.1".into(),
        port,
    }
}

fn sh(script: &str) -> ProbeTarget {
    ProbeTarget::exec(&["sh".into(), "-c".into(), script.into()])
}

/// A port nothing listens on (bound, then released).
fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

/// A server that accepts connections and never answers.
async fn silent_server() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let task = tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    (port, task)
}

async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("timed out")
}

/// Whether `pid` is a live process (a zombie has exited).
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            let state = stat.rsplit_once(')')?.1.trim_start().chars().next()?;
            Some(!matches!(state, 'Z' | 'X' | 'x'))
        })
        .unwrap_or(false)
}

async fn read_pid(file: &Path) -> i32 {
    within(5, async {
        loop {
            if let Ok(pid) = std::fs::read_to_string(file)
                .unwrap_or_default()
                .trim()
                .parse()
            {
                return pid;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
}

async fn wait_dead(pid: i32) {
    within(5, async {
        while alive(pid) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}

const SEC: Duration = Duration::from_secs(1);

#[tokio::test]
async fn http_probe_is_healthy_when_status_is_the_expected_one() {
    let server = Responder::start(200).await;
    let outcome = server.target("/health").probe(SEC).await;
    let url = format!("http://127.0.0.1:{}/health", server.port);
    assert_eq!(
        outcome,
        ProbeOutcome::healthy(format!("GET {url} returned 200"))
    );

    server.set(204);
    let target = ProbeTarget::Http {
        host: "127.0.0.1".into(),
        port: server.port,
        path: "ready".into(),
        expected_status: 204,
    };
    let outcome = target.probe(SEC).await;
    assert!(outcome.healthy, "{outcome:?}");
    assert!(
        outcome.message.contains("/ready returned 204"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn http_probe_names_url_and_both_statuses_when_status_differs() {
    let server = Responder::start(503).await;
    let outcome = server.target("/health").probe(SEC).await;
    let message = format!(
        "GET http://127.0.0.1:{}/health returned 503, expected 200",
        server.port
    );
    assert_eq!(outcome, ProbeOutcome::unhealthy(message));
}

#[tokio::test]
async fn http_probe_reports_connection_refused() {
    let port = free_port();
    let outcome = http_target(port, "/").probe(SEC).await;
    let message = format!("GET http://127.0.0.1:{port}/: connection refused");
    assert_eq!(outcome, ProbeOutcome::unhealthy(message));
}

#[tokio::test]
async fn http_probe_times_out_on_a_server_that_never_answers() {
    let (port, _server) = silent_server().await;
    let started = Instant::now();
    let outcome = http_target(port, "/health")
        .probe(Duration::from_millis(200))
        .await;
    assert!(started.elapsed() < SEC, "took {:?}", started.elapsed());
    let message = format!("GET http://127.0.0.1:{port}/health timed out after 200ms");
    assert_eq!(outcome, ProbeOutcome::unhealthy(message));
}

#[tokio::test]
async fn tcp_probe_is_healthy_when_the_port_accepts() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let outcome = tcp_target(port).probe(SEC).await;
    assert_eq!(
        outcome,
        ProbeOutcome::healthy(format!("connected to 127.0.0.1:{port}"))
    );
}

#[tokio::test]
async fn tcp_probe_reports_connection_refused() {
    let port = free_port();
    let outcome = tcp_target(port).probe(SEC).await;
    let message = format!("connection refused on 127.0.0.1:{port}");
    assert_eq!(outcome, ProbeOutcome::unhealthy(message));
}

#[tokio::test]
async fn exec_probe_is_healthy_on_exit_zero() {
    let outcome = sh("exit 0").probe(SEC * 5).await;
    assert_eq!(
        outcome,
        ProbeOutcome::healthy("`sh -c 'exit 0'` exited with 0")
    );
}

#[tokio::test]
async fn exec_probe_reports_exit_code_and_last_output_line() {
    let outcome = sh("exit 2").probe(SEC * 5).await;
    assert_eq!(
        outcome,
        ProbeOutcome::unhealthy("`sh -c 'exit 2'` exited with 2")
    );

    let outcome = sh("echo checking; echo no response >&2; exit 2")
        .probe(SEC * 5)
        .await;
    assert!(!outcome.healthy);
    assert!(
        outcome.message.ends_with("exited with 2: no response"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn exec_probe_reports_a_command_that_cannot_start() {
    let target = ProbeTarget::exec(&["kaspire-no-such-probe-command".into()]);
    let outcome = target.probe(SEC).await;
    assert!(!outcome.healthy);
    assert!(
        outcome
            .message
            .starts_with("`kaspire-no-such-probe-command` could not start: "),
        "{outcome:?}"
    );
    assert!(outcome.message.contains("not found on PATH"), "{outcome:?}");

    let outcome = ProbeTarget::exec(&[]).probe(SEC).await;
    assert!(!outcome.healthy);
    assert!(
        outcome.message.contains("healthChecks[].exec.command"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn exec_probe_timeout_kills_the_whole_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", file.display());
    let started = Instant::now();
    let outcome = sh(&script).probe(Duration::from_millis(300)).await;
    assert!(started.elapsed() < SEC * 3, "took {:?}", started.elapsed());
    assert!(!outcome.healthy);
    assert!(
        outcome.message.ends_with("timed out after 300ms"),
        "{outcome:?}"
    );
    let background = read_pid(&file).await;
    wait_dead(background).await;
}

#[tokio::test]
async fn abandoned_exec_probe_kills_its_process_group() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pid");
    let script = format!("sleep 30 & echo $! > {}; wait", file.display());
    let target = sh(&script);
    let abandoned = tokio::time::timeout(Duration::from_millis(300), target.probe(SEC * 30)).await;
    assert!(abandoned.is_err());
    let background = read_pid(&file).await;
    wait_dead(background).await;
}

#[test]
fn settings_follow_the_spec_and_its_defaults() {
    let defaults = settings_from_spec(&HealthCheck::default());
    assert_eq!(
        defaults,
        ProbeSettings {
            initial_delay: Duration::ZERO,
            period: Duration::from_secs(5),
            fast_period: Duration::from_millis(100),
            timeout: Duration::from_secs(5),
            failure_threshold: 3,
            success_threshold: 1,
        }
    );
    assert_eq!(ProbeSettings::default(), defaults);

    let check = HealthCheck {
        initial_delay_seconds: Some(2),
        period_seconds: 10,
        failure_threshold: 5,
        success_threshold: 2,
        ..HealthCheck::default()
    };
    let settings = settings_from_spec(&check);
    assert_eq!(settings.initial_delay, Duration::from_secs(2));
    assert_eq!(
        settings.timeout,
        Duration::from_secs(10),
        "timeout defaults to the period"
    );
    assert_eq!(
        (settings.failure_threshold, settings.success_threshold),
        (5, 2)
    );

    let check = HealthCheck {
        timeout_seconds: Some(1),
        ..check
    };
    assert_eq!(settings_from_spec(&check).timeout, SEC);
}
