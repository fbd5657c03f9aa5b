//! Durability: a redb database in the state dir holding every object and the global
//! revision. One committer thread takes queued writes in batches and commits each
//! batch in one fsynced transaction (group commit), so durability costs one fsync per
//! batch rather than per write. Changes are published to watchers and acknowledged to
//! writers only after their batch is on disk.

use std::path::Path;
use std::sync::Arc;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use tokio::sync::{mpsc, oneshot};

use super::store::ObjectKey;
use super::watch_hub::{Change, WatchHub};

const OBJECTS: TableDefinition<&[u8], &[u8]> = TableDefinition::new("objects");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
const REVISION: &str = "revision";
/// Upper bound of writes per transaction: bounds the latency of the first write in a batch.
const MAX_BATCH: usize = 2048;

/// One write waiting to be made durable.
pub struct PendingWrite {
    pub change: Arc<Change>,
    /// The serialized object to store, or `None` to delete the key.
    pub bytes: Option<Vec<u8>>,
    pub done: oneshot::Sender<Result<(), String>>,
}

/// What the store loaded at startup.
pub struct Loaded {
    pub objects: Vec<(ObjectKey, serde_json::Value)>,
    pub revision: u64,
}

/// Opens (or creates) the database and reads every object into memory.
pub fn open(path: &Path) -> anyhow::Result<(Database, Loaded)> {
    let db = Database::builder().create(path).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the store {}: {e} (is another kaspire using this state dir?)",
            path.display()
        )
    })?;
    let txn = db.begin_write()?;
    txn.open_table(OBJECTS)?;
    txn.open_table(META)?;
    txn.commit()?;

    let read = db.begin_read()?;
    let revision = read
        .open_table(META)?
        .get(REVISION)?
        .map(|v| v.value())
        .unwrap_or(0);
    let table = read.open_table(OBJECTS)?;
    let mut objects = Vec::new();
    for entry in table.iter()? {
        let (key, value) = entry?;
        let key = ObjectKey::decode(key.value())
            .ok_or_else(|| anyhow::anyhow!("corrupt key in the store {}", path.display()))?;
        let object = serde_json::from_slice(value.value())?;
        objects.push((key, object));
    }
    drop(table);
    drop(read);
    Ok((db, Loaded { objects, revision }))
}

/// Runs the committer on its own thread until every sender is dropped.
pub fn spawn_committer(db: Database, hub: Arc<WatchHub>) -> mpsc::UnboundedSender<PendingWrite> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::Builder::new()
        .name("kaspire-store-commit".into())
        .spawn(move || commit_loop(db, rx, hub))
        .expect("spawn store committer thread");
    tx
}

fn commit_loop(db: Database, mut rx: mpsc::UnboundedReceiver<PendingWrite>, hub: Arc<WatchHub>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(write) => batch.push(write),
                Err(_) => break,
            }
        }
        if let Err(e) = commit_batch(&db, &batch) {
            // Memory is now ahead of disk: serving on would show clients state that a
            // restart takes back. Crash instead; the next start loads what is on disk.
            eprintln!(
                "kaspire: fatal: the store could not write to disk: {e}; exiting so that no unsaved change is served"
            );
            std::process::exit(70);
        }
        hub.publish(batch.iter().map(|w| w.change.clone()));
        for write in batch.drain(..) {
            let _ = write.done.send(Ok(()));
        }
    }
}

fn commit_batch(db: &Database, batch: &[PendingWrite]) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    {
        let mut objects = txn.open_table(OBJECTS)?;
        for write in batch {
            let key = write.change.key.encode();
            match &write.bytes {
                Some(bytes) => {
                    objects.insert(key.as_slice(), bytes.as_slice())?;
                }
                None => {
                    objects.remove(key.as_slice())?;
                }
            }
        }
        let last = batch.last().map(|w| w.change.revision).unwrap_or(0);
        txn.open_table(META)?.insert(REVISION, last)?;
    }
    txn.commit()?;
    Ok(())
}
