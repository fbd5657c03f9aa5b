//! The garbage collector (the part of kube-controller-manager a local server needs):
//! deletes dependents whose owners are gone (Background), deletes the dependents of an
//! owner deleted in the Foreground and releases it once the blocking ones are gone,
//! releases the dependents of an Orphan deletion, and empties deleted namespaces. Level-triggered: each pass reads the whole store,
//! so it is correct after a crash; passes are triggered by relevant changes.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::broadcast::error::{RecvError, TryRecvError};

use super::builtin::NAMESPACES_STORAGE;
use super::handlers::delete::{
    self, DeleteOptions, FOREGROUND_FINALIZER, ORPHAN_FINALIZER, Propagation,
};
use super::object_meta;
use super::server::ApiServer;
use super::store::{Decision, ObjectKey, Store};
use super::watch_hub::{Change, ChangeType};

/// Changes arriving within this window share one pass.
const DEBOUNCE: Duration = Duration::from_millis(5);

/// Runs the collector until shutdown.
pub fn spawn(server: Arc<ApiServer>) {
    tokio::spawn(async move {
        let mut changes = server.store.subscribe();
        let mut shutdown = server.shutdown.clone();
        pass(&server.store).await;
        loop {
            let triggered = tokio::select! {
                _ = shutdown.changed() => return,
                received = changes.recv() => match received {
                    Ok(change) => is_relevant(&change),
                    Err(RecvError::Lagged(_)) => true,
                    Err(RecvError::Closed) => return,
                },
            };
            if !triggered {
                continue;
            }
            tokio::time::sleep(DEBOUNCE).await;
            // Everything queued meanwhile is covered by the pass below.
            while !changes.is_empty() {
                if let Err(TryRecvError::Closed) = changes.try_recv() {
                    return;
                }
            }
            pass(&server.store).await;
        }
    });
}

fn is_relevant(change: &Change) -> bool {
    change.kind == ChangeType::Deleted
        || object_meta::is_deleting(&change.object)
        || !object_meta::owner_refs(&change.object).is_empty()
}

/// One full collection pass.
pub async fn pass(store: &Store) {
    let all = store.all();
    let by_uid: HashMap<&str, &Value> = all
        .iter()
        .map(|(_, o)| (object_meta::uid(o), o.as_ref()))
        .collect();
    let namespaces: HashSet<&str> = all
        .iter()
        .filter(|(k, _)| k.storage.0 == NAMESPACES_STORAGE)
        .map(|(k, _)| k.name.as_str())
        .collect();
    let mut dependents: HashMap<String, Vec<(&ObjectKey, &Value)>> = HashMap::new();
    for (key, object) in &all {
        for owner in object_meta::owner_uids(object) {
            dependents.entry(owner).or_default().push((key, object));
        }
    }

    for (key, object) in &all {
        let owners = object_meta::owner_uids(object);
        let live_owners = owners
            .iter()
            .filter(|uid| by_uid.contains_key(uid.as_str()))
            .count();
        let namespace_gone =
            !key.namespace.is_empty() && !namespaces.contains(key.namespace.as_str());
        if (!owners.is_empty() && live_owners == 0) || namespace_gone {
            if !object_meta::is_deleting(object) {
                remove(store, key, Propagation::Background).await;
            }
        } else if live_owners < owners.len() {
            drop_owner_refs(store, key, |uid| !by_uid.contains_key(uid)).await;
        }
    }

    for (key, object) in all.iter().filter(|(_, o)| object_meta::is_deleting(o)) {
        let finalizers = object_meta::finalizers(object);
        let owner = object_meta::uid(object);
        let deps = dependents.get(owner).cloned().unwrap_or_default();
        if finalizers.iter().any(|f| f == ORPHAN_FINALIZER) {
            for (dep, _) in &deps {
                drop_owner_refs(store, dep, |uid| uid == owner).await;
            }
            remove_finalizer(store, key, ORPHAN_FINALIZER).await;
        } else if finalizers.iter().any(|f| f == FOREGROUND_FINALIZER) {
            // As Kubernetes does: only dependents whose reference says blockOwnerDeletion
            // hold the owner; every dependent is deleted, unless another owner that is
            // not itself going keeps it (then it is only released from this one).
            if !deps.iter().any(|(_, dep)| blocks(dep, owner)) {
                remove_finalizer(store, key, FOREGROUND_FINALIZER).await;
            }
            for (dep_key, dep) in deps {
                if has_solid_owner(dep, owner, &by_uid) {
                    drop_owner_refs(store, dep_key, |uid| uid == owner).await;
                } else if !object_meta::is_deleting(dep) {
                    // A dependent with dependents of its own waits for them in turn.
                    let propagation = if dependents.contains_key(object_meta::uid(dep)) {
                        Propagation::Foreground
                    } else {
                        Propagation::Background
                    };
                    remove(store, dep_key, propagation).await;
                }
            }
        }
    }
}

/// Whether `dependent`'s reference to `owner` has `blockOwnerDeletion: true`.
fn blocks(dependent: &Value, owner: &str) -> bool {
    object_meta::owner_refs(dependent).iter().any(|r| {
        r.get("uid").and_then(Value::as_str) == Some(owner)
            && r.get("blockOwnerDeletion").and_then(Value::as_bool) == Some(true)
    })
}

/// Whether `dependent` has an owner besides `except` that exists and is not being
/// deleted in the foreground (Kubernetes' "solid" owner).
fn has_solid_owner(dependent: &Value, except: &str, by_uid: &HashMap<&str, &Value>) -> bool {
    object_meta::owner_uids(dependent)
        .iter()
        .filter(|uid| uid.as_str() != except)
        .filter_map(|uid| by_uid.get(uid.as_str()))
        .any(|owner| {
            !object_meta::finalizers(owner)
                .iter()
                .any(|f| f == FOREGROUND_FINALIZER)
        })
}

async fn remove(store: &Store, key: &ObjectKey, propagation: Propagation) {
    let options = DeleteOptions {
        propagation,
        ..DeleteOptions::background()
    };
    match delete::delete_object(store, ("", &key.storage.0), key, &options).await {
        Ok(_) => tracing::debug!(object = %key.name, "garbage collected"),
        Err(e) if e.code == 404 => {}
        Err(e) => tracing::warn!(object = %key.name, error = %e, "garbage collection failed"),
    }
}

async fn drop_owner_refs(store: &Store, key: &ObjectKey, drop: impl Fn(&str) -> bool) {
    let result = store
        .write(key, false, |current, _| {
            let Some(current) = current else {
                return Ok(Decision::Keep);
            };
            let refs = object_meta::owner_refs(current);
            let kept: Vec<Value> = refs
                .iter()
                .filter(|r| !drop(r.get("uid").and_then(Value::as_str).unwrap_or("")))
                .cloned()
                .collect();
            if kept.len() == refs.len() {
                return Ok(Decision::Keep);
            }
            let mut object = (**current).clone();
            let meta = object_meta::meta_mut(&mut object);
            if kept.is_empty() {
                meta.remove("ownerReferences");
            } else {
                meta.insert("ownerReferences".into(), json!(kept));
            }
            Ok(Decision::Put(object))
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(object = %key.name, error = %e, "could not release a dependent");
    }
}

async fn remove_finalizer(store: &Store, key: &ObjectKey, finalizer: &str) {
    let result = store
        .write(key, false, |current, _| {
            let Some(current) = current else {
                return Ok(Decision::Keep);
            };
            let finalizers: Vec<String> = object_meta::finalizers(current)
                .into_iter()
                .filter(|f| f != finalizer)
                .collect();
            if finalizers.is_empty() && object_meta::is_deleting(current) {
                return Ok(Decision::Delete);
            }
            let mut object = (**current).clone();
            object_meta::set_finalizers(&mut object, &finalizers);
            Ok(Decision::Put(object))
        })
        .await;
    if let Err(e) = result {
        tracing::warn!(object = %key.name, error = %e, "could not remove a finalizer");
    }
}

#[cfg(test)]
mod tests;
