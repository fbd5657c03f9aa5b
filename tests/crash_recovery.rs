//! Durability across SIGKILL: every write the server acknowledged survives a crash
//! unchanged, and resourceVersions keep increasing after the restart.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::future::join_all;
use kaspire::api::{Executable, ExecutableSpec};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use support::Server;

const WRITERS: usize = 8;

fn executable(name: &str, writer: usize, step: usize) -> Executable {
    let spec = ExecutableSpec {
        command: format!("worker-{writer}"),
        ..Default::default()
    };
    let mut exe = Executable::new(name, spec);
    exe.spec.run.args = vec![format!("--step={step}")];
    exe.labels_mut().insert("writer".into(), writer.to_string());
    exe
}

fn rv_of(object: &Value) -> u64 {
    object["metadata"]["resourceVersion"]
        .as_str()
        .expect("resourceVersion")
        .parse()
        .expect("decimal resourceVersion")
}

/// Every stored Executable in `default`, by name, as JSON.
async fn stored(client: &Client) -> BTreeMap<String, Value> {
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let list = api
        .list(&ListParams::default())
        .await
        .expect("list after restart");
    list.items
        .into_iter()
        .map(|e| (e.name_any(), serde_json::to_value(e).unwrap()))
        .collect()
}

/// A new write after the restart, whose resourceVersion must exceed `highest`.
async fn assert_new_writes_are_newer(client: &Client, highest: u64) {
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let fresh = api
        .create(&PostParams::default(), &executable("after-restart", 0, 0))
        .await
        .unwrap();
    let rv = rv_of(&serde_json::to_value(&fresh).unwrap());
    assert!(
        rv > highest,
        "resourceVersion {rv} after the restart is not above {highest} seen before it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_acknowledged_write_survives_kill_9_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let server = Server::start_in(&dir);
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());

    // 8 concurrent writers, 25 objects each: create, then two updates of every third.
    let writers = (0..WRITERS).map(|w| {
        let api = api.clone();
        async move {
            let mut acknowledged = BTreeMap::new();
            for i in 0..25 {
                let name = format!("obj-{w}-{i:02}");
                let mut last = api
                    .create(&PostParams::default(), &executable(&name, w, 0))
                    .await
                    .unwrap();
                if i % 3 == 0 {
                    for step in 1..=2 {
                        let patch = json!({"spec": {"args": [format!("--step={step}")]}});
                        last = api
                            .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                            .await
                            .unwrap();
                    }
                }
                acknowledged.insert(name, serde_json::to_value(last).unwrap());
            }
            acknowledged
        }
    });
    let acknowledged: BTreeMap<String, Value> =
        join_all(writers).await.into_iter().flatten().collect();
    assert_eq!(acknowledged.len(), WRITERS * 25);
    let highest = acknowledged.values().map(rv_of).max().unwrap();

    server.kill9();
    let server = Server::start_in(&dir);
    let client = server.client().await;
    let after = stored(&client).await;
    assert_eq!(after.len(), acknowledged.len());
    for (name, object) in &acknowledged {
        let stored = after.get(name).expect("acknowledged object is gone");
        assert_eq!(
            written(stored),
            written(object),
            "{name} changed across the crash"
        );
        assert!(rv_of(stored) >= rv_of(object), "{name} went back in time");
    }
    assert_new_writes_are_newer(&client, highest).await;
}

/// What one writer knows about one object: its last acknowledged state, and whether a
/// later write to it was still in flight when the server died.
#[derive(Default)]
struct Ledger {
    acknowledged: BTreeMap<String, Value>,
    in_flight: BTreeMap<String, bool>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_acknowledged_before_a_kill_mid_burst_are_all_present() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let server = Server::start_in(&dir);
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let ledger = Arc::new(Mutex::new(Ledger::default()));
    let stop = Arc::new(AtomicBool::new(false));

    // Writers create and update objects as fast as they can until the server dies.
    let writers: Vec<_> = (0..WRITERS)
        .map(|w| {
            let api = api.clone();
            let ledger = ledger.clone();
            let stop = stop.clone();
            tokio::spawn(async move {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let name = format!("burst-{w}-{i:04}");
                    ledger.lock().unwrap().in_flight.insert(name.clone(), true);
                    let Ok(created) = api
                        .create(&PostParams::default(), &executable(&name, w, 0))
                        .await
                    else {
                        return;
                    };
                    record(&ledger, &name, &created, false);
                    ledger.lock().unwrap().in_flight.insert(name.clone(), true);
                    let patch = Patch::Merge(json!({"spec": {"args": ["--step=1"]}}));
                    let Ok(patched) = api.patch(&name, &PatchParams::default(), &patch).await
                    else {
                        return;
                    };
                    record(&ledger, &name, &patched, false);
                }
            })
        })
        .collect();

    // A reader lists all the while: what it saw must survive the crash too.
    let reader = {
        let api = api.clone();
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut seen: BTreeMap<String, u64> = BTreeMap::new();
            let mut highest = 0;
            while !stop.load(Ordering::SeqCst) {
                let Ok(list) = api.list(&ListParams::default()).await else {
                    break;
                };
                highest = highest.max(list.metadata.resource_version.unwrap().parse().unwrap());
                for item in list.items {
                    let rv = item.resource_version().unwrap().parse().unwrap();
                    seen.insert(item.name_any(), rv);
                }
            }
            (seen, highest)
        })
    };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ledger.lock().unwrap().acknowledged.len() < 150 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the writers made too little progress"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Kill while every task is mid-request; the flag keeps them off the restarted server.
    server.kill9();
    stop.store(true, Ordering::SeqCst);
    let server = Server::start_in(&dir);
    for writer in writers {
        tokio::time::timeout(Duration::from_secs(30), writer)
            .await
            .expect("a writer hung after the kill")
            .unwrap();
    }

    let (read, read_highest) = reader.await.unwrap();
    let ledger = std::mem::take(&mut *ledger.lock().unwrap());
    let highest = ledger
        .acknowledged
        .values()
        .map(rv_of)
        .max()
        .unwrap()
        .max(read_highest);
    let client = server.client().await;
    let after = stored(&client).await;
    for (name, object) in &ledger.acknowledged {
        let stored = after
            .get(name)
            .unwrap_or_else(|| panic!("{name} was acknowledged but is gone after the crash"));
        if ledger.in_flight[name] {
            // A write that was not acknowledged may or may not have landed.
            assert!(rv_of(stored) >= rv_of(object), "{name} went back in time");
        } else {
            assert_eq!(
                written(stored),
                written(object),
                "{name} changed across the crash"
            );
            assert!(rv_of(stored) >= rv_of(object), "{name} went back in time");
        }
    }
    for (name, rv) in &read {
        let stored = after.get(name).unwrap_or_else(|| {
            panic!("{name} (resourceVersion {rv}) was listed but is gone after the crash")
        });
        assert!(
            rv_of(stored) >= *rv,
            "{name} was listed at resourceVersion {rv} but is older after the crash"
        );
    }
    eprintln!(
        "{} objects acknowledged before the kill, {} stored after it",
        ledger.acknowledged.len(),
        after.len()
    );
    assert_new_writes_are_newer(
        &client,
        highest.max(after.values().map(rv_of).max().unwrap()),
    )
    .await;
}

fn record(ledger: &Mutex<Ledger>, name: &str, object: &Executable, in_flight: bool) {
    let mut ledger = ledger.lock().unwrap();
    ledger
        .acknowledged
        .insert(name.to_string(), serde_json::to_value(object).unwrap());
    ledger.in_flight.insert(name.to_string(), in_flight);
}

/// What the test wrote of an object: the Executable controller adds a finalizer and a
/// status of its own afterwards, which are not the writes under test.
fn written(object: &Value) -> Value {
    json!({
        "name": object["metadata"]["name"],
        "uid": object["metadata"]["uid"],
        "labels": object["metadata"]["labels"],
        "generation": object["metadata"]["generation"],
        "spec": object["spec"],
    })
}
