//! Real processes: finding them by their tags, stopping them safely, and output
//! through files that outlive the spawner.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::identity::group_members;
use super::*;
use crate::api::Lifetime;

/// Records every line.
#[derive(Default)]
struct Lines(Mutex<Vec<(Stream, String)>>);

impl OutputSink for Lines {
    fn line(&self, stream: Stream, line: &[u8]) {
        let line = String::from_utf8_lossy(line).into_owned();
        self.0.lock().unwrap().push((stream, line));
    }
}

impl Lines {
    fn of(&self, stream: Stream) -> Vec<String> {
        let lines = self.0.lock().unwrap();
        lines
            .iter()
            .filter(|(s, _)| *s == stream)
            .map(|(_, l)| l.clone())
            .collect()
    }

    /// Waits until `done` holds for the stdout lines so far.
    async fn until(&self, done: impl Fn(&[String]) -> bool) -> Vec<String> {
        within(20, async {
            loop {
                let lines = self.of(Stream::Stdout);
                if done(&lines) {
                    return lines;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
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

fn instance() -> String {
    format!("test-{}", uuid::Uuid::new_v4().simple())
}

fn tagged(script: &str, instance: &str, lifetime: Lifetime) -> ProcessSpec {
    let mut spec = ProcessSpec::new("sh", ["-c", script]);
    spec.env = Tags {
        instance: instance.to_owned(),
        resource: Some("uid-1".into()),
        replica_index: Some(0),
        lifetime: Some(lifetime),
        lifecycle_key: Some("key".into()),
    }
    .env();
    spec
}

fn start(spec: &ProcessSpec) -> (Running, Arc<Lines>) {
    let sink = Arc::new(Lines::default());
    (spawn(spec, sink.clone()).expect("spawns"), sink)
}

#[tokio::test]
async fn find_tagged_finds_this_instances_processes_only() {
    let (ours, other) = (instance(), instance());
    let (leader, sink) = start(&tagged(
        "sleep 1000 & echo $!; wait",
        &ours,
        Lifetime::Session,
    ));
    let member: i32 = sink.until(|l| !l.is_empty()).await[0].parse().unwrap();
    let (foreign, _) = start(&tagged("exec sleep 1000", &other, Lifetime::Session));
    let (untagged, _) = start(&ProcessSpec::new("sleep", ["1000"]));

    let mut found = find_tagged(&ours);
    found.sort_by_key(|p| !p.leads_group);
    assert_eq!(found.len(), 2, "{found:?}");
    assert_eq!(found[0].identity, leader.identity());
    assert!(found[0].leads_group);
    assert_eq!(found[1].identity, ProcessIdentity::of(member).unwrap());
    assert!(!found[1].leads_group);
    for p in &found {
        assert_eq!(p.pgid, leader.identity().pid);
        assert_eq!(p.tags.instance, ours);
        assert_eq!(p.tags.lifetime, Some(Lifetime::Session));
        assert_eq!(p.tags.resource.as_deref(), Some("uid-1"));
        assert_eq!(p.tags.replica_index, Some(0));
        assert_eq!(p.tags.lifecycle_key.as_deref(), Some("key"));
    }
    assert_eq!(find_tagged(&other).len(), 1);

    let stopped = stop_tagged(&found, Signal::TERM, Duration::from_secs(5)).await;
    assert_eq!(
        stopped,
        [leader.identity()],
        "the group stop covers the member"
    );
    assert!(group_members(leader.identity().pid).is_empty());
    assert!(find_tagged(&ours).is_empty());
    assert!(foreign.identity().is_alive() && untagged.identity().is_alive());
    foreign.stop(Signal::KILL, Duration::from_secs(1)).await;
    untagged.stop(Signal::KILL, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn the_scan_is_fast() {
    let started = std::time::Instant::now();
    for _ in 0..10 {
        find_tagged("no-such-instance");
    }
    let each = started.elapsed() / 10;
    eprintln!("one /proc scan: {each:?}");
    assert!(each < Duration::from_millis(100), "one scan took {each:?}");
}

#[tokio::test]
async fn stop_tagged_never_signals_a_reused_pid() {
    let ours = instance();
    let (leader, sink) = start(&tagged(
        "sleep 1000 & echo $!; wait",
        &ours,
        Lifetime::Session,
    ));
    sink.until(|l| !l.is_empty()).await;
    let found = find_tagged(&ours);
    assert_eq!(found.len(), 2);
    // The same pids, started at another time: what a scan would have recorded
    // before the real processes died and their pids were reused.
    let impostors: Vec<TaggedProcess> = found
        .iter()
        .cloned()
        .map(|mut p| {
            p.identity.start_time += 1;
            p
        })
        .collect();
    let stopped = stop_tagged(&impostors, Signal::KILL, Duration::from_millis(200)).await;
    assert!(stopped.is_empty(), "{stopped:?}");
    assert!(found.iter().all(|p| p.identity.is_alive()));
    leader.stop(Signal::KILL, Duration::from_secs(1)).await;
}

#[tokio::test]
async fn a_group_led_by_an_untagged_process_is_never_signalled() {
    let ours = instance();
    // The shell leads the group untagged; only its child carries the tag.
    let script = format!(
        "KASPIRE_INSTANCE={ours} KASPIRE_LIFETIME=Session sleep 1000 & echo $!; wait; echo after"
    );
    let (shell, sink) = start(&ProcessSpec::new("sh", ["-c", &script]));
    sink.until(|l| !l.is_empty()).await;
    let found = find_tagged(&ours);
    assert_eq!(found.len(), 1);
    assert!(!found[0].leads_group);
    assert_eq!(found[0].pgid, shell.identity().pid);

    // Stopped alone, through a pidfd checked against the start time: an impostor
    // (a reused pid) gets nothing.
    let mut impostor = found[0].clone();
    impostor.identity.start_time += 1;
    let stopped = stop_tagged(&[impostor], Signal::KILL, Duration::from_millis(200)).await;
    assert!(stopped.is_empty());
    assert!(found[0].identity.is_alive());

    let stopped = stop_tagged(&found, Signal::TERM, Duration::from_secs(5)).await;
    assert_eq!(stopped, [found[0].identity]);
    assert!(!found[0].identity.is_alive());
    // The shell was not signalled: it saw its child die and carried on.
    assert!(within(10, shell.wait()).await.success());
    sink.until(|l| l.last().is_some_and(|l| l == "after")).await;
}

fn files(dir: &Path) -> OutputMode {
    OutputMode::Files {
        stdout: dir.join("run/out.log"),
        stderr: dir.join("run/err.log"),
    }
}

#[tokio::test]
async fn file_output_reaches_the_sink_and_drains_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("run")).unwrap();
    std::fs::write(dir.path().join("run/out.log"), "from an earlier run\n").unwrap();
    let mut spec = ProcessSpec::new(
        "sh",
        [
            "-c",
            "echo one; echo two >&2; sleep 0.3; printf 'three\\npartial'",
        ],
    );
    spec.output = files(dir.path());
    let (p, sink) = start(&spec);
    assert!(within(10, p.wait()).await.success());
    within(10, p.output_drained()).await;
    assert_eq!(sink.of(Stream::Stdout), ["one", "three", "partial"]);
    assert_eq!(sink.of(Stream::Stderr), ["two"]);
    assert_eq!(p.output_stats().delivered_lines, 4);
    let out = std::fs::read_to_string(dir.path().join("run/out.log")).unwrap();
    assert_eq!(out, "from an earlier run\none\nthree\npartial");
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(dir.path().join("run/err.log"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn file_output_outlives_the_spawner_and_a_new_tailer_picks_it_up() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new(
        "sh",
        [
            "-c",
            "i=0; while :; do echo line$i; i=$((i+1)); sleep 0.05; done",
        ],
    );
    spec.output = files(dir.path());
    let identity = {
        // A whole control plane's worth of runtime, dropped with everything in it.
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (p, _) = rt.block_on(async { start(&spec) });
        p.identity()
    };
    std::thread::sleep(Duration::from_millis(500));
    assert!(identity.is_alive(), "no SIGPIPE: it writes to a file");

    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let sink = Arc::new(Lines::default());
        let tail = tail_file(
            dir.path().join("run/out.log"),
            Stream::Stdout,
            sink.clone(),
            TailFrom::Start,
        );
        let lines = sink.until(|l| l.len() >= 30).await;
        // Written before and after the tailer started, none missing, in order.
        let expected: Vec<String> = (0..lines.len()).map(|i| format!("line{i}")).collect();
        assert_eq!(lines, expected);
        tail.stop().await;
        Adopted::new(identity)
            .stop(Signal::TERM, Duration::from_secs(5))
            .await;
    });
    assert!(!identity.is_alive());
}

#[tokio::test]
async fn the_tailer_truncates_what_it_delivered() {
    const BOUND: u64 = 64 << 10;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.log");
    // Bursts of ~30 KiB with pauses, so the tailer catches up between them.
    let script =
        "for b in 1 2 3 4 5 6 7 8 9 10; do seq $((b*5000-4999)) $((b*5000)); sleep 0.3; done";
    // `>>` opens with O_APPEND, as OutputMode::Files does.
    let mut writer = std::process::Command::new("sh")
        .args(["-c", &format!("({script}) >> '{}'", path.display())])
        .spawn()
        .unwrap();
    let sink = Arc::new(Lines::default());
    let tail = tail::tail_files(
        vec![(path.clone(), Stream::Stdout)],
        sink.clone(),
        TailFrom::Start,
        BOUND,
    );
    let mut largest = 0;
    while writer.try_wait().unwrap().is_none() {
        largest = largest.max(std::fs::metadata(&path).map_or(0, |m| m.len()));
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tail.stop().await;
    let expected: Vec<String> = (1..=50_000).map(|i| i.to_string()).collect();
    assert_eq!(sink.of(Stream::Stdout), expected);
    assert!(
        largest < BOUND + (64 << 10),
        "the file grew to {largest} bytes"
    );
    assert!(std::fs::metadata(&path).unwrap().len() < BOUND);
}

#[tokio::test]
async fn files_stay_under_max_file_with_a_fast_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = ProcessSpec::new("seq", ["1500000"]); // ~10.4 MB
    spec.output = files(dir.path());
    let (p, sink) = start(&spec);
    assert!(within(30, p.wait()).await.success());
    within(30, p.output_drained()).await;
    let lines = sink.of(Stream::Stdout);
    assert_eq!(lines.last().map(String::as_str), Some("1500000"));
    let len = std::fs::metadata(dir.path().join("run/out.log"))
        .unwrap()
        .len();
    assert!(len < MAX_FILE, "{len} bytes left");
}
