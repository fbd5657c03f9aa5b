//! The object store: an in-memory index of every object (reads never touch disk),
//! one global revision counter, and a durable log (see [`super::persist`]).
//!
//! Writes go through [`Store::write`]: a closure sees the current object and decides
//! the new one while the store is locked, so read-check-write (resourceVersion
//! preconditions, patches, finalizer logic) is atomic without retries.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, RwLock};

use serde_json::Value;
use tokio::sync::{broadcast, mpsc, oneshot};

use super::error::{ApiError, ApiResult};
use super::persist::{self, PendingWrite};
use super::resource::StorageId;
use super::watch_hub::{Change, ChangeType, Resumed, TooOld, WatchHub};

/// Where an object lives: its storage bucket, namespace (`""` when cluster-scoped) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey {
    pub storage: StorageId,
    pub namespace: String,
    pub name: String,
}

impl ObjectKey {
    pub fn new(storage: &StorageId, namespace: &str, name: &str) -> Self {
        ObjectKey {
            storage: storage.clone(),
            namespace: namespace.to_string(),
            name: name.to_string(),
        }
    }

    /// The on-disk key: the three parts joined by NUL (which no part can contain).
    pub fn encode(&self) -> Vec<u8> {
        format!("{}\0{}\0{}", self.storage.0, self.namespace, self.name).into_bytes()
    }

    pub fn decode(bytes: &[u8]) -> Option<Self> {
        let text = std::str::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '\0');
        Some(ObjectKey {
            storage: StorageId(parts.next()?.to_string()),
            namespace: parts.next()?.to_string(),
            name: parts.next()?.to_string(),
        })
    }
}

/// What a write closure decided.
pub enum Decision {
    /// Store this object (create or replace). Its resourceVersion is set by the store.
    Put(Value),
    /// Remove the object.
    Delete,
    /// Nothing to change: the current object is returned as is.
    Keep,
}

/// The outcome of a write.
pub struct Written {
    /// The object as stored (or as deleted, for deletions); `None` when nothing existed.
    pub object: Option<Arc<Value>>,
    pub change: Option<ChangeType>,
}

/// Read access to every object while a write holds the lock, so admission checks that
/// look at other objects (dependency cycles, parents) are atomic with the write.
pub struct StoreView<'a> {
    objects: &'a BTreeMap<ObjectKey, Arc<Value>>,
}

impl StoreView<'_> {
    pub fn get(&self, key: &ObjectKey) -> Option<&Arc<Value>> {
        self.objects.get(key)
    }

    /// Objects of one bucket in one namespace.
    pub fn list<'s>(
        &'s self,
        storage: &'s StorageId,
        namespace: &'s str,
    ) -> impl Iterator<Item = &'s Arc<Value>> + 's {
        self.objects
            .range(ObjectKey::new(storage, namespace, "")..)
            .take_while(move |(k, _)| &k.storage == storage && k.namespace == namespace)
            .map(|(_, v)| v)
    }
}

struct State {
    objects: BTreeMap<ObjectKey, Arc<Value>>,
    revision: u64,
}

/// The store shared by every handler, the garbage collector and in-process clients.
pub struct Store {
    state: RwLock<State>,
    committer: mpsc::UnboundedSender<PendingWrite>,
    hub: Arc<WatchHub>,
}

impl Store {
    /// Opens the durable store at `path`, loading every object into memory.
    pub fn open(path: &Path) -> anyhow::Result<Arc<Store>> {
        let (db, loaded) = persist::open(path)?;
        let hub = Arc::new(WatchHub::new(loaded.revision));
        let committer = persist::spawn_committer(db, hub.clone());
        let objects = loaded
            .objects
            .into_iter()
            .map(|(k, v)| (k, Arc::new(v)))
            .collect();
        Ok(Arc::new(Store {
            state: RwLock::new(State {
                objects,
                revision: loaded.revision,
            }),
            committer,
            hub,
        }))
    }

    /// The latest revision handed out (the resourceVersion of lists).
    pub fn revision(&self) -> u64 {
        self.state.read().expect("store poisoned").revision
    }

    pub fn get(&self, key: &ObjectKey) -> Option<Arc<Value>> {
        self.state
            .read()
            .expect("store poisoned")
            .objects
            .get(key)
            .cloned()
    }

    /// Every object of one storage bucket (optionally one namespace), in key order,
    /// starting after `after` (for paginated lists), with the revision of the snapshot.
    pub fn list(
        &self,
        storage: &StorageId,
        namespace: Option<&str>,
        after: Option<&ObjectKey>,
    ) -> (Vec<Arc<Value>>, u64) {
        let state = self.state.read().expect("store poisoned");
        let start = match (after, namespace) {
            (Some(after), _) => Bound::Excluded(after.clone()),
            (None, Some(ns)) => Bound::Included(ObjectKey::new(storage, ns, "")),
            (None, None) => Bound::Included(ObjectKey::new(storage, "", "")),
        };
        let objects = state
            .objects
            .range((start, Bound::Unbounded))
            .take_while(|(k, _)| {
                &k.storage == storage && namespace.is_none_or(|ns| k.namespace == ns)
            })
            .map(|(_, v)| v.clone())
            .collect();
        (objects, state.revision)
    }

    /// Every object in every bucket, for the garbage collector's full scans.
    pub fn all(&self) -> Vec<(ObjectKey, Arc<Value>)> {
        let state = self.state.read().expect("store poisoned");
        state
            .objects
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Change>> {
        self.hub.subscribe()
    }

    pub fn subscribe_from(&self, revision: u64) -> Result<Resumed, TooOld> {
        self.hub.subscribe_from(revision)
    }

    /// Waits until every write up to `revision` is durable. Reads call it before
    /// answering so that no client sees state a crash could take back.
    pub async fn wait_durable(&self, revision: u64) {
        self.hub.wait_durable(revision).await
    }

    pub fn compacted_revision(&self) -> u64 {
        self.hub.compacted_revision()
    }

    /// Reads the current object, lets `decide` choose the new state under the store
    /// lock, and — unless `dry_run` — commits it durably before returning.
    pub async fn write(
        &self,
        key: &ObjectKey,
        dry_run: bool,
        decide: impl FnOnce(Option<&Arc<Value>>, &StoreView<'_>) -> ApiResult<Decision>,
    ) -> ApiResult<Written> {
        let (written, pending) = {
            let mut state = self.state.write().expect("store poisoned");
            let current = state.objects.get(key).cloned();
            let decision = decide(
                current.as_ref(),
                &StoreView {
                    objects: &state.objects,
                },
            )?;
            let kind = match (&decision, &current) {
                (Decision::Keep, _) | (Decision::Delete, None) => {
                    return Ok(Written {
                        object: current,
                        change: None,
                    });
                }
                (Decision::Put(_), None) => ChangeType::Added,
                (Decision::Put(_), Some(_)) => ChangeType::Modified,
                (Decision::Delete, Some(_)) => ChangeType::Deleted,
            };
            let revision = state.revision + 1;
            let (object, bytes) = match decision {
                Decision::Put(mut object) => {
                    object["metadata"]["resourceVersion"] = Value::String(revision.to_string());
                    let bytes = serde_json::to_vec(&object)
                        .map_err(|e| ApiError::internal(e.to_string()))?;
                    (Arc::new(object), Some(bytes))
                }
                _ => {
                    // A deleted object is reported with the deletion's revision, as Kubernetes does.
                    let mut last = current.as_deref().cloned().unwrap_or(Value::Null);
                    last["metadata"]["resourceVersion"] = Value::String(revision.to_string());
                    (Arc::new(last), None)
                }
            };
            if dry_run {
                return Ok(Written {
                    object: Some(object),
                    change: Some(kind),
                });
            }
            state.revision = revision;
            match kind {
                ChangeType::Deleted => state.objects.remove(key),
                _ => state.objects.insert(key.clone(), object.clone()),
            };
            let change = Arc::new(Change {
                kind,
                revision,
                key: key.clone(),
                object: object.clone(),
                previous: current,
                rendered: Default::default(),
            });
            let (done, durable) = oneshot::channel();
            // Sent under the lock so the committer sees writes in revision order.
            self.committer
                .send(PendingWrite {
                    change,
                    bytes,
                    done,
                })
                .map_err(|_| ApiError::internal("the store is shutting down"))?;
            (
                Written {
                    object: Some(object),
                    change: Some(kind),
                },
                durable,
            )
        };
        match pending.await {
            Ok(Ok(())) => Ok(written),
            Ok(Err(e)) => Err(ApiError::internal(e)),
            Err(_) => Err(ApiError::internal("the store is shutting down")),
        }
    }
}
