//! Following the output files of processes that must outlive the control plane.
//!
//! A Persistent process cannot write into pipes to the control plane (it would get
//! `SIGPIPE` once the control plane is gone), so it writes to files opened with
//! `O_APPEND` ([`OutputMode::Files`](super::OutputMode::Files)). The tailer polls
//! them every 100 ms, cuts lines like the pipe drain does ([`MAX_LINE`]) and hands
//! them to an [`OutputSink`]. Once it has delivered everything and the file holds
//! more than [`MAX_FILE`] bytes, it truncates it: the writer appends, so its next
//! write lands at offset 0. Lines written between the tailer's last read and the
//! truncation (microseconds) are lost; that is the price of a bounded file.
//! One tailer per file: two would truncate under each other.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::sync::watch;

use super::output::{MAX_LINE, OutputHandle, OutputSink, OutputStats, Shared, Stream};

/// A file is truncated once it holds this much and everything in it was delivered.
pub const MAX_FILE: u64 = 8 << 20;
/// More unread output than this (a sink that stalled) is skipped and reported as
/// dropped, so the file stays bounded even when the sink cannot keep up.
const MAX_BACKLOG: u64 = 4 * MAX_FILE;
/// How often files are checked for new output.
const POLL: Duration = Duration::from_millis(100);
/// How much one read takes.
const CHUNK: usize = 256 << 10;

/// Where a tailer starts reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TailFrom {
    /// Everything already in the file (after a control-plane restart).
    Start,
    /// Only what is written after [`tail_file`] returns.
    End,
}

/// A running tailer. Dropping it stops it (after one last read); [`TailHandle::stop`]
/// also waits until that read reached the sink.
#[derive(Debug)]
pub struct TailHandle {
    stop: watch::Sender<bool>,
    output: OutputHandle,
}

impl TailHandle {
    /// Lines delivered (and dropped) so far.
    pub fn stats(&self) -> OutputStats {
        self.output.stats()
    }

    /// Reads what is left (an unfinished last line included), delivers it and stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        self.output.drained().await;
    }

    /// The handle [`Running`](super::Running) reports output through.
    pub(crate) fn output(&self) -> OutputHandle {
        self.output.clone()
    }
}

impl Drop for TailHandle {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

/// Follows `path` (which may not exist yet), delivering each line as `stream` to
/// `sink`, until the handle is stopped or dropped. Must be called inside a Tokio
/// runtime.
pub fn tail_file(
    path: impl Into<PathBuf>,
    stream: Stream,
    sink: Arc<dyn OutputSink>,
    from: TailFrom,
) -> TailHandle {
    tail_files(vec![(path.into(), stream)], sink, from, MAX_FILE)
}

/// Follows several files in one task, so the sink is never called concurrently.
/// `End` is measured now, before anything else can write.
pub(crate) fn tail_files(
    files: Vec<(PathBuf, Stream)>,
    sink: Arc<dyn OutputSink>,
    from: TailFrom,
    max_file: u64,
) -> TailHandle {
    let files = files
        .into_iter()
        .map(|(path, stream)| {
            let offset = match from {
                TailFrom::Start => 0,
                TailFrom::End => std::fs::metadata(&path).map_or(0, |m| m.len()),
            };
            Tailed {
                path,
                stream,
                file: None,
                offset,
                partial: Vec::new(),
            }
        })
        .collect();
    let shared = Arc::new(Shared::default());
    let (stop, stopped) = watch::channel(false);
    let (done_tx, done) = watch::channel(false);
    tokio::spawn(follow(
        files,
        sink,
        shared.clone(),
        max_file,
        stopped,
        done_tx,
    ));
    TailHandle {
        stop,
        output: OutputHandle::new(shared, done),
    }
}

async fn follow(
    mut files: Vec<Tailed>,
    sink: Arc<dyn OutputSink>,
    shared: Arc<Shared>,
    max_file: u64,
    mut stopped: watch::Receiver<bool>,
    done: watch::Sender<bool>,
) {
    let mut last = false;
    loop {
        let (sink, shared) = (sink.clone(), shared.clone());
        let polled = tokio::task::spawn_blocking(move || {
            for file in &mut files {
                if let Err(e) = file.poll(&*sink, &shared, max_file, last) {
                    tracing::warn!(path = %file.path.display(), "cannot read output file: {e}");
                }
            }
            files
        })
        .await;
        match polled {
            Ok(back) => files = back,
            Err(_) => {
                tracing::warn!("process output sink panicked; the file is no longer followed");
                break;
            }
        }
        if last {
            break;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            // A stop request or a dropped handle: one last read.
            _ = stopped.changed() => last = true,
        }
    }
    let _ = done.send(true);
}

/// One followed file.
struct Tailed {
    path: PathBuf,
    stream: Stream,
    /// Opened once it exists; writable when we may truncate it.
    file: Option<(File, bool)>,
    /// Where the next read starts.
    offset: u64,
    /// The start of a line whose end has not been written yet.
    partial: Vec<u8>,
}

impl Tailed {
    /// Delivers what was written since the last poll; truncates the file when it
    /// is over `max_file` and fully delivered; on the `last` poll, also delivers an
    /// unfinished last line.
    fn poll(
        &mut self,
        sink: &dyn OutputSink,
        shared: &Shared,
        max_file: u64,
        last: bool,
    ) -> io::Result<()> {
        let (file, writable) = match self.file.take() {
            Some(opened) => opened,
            None => match open(&self.path) {
                Ok(opened) => opened,
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            },
        };
        let result = self.poll_file(&file, writable, sink, shared, max_file, last);
        self.file = Some((file, writable));
        result
    }

    fn poll_file(
        &mut self,
        file: &File,
        writable: bool,
        sink: &dyn OutputSink,
        shared: &Shared,
        max_file: u64,
        last: bool,
    ) -> io::Result<()> {
        let len = file.metadata()?.len();
        if len < self.offset {
            // Truncated by someone else: start over.
            self.offset = 0;
        }
        if len - self.offset > MAX_BACKLOG {
            self.skip(file, len - max_file.min(MAX_BACKLOG), sink, shared)?;
        }
        if len > self.offset {
            // Sized to what is there: most polls of a quiet file read nothing.
            let mut buf = vec![0; (len - self.offset).clamp(4096, CHUNK as u64) as usize];
            loop {
                let n = file.read_at(&mut buf, self.offset)?;
                if n == 0 {
                    break;
                }
                self.offset += n as u64;
                self.deliver(&buf[..n], sink, shared);
            }
        }
        if last && !self.partial.is_empty() {
            let line = std::mem::take(&mut self.partial);
            self.line(&line, sink, shared);
        }
        if writable && self.offset >= max_file {
            // An unfinished line stays in `partial`: its end is written at offset 0.
            file.set_len(0)?;
            self.offset = 0;
        }
        Ok(())
    }

    /// Cuts complete lines (and `MAX_LINE` pieces of overlong ones) out of `data`.
    fn deliver(&mut self, mut data: &[u8], sink: &dyn OutputSink, shared: &Shared) {
        while let Some(i) = data.iter().position(|&b| b == b'\n') {
            if self.partial.is_empty() {
                self.line(&data[..i], sink, shared);
            } else {
                let mut line = std::mem::take(&mut self.partial);
                line.extend_from_slice(&data[..i]);
                self.line(&line, sink, shared);
            }
            data = &data[i + 1..];
        }
        self.partial.extend_from_slice(data);
        while self.partial.len() >= MAX_LINE {
            let rest = self.partial.split_off(MAX_LINE);
            let piece = std::mem::replace(&mut self.partial, rest);
            self.line(&piece, sink, shared);
        }
    }

    fn line(&self, line: &[u8], sink: &dyn OutputSink, shared: &Shared) {
        sink.line(self.stream, line);
        shared.delivered_lines.fetch_add(1, Ordering::Relaxed);
    }

    /// Jumps to `to`, counting the lines passed over and reporting them as dropped.
    fn skip(
        &mut self,
        file: &File,
        to: u64,
        sink: &dyn OutputSink,
        shared: &Shared,
    ) -> io::Result<()> {
        let bytes = to - self.offset;
        let mut lines = u64::from(!self.partial.is_empty());
        let mut buf = vec![0; CHUNK];
        while self.offset < to {
            let want = buf.len().min((to - self.offset) as usize);
            let n = file.read_at(&mut buf[..want], self.offset)?;
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|&&b| b == b'\n').count() as u64;
            self.offset += n as u64;
        }
        self.partial.clear();
        shared.dropped_lines.fetch_add(lines, Ordering::Relaxed);
        shared.dropped_bytes.fetch_add(bytes, Ordering::Relaxed);
        sink.dropped(self.stream, lines, bytes);
        Ok(())
    }
}

/// Opens `path` for reading, and for truncating when we may write it.
fn open(path: &std::path::Path) -> io::Result<(File, bool)> {
    match OpenOptions::new().read(true).write(true).open(path) {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => Ok((File::open(path)?, false)),
        Err(e) => Err(e),
    }
}
