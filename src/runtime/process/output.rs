//! Draining a child's stdout and stderr without ever blocking it.
//!
//! One task per pipe reads as fast as the child writes and hands complete lines to
//! a delivery task through a queue bounded by [`MAX_BUFFERED`] bytes. The delivery
//! task calls the [`OutputSink`] on the blocking pool, so a slow sink (a disk write)
//! never stalls the runtime or the readers. When the queue is full the readers drop
//! output instead of waiting, count it, and tell the sink ([`OutputSink::dropped`])
//! before the next line they do deliver.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::{mpsc, watch};

/// Output buffered between the pipes and the sink before lines are dropped.
pub const MAX_BUFFERED: usize = 4 << 20;
/// Longer lines are delivered in pieces of this size.
pub const MAX_LINE: usize = 64 << 10;
/// How much one call onto the blocking pool delivers at most.
const BATCH: usize = 1 << 20;

/// Which pipe a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stream {
    /// The child's standard output.
    Stdout,
    /// The child's standard error.
    Stderr,
}

/// Where a child's output goes, one line at a time (without its `\n`), in order per
/// stream. Called from the blocking thread pool, never concurrently for one process.
pub trait OutputSink: Send + Sync + 'static {
    /// One line of output.
    fn line(&self, stream: Stream, line: &[u8]);

    /// `lines` lines (`bytes` bytes) were dropped just before the next line because
    /// the sink fell more than [`MAX_BUFFERED`] bytes behind the child.
    fn dropped(&self, stream: Stream, lines: u64, bytes: u64) {
        let _ = (stream, lines, bytes);
    }
}

impl<T: OutputSink + ?Sized> OutputSink for Arc<T> {
    fn line(&self, stream: Stream, line: &[u8]) {
        (**self).line(stream, line);
    }
    fn dropped(&self, stream: Stream, lines: u64, bytes: u64) {
        (**self).dropped(stream, lines, bytes);
    }
}

/// Totals for one process's output so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OutputStats {
    /// Lines handed to the sink.
    pub delivered_lines: u64,
    /// Lines dropped because the sink fell behind.
    pub dropped_lines: u64,
    /// Bytes dropped because the sink fell behind.
    pub dropped_bytes: u64,
}

/// Counters shared by the producers of one process's output and its handle.
#[derive(Default)]
pub(crate) struct Shared {
    /// Bytes queued for the sink and not yet delivered.
    in_flight: AtomicUsize,
    pub(crate) delivered_lines: AtomicU64,
    pub(crate) dropped_lines: AtomicU64,
    pub(crate) dropped_bytes: AtomicU64,
}

enum Msg {
    /// Complete lines, each ending in `\n` except possibly the last piece of a stream.
    Lines(Stream, Bytes),
    Dropped(Stream, u64, u64),
}

/// The running drain of one process's output.
#[derive(Clone)]
pub(crate) struct OutputHandle {
    shared: Arc<Shared>,
    done: watch::Receiver<bool>,
}

impl std::fmt::Debug for OutputHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutputHandle")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl OutputHandle {
    /// A handle over `shared`'s counters that is drained once `done` turns true;
    /// for producers other than [`drain`] (the file tailer).
    pub(crate) fn new(shared: Arc<Shared>, done: watch::Receiver<bool>) -> Self {
        Self { shared, done }
    }

    pub fn stats(&self) -> OutputStats {
        let s = &self.shared;
        OutputStats {
            delivered_lines: s.delivered_lines.load(Ordering::Relaxed),
            dropped_lines: s.dropped_lines.load(Ordering::Relaxed),
            dropped_bytes: s.dropped_bytes.load(Ordering::Relaxed),
        }
    }

    /// Resolves once both pipes are closed and every line reached the sink.
    pub async fn drained(&self) {
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Starts draining `stdout` and `stderr` into `sink`.
pub(crate) fn drain(
    stdout: impl AsyncRead + Unpin + Send + 'static,
    stderr: impl AsyncRead + Unpin + Send + 'static,
    sink: Arc<dyn OutputSink>,
) -> OutputHandle {
    let shared = Arc::new(Shared::default());
    let (tx, rx) = mpsc::unbounded_channel();
    let (done_tx, done) = watch::channel(false);
    tokio::spawn(read(stdout, Stream::Stdout, tx.clone(), shared.clone()));
    tokio::spawn(read(stderr, Stream::Stderr, tx, shared.clone()));
    tokio::spawn(deliver(rx, sink, shared.clone(), done_tx));
    OutputHandle { shared, done }
}

async fn read(
    mut pipe: impl AsyncRead + Unpin,
    stream: Stream,
    tx: mpsc::UnboundedSender<Msg>,
    shared: Arc<Shared>,
) {
    let mut queue = Queue {
        stream,
        tx,
        shared,
        pending: (0, 0),
    };
    let mut buf = BytesMut::with_capacity(2 * MAX_LINE);
    loop {
        buf.reserve(MAX_LINE);
        let searched_from = buf.len();
        match pipe.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        let cut = match buf[searched_from..].iter().rposition(|&b| b == b'\n') {
            Some(i) => searched_from + i + 1,
            None if buf.len() >= MAX_LINE => buf.len(),
            None => continue,
        };
        queue.offer(buf.split_to(cut).freeze());
    }
    if !buf.is_empty() {
        queue.offer(buf.freeze());
    }
    queue.flush_dropped();
}

/// One reader's end of the queue to the delivery task.
struct Queue {
    stream: Stream,
    tx: mpsc::UnboundedSender<Msg>,
    shared: Arc<Shared>,
    /// Lines and bytes dropped and not yet reported to the sink.
    pending: (u64, u64),
}

impl Queue {
    fn offer(&mut self, chunk: Bytes) {
        let len = chunk.len();
        if self.shared.in_flight.load(Ordering::Acquire) + len > MAX_BUFFERED {
            let lines = count_lines(&chunk);
            self.pending.0 += lines;
            self.pending.1 += len as u64;
            self.shared
                .dropped_lines
                .fetch_add(lines, Ordering::Relaxed);
            self.shared
                .dropped_bytes
                .fetch_add(len as u64, Ordering::Relaxed);
            return;
        }
        self.flush_dropped();
        self.shared.in_flight.fetch_add(len, Ordering::AcqRel);
        // A closed queue (the sink panicked) must not stop us reading: the child
        // would block on a full pipe.
        let _ = self.tx.send(Msg::Lines(self.stream, chunk));
    }

    fn flush_dropped(&mut self) {
        if self.pending.0 > 0 {
            let (lines, bytes) = std::mem::take(&mut self.pending);
            let _ = self.tx.send(Msg::Dropped(self.stream, lines, bytes));
        }
    }
}

async fn deliver(
    mut rx: mpsc::UnboundedReceiver<Msg>,
    sink: Arc<dyn OutputSink>,
    shared: Arc<Shared>,
    done: watch::Sender<bool>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        let mut size = 0;
        while size < BATCH {
            let Ok(msg) = rx.try_recv() else { break };
            if let Msg::Lines(_, chunk) = &msg {
                size += chunk.len();
            }
            batch.push(msg);
        }
        let (sink, shared) = (sink.clone(), shared.clone());
        let delivered = tokio::task::spawn_blocking(move || {
            for msg in batch {
                match msg {
                    Msg::Lines(stream, chunk) => {
                        let body = chunk.strip_suffix(b"\n").unwrap_or(&chunk);
                        let mut n = 0;
                        for line in body.split(|&b| b == b'\n') {
                            sink.line(stream, line);
                            n += 1;
                        }
                        shared.delivered_lines.fetch_add(n, Ordering::Relaxed);
                        shared.in_flight.fetch_sub(chunk.len(), Ordering::AcqRel);
                    }
                    Msg::Dropped(stream, lines, bytes) => sink.dropped(stream, lines, bytes),
                }
            }
        })
        .await;
        if delivered.is_err() {
            tracing::warn!("process output sink panicked; further output is discarded");
            break;
        }
    }
    let _ = done.send(true);
}

fn count_lines(chunk: &[u8]) -> u64 {
    let newlines = chunk.iter().filter(|&&b| b == b'\n').count() as u64;
    newlines + u64::from(chunk.last() != Some(&b'\n'))
}
