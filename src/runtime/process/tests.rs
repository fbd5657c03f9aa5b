//! Real processes, no mocks: `sh -c` scripts exercising spawn, output, stop and adoption.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::identity::group_members;
use super::*;

/// Records every line; `gate` (when set) blocks each call until it is opened.
#[derive(Default)]
struct Collect {
    lines: Mutex<Vec<(Stream, String)>>,
    dropped_lines: AtomicU64,
    closed_gate: AtomicBool,
}

impl OutputSink for Collect {
    fn line(&self, stream: Stream, line: &[u8]) {
        while self.closed_gate.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(5));
        }
        let line = String::from_utf8_lossy(line).into_owned();
        self.lines.lock().unwrap().push((stream, line));
    }
    fn dropped(&self, _: Stream, lines: u64, _: u64) {
        self.dropped_lines.fetch_add(lines, Ordering::Relaxed);
    }
}

impl Collect {
    fn of(&self, stream: Stream) -> Vec<String> {
        let lines = self.lines.lock().unwrap();
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits for the first stdout line (e.g. "ready" or a pid printed by the script).
    async fn first_line(&self) -> String {
        within(10, async {
            loop {
                if let Some(l) = self.of(Stream::Stdout).first() {
                    return l.clone();
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
    }
}

async fn within<T>(secs: u64, fut: impl Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(secs), fut)
        .await
        .expect("timed out")
}

fn sh(script: &str) -> ProcessSpec {
    ProcessSpec::new("sh", ["-c", script])
}

fn start(spec: &ProcessSpec) -> (Running, Arc<Collect>) {
    let sink = Arc::new(Collect::default());
    (spawn(spec, sink.clone()).expect("spawns"), sink)
}

#[tokio::test]
async fn exit_codes_and_signals_are_reported() {
    let (p, _) = start(&sh("exit 3"));
    assert_eq!(
        within(10, p.wait()).await,
        Exit {
            code: Some(3),
            signal: None
        }
    );
    let (p, _) = start(&sh("kill -USR1 $$"));
    let exit = within(10, p.wait()).await;
    assert_eq!(exit.signal, Some(Signal::USR1.as_raw()));
    assert_eq!(exit.to_string(), "killed by SIGUSR1");
    let (p, _) = start(&sh("true"));
    assert!(within(10, p.wait()).await.success());
}

#[tokio::test]
async fn stdout_and_stderr_lines_arrive_in_order() {
    let (p, sink) = start(&sh("printf 'a\\nb\\n'; echo err >&2; printf 'no newline'"));
    within(10, p.wait()).await;
    within(10, p.output_drained()).await;
    assert_eq!(sink.of(Stream::Stdout), ["a", "b", "no newline"]);
    assert_eq!(sink.of(Stream::Stderr), ["err"]);
    assert_eq!(p.output_stats().delivered_lines, 4);
}

#[tokio::test]
async fn env_file_env_and_working_dir_are_applied() {
    let dir = tempfile::tempdir().unwrap();
    let env_file = dir.path().join(".env");
    std::fs::write(
        &env_file,
        "# settings\nexport FOO=from-file\nBAR=\"file\"\n",
    )
    .unwrap();
    let mut spec = sh("echo \"$FOO|$BAR|$(pwd)\"");
    spec.env_file = Some(env_file);
    spec.env = vec![("BAR".into(), "from-spec".into())];
    spec.working_dir = Some(dir.path().to_owned());
    let (p, sink) = start(&spec);
    within(10, p.wait()).await;
    within(10, p.output_drained()).await;
    let cwd = dir.path().canonicalize().unwrap();
    assert_eq!(
        sink.of(Stream::Stdout),
        [format!("from-file|from-spec|{}", cwd.display())]
    );
}

#[tokio::test]
async fn command_is_looked_up_in_the_childs_path() {
    let dir = tempfile::tempdir().unwrap();
    write_script(
        &dir.path().join("mytool"),
        "#!/bin/sh\necho tool $1\n",
        0o755,
    );
    let mut spec = ProcessSpec::new("mytool", ["x"]);
    spec.env = vec![(
        "PATH".into(),
        format!("{}:/usr/bin:/bin", dir.path().display()),
    )];
    let (p, sink) = start(&spec);
    assert!(within(10, p.wait()).await.success());
    within(10, p.output_drained()).await;
    assert_eq!(sink.of(Stream::Stdout), ["tool x"]);
}

fn write_script(path: &Path, text: &str, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).unwrap();
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

fn spawn_err(spec: &ProcessSpec) -> SpawnError {
    spawn(spec, Arc::new(Collect::default())).expect_err("must not spawn")
}

#[tokio::test]
async fn bad_specs_say_what_to_fix() {
    let dir = tempfile::tempdir().unwrap();

    let mut spec = ProcessSpec::new("no-such-kaspire-tool", Vec::<String>::new());
    spec.env = vec![("PATH".into(), "/nonexistent-a:/nonexistent-b".into())];
    let err = spawn_err(&spec);
    assert!(matches!(err, SpawnError::CommandNotFound { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("\"no-such-kaspire-tool\" not found on PATH"),
        "{msg}"
    );
    assert!(msg.contains("/nonexistent-a:/nonexistent-b"), "{msg}");
    assert!(msg.contains("absolute path"), "{msg}");

    let missing = dir.path().join("gone");
    let err = spawn_err(&ProcessSpec {
        working_dir: Some(missing.clone()),
        ..sh("true")
    });
    assert!(matches!(err, SpawnError::WorkingDir { .. }), "{err:?}");
    assert!(err.to_string().contains("does not exist"), "{err}");
    assert!(err.to_string().contains("spec.workingDir"), "{err}");

    let err = spawn_err(&ProcessSpec {
        env_file: Some(missing),
        ..sh("true")
    });
    assert!(
        matches!(err, SpawnError::EnvFileUnreadable { .. }),
        "{err:?}"
    );

    let bad = dir.path().join("bad.env");
    std::fs::write(&bad, "OK=1\n\nthis is not a variable\n").unwrap();
    let err = spawn_err(&ProcessSpec {
        env_file: Some(bad),
        ..sh("true")
    });
    assert!(
        matches!(err, SpawnError::EnvFileMalformed { line: 3, .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("line 3"), "{err}");

    let plain = dir.path().join("plain.sh");
    write_script(&plain, "#!/bin/sh\n", 0o644);
    let err = spawn_err(&ProcessSpec::new(
        plain.to_str().unwrap(),
        Vec::<String>::new(),
    ));
    assert!(matches!(err, SpawnError::NotExecutable { .. }), "{err:?}");
    assert!(err.to_string().contains("chmod +x"), "{err}");

    let err = spawn_err(&ProcessSpec::new("./nope", Vec::<String>::new()));
    assert!(matches!(err, SpawnError::CommandMissing { .. }), "{err:?}");

    let orphan = dir.path().join("orphan.sh");
    write_script(&orphan, "#!/nonexistent/interpreter\n", 0o755);
    let err = spawn_err(&ProcessSpec::new(
        orphan.to_str().unwrap(),
        Vec::<String>::new(),
    ));
    assert!(matches!(err, SpawnError::BadExecutable { .. }), "{err:?}");
}

#[tokio::test]
async fn sigterm_that_is_honoured_needs_no_escalation() {
    let (p, _) = start(&ProcessSpec::new("sleep", ["1000"]));
    let stopped = within(10, p.stop(Signal::TERM, Duration::from_secs(5))).await;
    assert!(!stopped.escalated);
    assert_eq!(stopped.exit.signal, Some(Signal::TERM.as_raw()));
    assert!(!p.identity().is_alive());
}

#[tokio::test]
async fn a_child_trapping_sigterm_is_killed_after_the_timeout() {
    let (p, sink) = start(&sh(
        "trap '' TERM; echo ready; while :; do sleep 0.05; done",
    ));
    sink.first_line().await;
    let started = Instant::now();
    let stopped = within(10, p.stop(Signal::TERM, Duration::from_millis(300))).await;
    assert!(stopped.escalated);
    assert_eq!(stopped.exit.signal, Some(Signal::KILL.as_raw()));
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert!(group_members(p.identity().pid).is_empty());
}

#[tokio::test]
async fn stop_reaches_every_member_of_the_group() {
    // The grandchild ignores SIGTERM, so only the group SIGKILL ends it.
    let (p, sink) = start(&sh("(trap '' TERM; exec sleep 1000) & echo $!; wait"));
    let grandchild = ProcessIdentity::of(sink.first_line().await.parse().unwrap()).unwrap();
    let pgid = p.identity().pid;
    assert_eq!(group_members(pgid).len(), 2);
    let stopped = within(10, p.stop(Signal::TERM, Duration::from_millis(300))).await;
    assert!(stopped.escalated);
    assert!(!grandchild.is_alive());
    assert_eq!(group_members(pgid), Vec::<i32>::new());
}

#[tokio::test]
async fn stop_sweeps_a_group_whose_leader_already_exited() {
    let (p, sink) = start(&sh("sleep 1000 & echo $!"));
    let grandchild = ProcessIdentity::of(sink.first_line().await.parse().unwrap()).unwrap();
    assert!(within(10, p.wait()).await.success());
    assert!(grandchild.is_alive());
    let stopped = within(10, p.stop(Signal::TERM, Duration::from_secs(5))).await;
    assert!(!stopped.escalated);
    assert!(!grandchild.is_alive());
    assert!(group_members(p.identity().pid).is_empty());
}

#[tokio::test]
async fn identity_rejects_a_reused_pid_and_a_zombie_is_dead() {
    let (p, _) = start(&ProcessSpec::new("sleep", ["1000"]));
    let id = p.identity();
    assert_eq!(ProcessIdentity::of(id.pid).unwrap(), id);
    assert!(id.is_alive());
    let impostor = ProcessIdentity {
        start_time: id.start_time + 1,
        ..id
    };
    assert!(!impostor.is_alive());
    // An adopted impostor must not be signalled: the real process survives.
    let stopped = within(
        10,
        Adopted::new(impostor).stop(Signal::KILL, Duration::from_millis(100)),
    )
    .await;
    assert_eq!(stopped.exit, ExitUnknown);
    assert!(id.is_alive());
    p.stop(Signal::KILL, Duration::from_secs(1)).await;
    assert!(!id.is_alive());
}

#[tokio::test]
async fn adopted_processes_can_be_watched_and_stopped() {
    let (p, sink) = start(&sh(
        "trap 'echo bye; exit 0' TERM; echo ready; while :; do sleep 0.05; done",
    ));
    sink.first_line().await;
    let adopted = Adopted::new(p.identity());
    assert!(adopted.is_alive());
    assert!(
        tokio::time::timeout(Duration::from_millis(200), adopted.wait())
            .await
            .is_err(),
        "still running"
    );
    let stopped = within(10, adopted.stop(Signal::TERM, Duration::from_secs(5))).await;
    assert!(!stopped.escalated);
    assert!(!adopted.is_alive());
    within(10, adopted.wait()).await;
    assert_eq!(within(10, p.wait()).await.code, Some(0));

    let reaped = within(
        10,
        watchdog::reap([p.identity()], Signal::TERM, Duration::from_secs(1)),
    )
    .await;
    assert!(reaped.is_empty(), "nothing left to reap");
}

#[tokio::test]
async fn adopted_wait_returns_when_the_process_exits() {
    let (p, _) = start(&ProcessSpec::new("sleep", ["0.3"]));
    let adopted = Adopted::new(p.identity());
    let started = Instant::now();
    within(10, adopted.wait()).await;
    assert!(started.elapsed() >= Duration::from_millis(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chatty_child_never_waits_for_a_stalled_sink() {
    const BYTES: usize = 50_000_000;
    const LINE: usize = 101; // 100 characters and a newline
    let sink = Arc::new(Collect::default());
    sink.closed_gate.store(true, Ordering::Release);
    let script = format!("yes {} | head -c {BYTES}", "x".repeat(LINE - 1));
    let p = spawn(&sh(&script), sink.clone()).unwrap();
    let started = Instant::now();
    assert!(within(60, p.wait()).await.success());
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(15),
        "child took {took:?} with a stalled sink"
    );

    sink.closed_gate.store(false, Ordering::Release);
    within(60, p.output_drained()).await;
    let stats = p.output_stats();
    let total = BYTES.div_ceil(LINE) as u64;
    assert!(stats.dropped_lines > 0, "{stats:?}");
    assert_eq!(
        stats.delivered_lines + stats.dropped_lines,
        total,
        "{stats:?}"
    );
    assert_eq!(
        sink.dropped_lines.load(Ordering::Relaxed),
        stats.dropped_lines
    );
    assert_eq!(sink.of(Stream::Stdout).len() as u64, stats.delivered_lines);
    // Bounded: what was delivered was buffered while the sink was stalled.
    assert!(stats.delivered_lines as usize * LINE <= output::MAX_BUFFERED + 2 * output::MAX_LINE);
}
