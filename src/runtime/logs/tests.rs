//! The store without a server: bounds and rotation, tail/since/limit, merging replicas
//! and sources, follow across rotations, and history across a reopen.

use std::path::Path;
use std::time::Duration;

use futures::StreamExt;

use super::*;

fn exe(name: &str) -> ResourceRef {
    ResourceRef::new("default", "Executable", name)
}

fn small(dir: &Path) -> Arc<LogStore> {
    LogStore::open_with(dir, LogConfig { bound: MIN_BOUND }).unwrap()
}

async fn read_all(store: &LogStore, resource: &ResourceRef, query: LogQuery) -> String {
    let chunks: Vec<Bytes> = store.read(resource, query).unwrap().collect().await;
    String::from_utf8(chunks.concat()).unwrap()
}

fn disk_usage(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum()
}

#[tokio::test]
async fn lines_merge_replicas_and_sources_in_write_order() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("api");
    let out0 = store.writer(&r, 0, Source::Stdout).unwrap();
    let err1 = store.writer(&r, 1, Source::Stderr).unwrap();
    let sys = store.writer(&r, 0, Source::System).unwrap();
    out0.line(b"one\n");
    sys.line(b"started");
    err1.line(b"two\r\n");
    out0.line(b"three");

    let all = read_all(&store, &r, LogQuery::default()).await;
    assert_eq!(all, "one\ntwo\nthree\n");
    let replica1 = LogQuery {
        replica: Some(1),
        ..Default::default()
    };
    assert_eq!(read_all(&store, &r, replica1).await, "two\n");
    let system = LogQuery {
        source: Some(Source::System),
        ..Default::default()
    };
    assert_eq!(read_all(&store, &r, system).await, "started\n");
    assert_eq!(
        read_all(&store, &exe("other"), LogQuery::default()).await,
        ""
    );
}

#[tokio::test]
async fn timestamps_are_rfc3339_nano_and_ordered() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("api");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    for i in 0..50 {
        w.line(format!("line {i}").as_bytes());
    }
    let query = LogQuery {
        timestamps: true,
        ..Default::default()
    };
    let out = read_all(&store, &r, query).await;
    let stamps: Vec<jiff::Timestamp> = out
        .lines()
        .map(|l| l.split_once(' ').unwrap().0.parse().unwrap())
        .collect();
    assert_eq!(stamps.len(), 50);
    assert!(stamps.windows(2).all(|w| w[0] <= w[1]));
    assert!(out.lines().last().unwrap().ends_with(" line 49"));
}

#[tokio::test]
async fn tail_counts_matching_lines_from_the_end() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("api");
    let out = store.writer(&r, 0, Source::Stdout).unwrap();
    let err = store.writer(&r, 0, Source::Stderr).unwrap();
    let sys = store.writer(&r, 0, Source::System).unwrap();
    for i in 0..10 {
        out.line(format!("o{i}").as_bytes());
        sys.line(format!("s{i}").as_bytes());
    }
    err.line(b"e");
    let tail = |n, source| LogQuery {
        tail: Some(n),
        source,
        ..Default::default()
    };
    assert_eq!(read_all(&store, &r, tail(3, None)).await, "o8\no9\ne\n");
    assert_eq!(
        read_all(&store, &r, tail(2, Some(Source::System))).await,
        "s8\ns9\n"
    );
    assert_eq!(read_all(&store, &r, tail(0, None)).await, "");
    assert_eq!(
        read_all(&store, &r, tail(100, None)).await.lines().count(),
        11
    );
}

#[tokio::test]
async fn tail_and_since_scan_back_through_many_chunks_and_the_rotated_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = small(tmp.path());
    let r = exe("api");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    let sys = store.writer(&r, 0, Source::System).unwrap();
    for i in 0..20_000 {
        w.line(format!("line {i:05}").as_bytes());
        sys.line(&[b'x'; 100]); // filtered out, but makes the scan cross chunks
    }
    store.journal(&r).unwrap().flush();
    assert!(store.path(&r).join("log.1").exists(), "the log rotated");
    let out = read_all(
        &store,
        &r,
        LogQuery {
            tail: Some(1000),
            ..Default::default()
        },
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 1000);
    assert_eq!(lines[0], "line 19000");
    assert_eq!(lines[999], "line 19999");

    // Everything is recent: sinceSeconds keeps what is still on disk, in order.
    let since = read_all(
        &store,
        &r,
        LogQuery {
            since_seconds: Some(3600),
            ..Default::default()
        },
    )
    .await;
    let all = read_all(&store, &r, LogQuery::default()).await;
    assert_eq!(since, all);
    assert!(all.ends_with("line 19999\n"));
    let future = LogQuery {
        since_time: Some(jiff::Timestamp::now() + jiff::SignedDuration::from_secs(60)),
        ..Default::default()
    };
    assert_eq!(read_all(&store, &r, future).await, "");
}

#[tokio::test]
async fn limit_bytes_cuts_the_output_exactly() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("api");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    w.line(b"hello");
    w.line(b"world");
    let query = LogQuery {
        limit_bytes: Some(8),
        ..Default::default()
    };
    assert_eq!(read_all(&store, &r, query).await, "hello\nwo");
}

#[test]
fn a_chatty_writer_stays_within_the_bound() {
    let tmp = tempfile::tempdir().unwrap();
    let store = small(tmp.path());
    let r = exe("chatty");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    let line = vec![b'y'; 1000];
    let mut max = 0;
    for i in 0..20_000 {
        w.line(&line); // 20 MB through a 512 KiB bound
        if i % 1000 == 0 {
            max = max.max(disk_usage(&store.path(&r)));
        }
    }
    store.journal(&r).unwrap().flush();
    max = max.max(disk_usage(&store.path(&r)));
    assert!(max <= MIN_BOUND, "{max} bytes on disk, bound {MIN_BOUND}");
    assert!(max >= MIN_BOUND / 2, "the bound is used, not wasted: {max}");
}

#[tokio::test]
async fn history_survives_reopening_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let r = exe("api");
    {
        let store = LogStore::open(tmp.path()).unwrap();
        store.writer(&r, 0, Source::Stdout).unwrap().line(b"before");
    }
    // A torn record from a crash is skipped, not glued to the next line.
    let log = LogStore::open(tmp.path()).unwrap().path(&r).join("log");
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .and_then(|mut f| std::io::Write::write_all(&mut f, b"2025-01-0"))
        .unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    store.writer(&r, 0, Source::Stdout).unwrap().line(b"after");
    assert_eq!(
        read_all(&store, &r, LogQuery::default()).await,
        "before\nafter\n"
    );
}

#[tokio::test]
async fn follow_sees_new_lines_promptly_and_ends_when_closed() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("api");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    w.line(b"old");
    let query = LogQuery {
        follow: true,
        tail: Some(1),
        ..Default::default()
    };
    let mut stream = Box::pin(store.read(&r, query).unwrap());
    assert_eq!(stream.next().await.unwrap(), "old\n");
    let started = std::time::Instant::now();
    w.line(b"new");
    let next = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert_eq!(next.unwrap().unwrap(), "new\n");
    assert!(started.elapsed() < Duration::from_millis(100));
    store.close(&r);
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(end.unwrap().is_none(), "closing ends the follow");
}

#[tokio::test]
async fn follow_keeps_up_across_rotations() {
    let tmp = tempfile::tempdir().unwrap();
    let store = small(tmp.path());
    let r = exe("api");
    let w = store.writer(&r, 0, Source::Stdout).unwrap();
    let query = LogQuery {
        follow: true,
        ..Default::default()
    };
    let stream = store.read(&r, query).unwrap();
    let reader = tokio::spawn(async move {
        let chunks: Vec<Bytes> = stream.collect().await;
        String::from_utf8(chunks.concat()).unwrap()
    });
    // Slow enough for the follower to keep up with a bound this small.
    for i in 0..3000 {
        w.line(format!("{i:04} {}", "z".repeat(300)).as_bytes());
        if i % 100 == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    store.close(&r);
    let out = tokio::time::timeout(Duration::from_secs(20), reader)
        .await
        .unwrap()
        .unwrap();
    let numbers: Vec<u32> = out.lines().map(|l| l[..4].parse().unwrap()).collect();
    assert_eq!(numbers, (0..3000).collect::<Vec<_>>());
}

#[tokio::test]
async fn removing_a_log_deletes_its_files_and_ends_followers() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let r = exe("gone");
    store.writer(&r, 0, Source::Stdout).unwrap().line(b"x");
    let query = LogQuery {
        follow: true,
        ..Default::default()
    };
    let mut stream = Box::pin(store.read(&r, query).unwrap());
    assert_eq!(stream.next().await.unwrap(), "x\n");
    store.remove(&r).unwrap();
    assert!(!store.path(&r).exists());
    let end = tokio::time::timeout(Duration::from_secs(5), stream.next()).await;
    assert!(end.unwrap().is_none());
}

#[test]
fn odd_names_stay_one_path_component() {
    let tmp = tempfile::tempdir().unwrap();
    let store = LogStore::open(tmp.path()).unwrap();
    let path = store.path(&ResourceRef::new("..", "Executable", "a/b"));
    assert_eq!(
        path,
        tmp.path().join("%2E.").join("executable").join("a%2Fb")
    );
}

#[test]
fn writers_can_be_shared_across_threads() {
    fn shareable<T: Send + Sync + Clone + 'static>() {}
    shareable::<LogWriter>();
    fn shared_store<T: Send + Sync>() {}
    shared_store::<LogStore>();
}
