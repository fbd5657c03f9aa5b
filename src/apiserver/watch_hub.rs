//! Watch fan-out: every committed change becomes one [`Change`], kept in a bounded
//! history (so watches can resume from a resourceVersion) and broadcast to live
//! watchers. Watchers that fall too far behind are cut off and re-list, like the
//! real API server's watch cache.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::broadcast;

use super::store::ObjectKey;

/// How much history is kept for resuming watches and continuing paged lists. Each
/// change holds a whole object (and its rendered watch line), so history is bounded by
/// age as well as by count: a long session that keeps rewriting statuses would
/// otherwise hold 100k full objects. Five minutes is etcd's default compaction interval;
/// a client asking for anything older gets 410 Gone and re-lists, as against Kubernetes.
#[derive(Debug, Clone, Copy)]
pub struct HistoryBounds {
    /// Never more changes than this.
    pub max_len: usize,
    /// Changes older than this are dropped…
    pub max_age: Duration,
    /// …except the newest `min_len`, however old.
    pub min_len: usize,
}

impl Default for HistoryBounds {
    fn default() -> Self {
        HistoryBounds {
            max_len: 100_000,
            max_age: Duration::from_secs(300),
            min_len: 1_000,
        }
    }
}
/// How many undelivered changes one watcher may lag before it is cut off.
const BROADCAST_CAPACITY: usize = 16_384;

/// The kind of a change, as in a watch event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One committed change to one object.
#[derive(Debug)]
pub struct Change {
    pub kind: ChangeType,
    pub revision: u64,
    pub key: ObjectKey,
    /// The object after the change (for deletions: the last state, with the deletion's revision).
    pub object: Arc<Value>,
    /// The object before the change, so selector-filtered watches can tell an object
    /// leaving their selection (sent as DELETED) from one they never saw.
    pub previous: Option<Arc<Value>>,
    /// Watch event lines already rendered for this change, by event type and served
    /// apiVersion: watchers of one type without Table output all send the same bytes,
    /// so a change is cloned and serialized once, not once per watcher.
    pub rendered: Mutex<Vec<(&'static str, String, Bytes)>>,
}

impl Change {
    /// The cached line for (`event`, `api_version`), rendered by `render` on first use.
    pub fn rendered_line(
        &self,
        event: &'static str,
        api_version: &str,
        render: impl FnOnce() -> Bytes,
    ) -> Bytes {
        let mut cache = self.rendered.lock().expect("rendered lines poisoned");
        if let Some((_, _, line)) = cache
            .iter()
            .find(|(e, v, _)| *e == event && v == api_version)
        {
            return line.clone();
        }
        let line = render();
        cache.push((event, api_version.to_string(), line.clone()));
        line
    }
}

/// The already-published changes after a revision, and a receiver for the rest.
pub type Resumed = (Vec<Arc<Change>>, broadcast::Receiver<Arc<Change>>);

/// A watch that cannot be served from history because it starts too far back.
#[derive(Debug)]
pub struct TooOld {
    pub oldest: u64,
}

struct History {
    /// Each change with the moment it was published.
    changes: VecDeque<(Instant, Arc<Change>)>,
    /// History holds every change with a revision greater than this.
    compacted: u64,
}

/// The broadcast point between the store's committer and all watchers.
pub struct WatchHub {
    history: Mutex<History>,
    bounds: HistoryBounds,
    sender: broadcast::Sender<Arc<Change>>,
    /// The highest revision on disk: reads wait for it before answering, so no client
    /// ever sees a revision a crash could take back.
    durable: tokio::sync::watch::Sender<u64>,
}

impl WatchHub {
    /// A hub whose history starts after `revision` (the store's revision at startup).
    pub fn new(revision: u64) -> Self {
        Self::with_bounds(revision, HistoryBounds::default())
    }

    /// A hub keeping history within `bounds`.
    pub fn with_bounds(revision: u64, bounds: HistoryBounds) -> Self {
        let (sender, _) = broadcast::channel(BROADCAST_CAPACITY);
        let (durable, _) = tokio::sync::watch::channel(revision);
        WatchHub {
            history: Mutex::new(History {
                changes: VecDeque::new(),
                compacted: revision,
            }),
            bounds,
            sender,
            durable,
        }
    }

    /// Records and broadcasts committed changes, in revision order.
    pub fn publish(&self, changes: impl IntoIterator<Item = Arc<Change>>) {
        let mut history = self.history.lock().expect("watch history poisoned");
        let now = Instant::now();
        let mut last = None;
        for change in changes {
            last = Some(change.revision);
            history.changes.push_back((now, change.clone()));
            // No receivers is normal (nobody watching); not an error.
            let _ = self.sender.send(change);
        }
        if let Some(last) = last {
            self.durable.send_replace(last);
        }
        let bounds = self.bounds;
        while let Some((published, oldest)) = history.changes.front() {
            let len = history.changes.len();
            let expired = len > bounds.min_len && now.duration_since(*published) > bounds.max_age;
            if len <= bounds.max_len && !expired {
                break;
            }
            history.compacted = oldest.revision;
            history.changes.pop_front();
        }
    }

    /// Subscribes to future changes without history (the caller lists current state
    /// after subscribing and drops changes at or below the listed revision).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.sender.subscribe()
    }

    /// The changes after `revision` that are already published, plus a receiver for the
    /// rest, with no gap between the two.
    pub fn subscribe_from(&self, revision: u64) -> Result<Resumed, TooOld> {
        let history = self.history.lock().expect("watch history poisoned");
        if revision < history.compacted {
            return Err(TooOld {
                oldest: history.compacted,
            });
        }
        let start = history
            .changes
            .partition_point(|(_, c)| c.revision <= revision);
        let backlog = history
            .changes
            .range(start..)
            .map(|(_, c)| c.clone())
            .collect();
        Ok((backlog, self.sender.subscribe()))
    }

    /// Waits until every change up to `revision` is on disk.
    pub async fn wait_durable(&self, revision: u64) {
        let mut durable = self.durable.subscribe();
        // The sender lives as long as the hub, so this only ends when the revision is reached.
        let _ = durable.wait_for(|d| *d >= revision).await;
    }

    /// The revision before which watches and continue tokens can no longer be served.
    pub fn compacted_revision(&self) -> u64 {
        self.history
            .lock()
            .expect("watch history poisoned")
            .compacted
    }
}

#[cfg(test)]
mod tests;
