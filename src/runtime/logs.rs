//! Bounded on-disk log capture and the `log` subresource.
//!
//! Every resource (namespace, kind, name) has one journal directory under the state
//! dir's `logs/`: `logs/<namespace>/<kind>/<name>/log` and `log.1`. Each line of
//! output is one text record `<timestamp> <source> <replica> <text>\n` (see
//! [`record`]), from every replica and source of the resource, in the order written.
//!
//! Why one file per resource rather than one per replica and source: the size bound is
//! per resource, so one file pair enforces it exactly (`log` is rotated to `log.1` when
//! it would pass half the bound, so the pair never exceeds it); records are already
//! interleaved by time, so merging replicas and sources is a filter, not a k-way merge;
//! and a resource costs one open file, not eight. A chatty replica can push a quiet
//! one's old lines out — the bound is what the user asked the resource to use.
//!
//! Writers append to an in-memory buffer; a background thread writes it out within a
//! few milliseconds (a large buffer is written at once) and publishes a [`Snapshot`] on
//! a `watch` channel: the open files and how much of each is whole records. Readers
//! only ever read published bytes with positioned reads on those handles, so a writer
//! never waits for a reader and a reader never sees half a record, even across
//! rotations. History survives restarts of the resource and of the control plane.

mod http;
mod journal;
mod reader;
mod record;

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, mpsc};

use bytes::Bytes;
use futures::Stream;

pub use http::{LogHandler, install};
pub use journal::{MIN_BOUND, Snapshot};
pub use record::{MAX_LINE, Source};

use journal::Journal;
use reader::{Cursor, Filter};

/// Default size bound of one resource's log on disk.
pub const DEFAULT_BOUND: u64 = 8 * 1024 * 1024;

/// Which resource a log belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ResourceRef {
    pub namespace: String,
    /// The kind as in objects (`Executable`, `Container`, …).
    pub kind: String,
    pub name: String,
}

impl ResourceRef {
    pub fn new(namespace: &str, kind: &str, name: &str) -> Self {
        ResourceRef {
            namespace: namespace.into(),
            kind: kind.into(),
            name: name.into(),
        }
    }
}

/// What to read, with the meaning of the `log` subresource's parameters.
#[derive(Debug, Clone, Default)]
pub struct LogQuery {
    /// Keep streaming new lines until the log is closed or the reader goes away.
    pub follow: bool,
    /// Only the last N matching lines (then new ones, when following).
    pub tail: Option<usize>,
    /// Prefix every line with its RFC3339 timestamp and a space.
    pub timestamps: bool,
    /// One replica's lines only.
    pub replica: Option<u32>,
    /// One source only; `None` means stdout and stderr.
    pub source: Option<Source>,
    /// Stop after this many bytes of output (possibly mid-line, as Kubernetes does).
    pub limit_bytes: Option<usize>,
    /// Only lines written in the last N seconds.
    pub since_seconds: Option<u64>,
    /// Only lines written at or after this time (the later of the two wins).
    pub since_time: Option<jiff::Timestamp>,
}

/// Settings of a [`LogStore`].
#[derive(Debug, Clone)]
pub struct LogConfig {
    /// Most bytes one resource's log may take on disk (at least [`MIN_BOUND`]).
    pub bound: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            bound: DEFAULT_BOUND,
        }
    }
}

/// Every resource's log under one directory.
pub struct LogStore {
    dir: PathBuf,
    config: LogConfig,
    journals: Mutex<HashMap<ResourceRef, Arc<Journal>>>,
    /// Queue of journals with buffered records, drained by the flusher thread.
    flusher: mpsc::Sender<Arc<Journal>>,
}

impl LogStore {
    /// Opens the logs in `dir` (the state dir's `logs/`) with the default bound.
    pub fn open(dir: &Path) -> io::Result<Arc<LogStore>> {
        Self::open_with(dir, LogConfig::default())
    }

    pub fn open_with(dir: &Path, config: LogConfig) -> io::Result<Arc<LogStore>> {
        std::fs::create_dir_all(dir)?;
        Ok(Arc::new(LogStore {
            dir: dir.to_path_buf(),
            config,
            journals: Mutex::new(HashMap::new()),
            flusher: journal::spawn_flusher()?,
        }))
    }

    /// A sink for one replica's lines from one source.
    pub fn writer(
        &self,
        resource: &ResourceRef,
        replica: u32,
        source: Source,
    ) -> io::Result<LogWriter> {
        Ok(LogWriter {
            journal: self.journal(resource)?,
            replica,
            source,
        })
    }

    /// The resource's lines as kubectl prints them, in chunks. Everything written
    /// before the call is included; with `follow`, later lines follow promptly.
    pub fn read(
        &self,
        resource: &ResourceRef,
        query: LogQuery,
    ) -> io::Result<impl Stream<Item = Bytes> + Send + 'static> {
        let journal = self.journal(resource)?;
        journal.flush();
        let mut updates = journal.subscribe();
        let snapshot = updates.borrow_and_update().clone();
        drop(journal);
        let now = jiff::Timestamp::now();
        let since = [
            query.since_seconds.and_then(|s| {
                now.checked_sub(jiff::SignedDuration::from_secs(s as i64))
                    .ok()
            }),
            query.since_time,
        ]
        .into_iter()
        .flatten()
        .max();
        let filter = Filter {
            sources: match query.source {
                Some(source) => vec![source],
                None => vec![Source::Stdout, Source::Stderr],
            },
            replica: query.replica,
            since: since.map(record::format_timestamp),
            timestamps: query.timestamps,
        };
        let cursor = Cursor::new(snapshot, filter, query.tail, query.limit_bytes);
        let follow = query.follow;
        Ok(futures::stream::unfold(
            (Some(cursor), updates),
            move |(cursor, mut updates)| async move {
                let mut cursor = cursor?;
                loop {
                    let (back, chunk) = tokio::task::spawn_blocking(move || {
                        let chunk = cursor.next_chunk();
                        (cursor, chunk)
                    })
                    .await
                    .ok()?;
                    cursor = back;
                    match chunk {
                        Ok(Some(bytes)) => return Some((bytes, (Some(cursor), updates))),
                        Ok(None) => {}
                        Err(err) => {
                            tracing::warn!(%err, "cannot read a log");
                            return None;
                        }
                    }
                    if !follow || cursor.exhausted() || cursor.snapshot.closed {
                        return None;
                    }
                    // An error means the journal is gone (its resource's log removed).
                    updates.changed().await.ok()?;
                    cursor.snapshot = updates.borrow_and_update().clone();
                }
            },
        ))
    }

    /// Writes out everything buffered, for every resource (the flusher does this within
    /// milliseconds anyway; this is for shutdown).
    pub fn flush(&self) {
        let journals: Vec<Arc<Journal>> = self.lock().values().cloned().collect();
        for journal in journals {
            journal.flush();
        }
    }

    /// Writes out everything buffered for `resource` and ends its followers once they
    /// have read it (e.g. when the resource finished). A later write reopens the log.
    pub fn close(&self, resource: &ResourceRef) {
        if let Some(journal) = self.lock().get(resource) {
            journal.close();
        }
    }

    /// Deletes the resource's log (the resource was deleted).
    pub fn remove(&self, resource: &ResourceRef) -> io::Result<()> {
        let journal = self.lock().remove(resource);
        match journal {
            Some(journal) => journal.remove(),
            None => match std::fs::remove_dir_all(self.path(resource)) {
                Err(err) if err.kind() != io::ErrorKind::NotFound => Err(err),
                _ => Ok(()),
            },
        }
    }

    /// The directory holding `resource`'s log files.
    pub fn path(&self, resource: &ResourceRef) -> PathBuf {
        self.dir
            .join(path_part(&resource.namespace))
            .join(path_part(&resource.kind.to_ascii_lowercase()))
            .join(path_part(&resource.name))
    }

    fn journal(&self, resource: &ResourceRef) -> io::Result<Arc<Journal>> {
        let mut journals = self.lock();
        if let Some(journal) = journals.get(resource) {
            return Ok(journal.clone());
        }
        let journal = Journal::open(self.path(resource), self.config.bound, self.flusher.clone())?;
        journals.insert(resource.clone(), journal.clone());
        Ok(journal)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<ResourceRef, Arc<Journal>>> {
        self.journals.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Drop for LogStore {
    fn drop(&mut self) {
        self.flush();
    }
}

/// One path component from a name: Kubernetes names are already safe; anything else
/// (slashes, a leading dot, empty) is percent-encoded so it stays one component.
fn path_part(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for (i, c) in name.chars().enumerate() {
        let safe = c.is_ascii_alphanumeric() || c == '-' || c == '_' || (c == '.' && i > 0);
        if safe {
            out.push(c);
        } else {
            let mut utf8 = [0u8; 4];
            for b in c.encode_utf8(&mut utf8).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        }
    }
    if out.is_empty() {
        out.push_str("%00");
    }
    out
}

/// Appends one replica's lines from one source to a resource's log. Cheap to clone;
/// never blocks on readers.
#[derive(Clone)]
pub struct LogWriter {
    journal: Arc<Journal>,
    replica: u32,
    source: Source,
}

impl LogWriter {
    /// Stores one line (invalid UTF-8 replaced, trailing `\r\n` dropped, lines longer
    /// than [`MAX_LINE`] split).
    pub fn line(&self, bytes: &[u8]) {
        self.journal.append(self.source, self.replica, bytes);
    }

    pub fn source(&self) -> Source {
        self.source
    }

    pub fn replica(&self) -> u32 {
        self.replica
    }
}

#[cfg(test)]
mod tests;
