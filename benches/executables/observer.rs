//! An outside watcher of every Executable, as a client (kubectl, a dashboard) sees
//! them: one `watch` over HTTPS, recording the realtime moment each object was first
//! seen Ready, first seen started, and deleted. Status timestamps (`metav1.Time`)
//! have one-second precision, so this is where sub-second moments come from.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use futures::StreamExt;
use kaspire::api::conditions::{READY, is_true};
use kaspire::api::{Executable, ResourceState};
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::watch;

/// What the watcher saw of one object (keyed `namespace/name`).
#[derive(Debug, Clone, Default)]
pub struct Seen {
    /// First event with condition Ready=True.
    pub ready: Option<SystemTime>,
    /// First event with state Starting or Running.
    pub started: Option<SystemTime>,
    pub state: ResourceState,
    pub deleted: bool,
}

#[derive(Clone)]
pub struct Observer {
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    changes: watch::Receiver<u64>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

impl Observer {
    /// Starts watching every namespace; returns once the initial list is in.
    pub async fn start(client: kube::Client) -> anyhow::Result<Observer> {
        let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
        let (tx, changes) = watch::channel(0u64);
        let (synced_tx, synced) = tokio::sync::oneshot::channel();
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                let api: Api<Executable> = Api::all(client);
                let stream = watcher(api, watcher::Config::default()).default_backoff();
                futures::pin_mut!(stream);
                let mut synced_tx = Some(synced_tx);
                while let Some(event) = stream.next().await {
                    let at = SystemTime::now();
                    match event {
                        Ok(watcher::Event::Apply(exe) | watcher::Event::InitApply(exe)) => {
                            record(&seen, &exe, at, false)
                        }
                        Ok(watcher::Event::Delete(exe)) => record(&seen, &exe, at, true),
                        Ok(watcher::Event::InitDone) => {
                            if let Some(tx) = synced_tx.take() {
                                let _ = tx.send(());
                            }
                        }
                        Ok(watcher::Event::Init) => {}
                        Err(e) => eprintln!("observer watch error: {e}"),
                    }
                    tx.send_modify(|n| *n += 1);
                }
            })
        };
        tokio::time::timeout(Duration::from_secs(10), synced).await??;
        Ok(Observer {
            seen,
            changes,
            task: Arc::new(task),
        })
    }

    pub fn get(&self, key: &str) -> Option<Seen> {
        self.seen.lock().expect("poisoned").get(key).cloned()
    }

    /// Waits until `done` holds for what was seen; false on timeout.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        done: impl Fn(&HashMap<String, Seen>) -> bool,
    ) -> bool {
        let mut changes = self.changes.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if done(&self.seen.lock().expect("poisoned")) {
                return true;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return done(&self.seen.lock().expect("poisoned")),
            }
        }
    }

    /// Waits until every one of `keys` was seen Ready.
    pub async fn all_ready(&self, keys: &[String], timeout: Duration) -> bool {
        self.wait_until(timeout, |seen| {
            keys.iter()
                .all(|k| seen.get(k).is_some_and(|s| s.ready.is_some()))
        })
        .await
    }

    /// Waits until every one of `keys` was deleted.
    pub async fn all_deleted(&self, keys: &[String], timeout: Duration) -> bool {
        self.wait_until(timeout, |seen| {
            keys.iter().all(|k| seen.get(k).is_some_and(|s| s.deleted))
        })
        .await
    }

    /// Forgets what was seen of `keys` (their namespace is done with).
    pub fn forget(&self, keys: &[String]) {
        let mut seen = self.seen.lock().expect("poisoned");
        for k in keys {
            seen.remove(k);
        }
    }
}

fn record(seen: &Mutex<HashMap<String, Seen>>, exe: &Executable, at: SystemTime, deleted: bool) {
    let key = format!("{}/{}", exe.namespace().unwrap_or_default(), exe.name_any());
    let mut seen = seen.lock().expect("poisoned");
    let entry = seen.entry(key).or_default();
    if deleted {
        entry.deleted = true;
        return;
    }
    let Some(status) = &exe.status else { return };
    entry.state = status.state;
    if entry.started.is_none()
        && matches!(
            status.state,
            ResourceState::Starting | ResourceState::Running
        )
    {
        entry.started = Some(at);
    }
    if entry.ready.is_none() && is_true(&status.conditions, READY) {
        entry.ready = Some(at);
    }
}
