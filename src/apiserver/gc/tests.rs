//! Collection passes over a real store (on a temporary directory), checked against what
//! Kubernetes' garbage collector does with the three propagation policies.

use std::sync::Arc;

use serde_json::{Value, json};

use super::*;
use crate::apiserver::resource::StorageId;

const EXECUTABLES: &str = "kaspire.dev/executables";

fn key(name: &str) -> ObjectKey {
    ObjectKey::new(&StorageId(EXECUTABLES.into()), "default", name)
}

/// A store holding namespace `default` and nothing else.
async fn store() -> (Arc<Store>, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let store = Store::open(&tmp.path().join("store.redb")).unwrap();
    let namespace = ObjectKey::new(&StorageId(NAMESPACES_STORAGE.into()), "", "default");
    put(
        &store,
        &namespace,
        json!({"metadata": {"name": "default", "uid": "ns-default"}}),
    )
    .await;
    (store, tmp)
}

async fn put(store: &Store, key: &ObjectKey, object: Value) {
    store
        .write(key, false, |_, _| Ok(Decision::Put(object)))
        .await
        .unwrap();
}

/// Executable `name` (uid `name`) owned by `owners` as `(uid, blockOwnerDeletion)`.
async fn object(store: &Store, name: &str, owners: &[(&str, bool)], extra: Value) {
    let refs: Vec<Value> = owners
        .iter()
        .map(|(uid, block)| {
            json!({"apiVersion": "kaspire.dev/v1alpha1", "kind": "Executable", "name": uid,
                   "uid": uid, "blockOwnerDeletion": block})
        })
        .collect();
    let mut meta = json!({"name": name, "namespace": "default", "uid": name});
    if !refs.is_empty() {
        meta["ownerReferences"] = json!(refs);
    }
    for (k, v) in extra.as_object().into_iter().flatten() {
        meta[k] = v.clone();
    }
    put(store, &key(name), json!({"metadata": meta})).await;
}

fn deleting_with(finalizers: &[&str]) -> Value {
    json!({"deletionTimestamp": "2026-01-01T00:00:00Z", "finalizers": finalizers})
}

fn owner_uids_of(store: &Store, name: &str) -> Vec<String> {
    object_meta::owner_uids(&store.get(&key(name)).unwrap())
}

#[tokio::test]
async fn foreground_deletes_dependents_and_releases_the_owner_once_they_are_gone() {
    let (store, _tmp) = store().await;
    object(&store, "owner", &[], deleting_with(&[FOREGROUND_FINALIZER])).await;
    object(&store, "child", &[("owner", true)], json!({})).await;
    // Its processes finalizer keeps it a while, as kaspire's controllers do.
    object(
        &store,
        "slow",
        &[("owner", true)],
        json!({"finalizers": ["kaspire.dev/processes"]}),
    )
    .await;
    pass(&store).await;
    assert!(store.get(&key("child")).is_none(), "dependent deleted");
    let slow = store.get(&key("slow")).unwrap();
    assert!(object_meta::is_deleting(&slow));
    pass(&store).await;
    assert!(
        store.get(&key("owner")).is_some(),
        "the owner stays while a blocking dependent exists"
    );
    put(
        &store,
        &key("slow"),
        json!({"metadata": {"name": "slow", "namespace": "default", "uid": "slow"}}),
    )
    .await;
    store
        .write(&key("slow"), false, |_, _| Ok(Decision::Delete))
        .await
        .unwrap();
    pass(&store).await;
    assert!(store.get(&key("owner")).is_none(), "owner released");
}

#[tokio::test]
async fn foreground_spares_a_dependent_with_another_live_owner() {
    let (store, _tmp) = store().await;
    object(&store, "other", &[], json!({})).await;
    object(&store, "owner", &[], deleting_with(&[FOREGROUND_FINALIZER])).await;
    object(
        &store,
        "shared",
        &[("owner", true), ("other", true)],
        json!({}),
    )
    .await;
    pass(&store).await;
    assert_eq!(owner_uids_of(&store, "shared"), ["other"]);
    pass(&store).await;
    assert!(store.get(&key("owner")).is_none());
    assert!(store.get(&key("shared")).is_some());
}

#[tokio::test]
async fn only_blocking_dependents_hold_a_foreground_owner() {
    let (store, _tmp) = store().await;
    object(&store, "owner", &[], deleting_with(&[FOREGROUND_FINALIZER])).await;
    object(
        &store,
        "loose",
        &[("owner", false)],
        json!({"finalizers": ["test/hold"]}),
    )
    .await;
    pass(&store).await;
    pass(&store).await;
    assert!(store.get(&key("owner")).is_none());
    assert!(object_meta::is_deleting(&store.get(&key("loose")).unwrap()));
}

#[tokio::test]
async fn orphan_releases_dependents_and_background_deletes_them() {
    let (store, _tmp) = store().await;
    object(&store, "owner", &[], deleting_with(&[ORPHAN_FINALIZER])).await;
    object(&store, "kept", &[("owner", true)], json!({})).await;
    pass(&store).await;
    assert!(store.get(&key("owner")).is_none());
    assert!(owner_uids_of(&store, "kept").is_empty());

    object(
        &store,
        "gone-owner-child",
        &[("never-existed", true)],
        json!({}),
    )
    .await;
    pass(&store).await;
    assert!(store.get(&key("gone-owner-child")).is_none());
}
