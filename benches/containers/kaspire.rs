//! The app under kaspire, written against the contract (product.md §2–§3): 20
//! `Container` objects of the test image, each with an exec readiness check
//! (`test -f /tmp/ready`, run inside the container) and `waitFor` its dependency.
//! Two ways, each timed to every object's `Ready=True`:
//!
//! - serve: the objects created with the `kube` crate on a running `kaspire serve`,
//!   timed from the first create to the last Ready seen by an outside watch;
//! - up: `kaspire up --detach --wait -f app.yaml` on a fresh state dir, timed from its
//!   exec to its exit (it includes the control plane's own start), then `kaspire down`.
//!
//! Objects are handled as plain JSON (`DynamicObject`), the YAML a user writes, so this
//! does not depend on the Rust types. Every container gets `containerName`
//! `<token>-…`, so whatever a run leaves in Docker is found by name and removed.

use std::collections::HashMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::graph::{READY_CHECK, SCRIPT, Shape, service};

pub fn containers() -> ApiResource {
    ApiResource {
        group: "kaspire.dev".into(),
        version: "v1alpha1".into(),
        api_version: "kaspire.dev/v1alpha1".into(),
        kind: "Container".into(),
        plural: "containers".into(),
    }
}

/// Container `name` as a user writes it: `/bin/sh -c SCRIPT`, the exec readiness check,
/// `waitFor` its dependency, and a `containerName` starting with `prefix`.
pub fn container(name: &str, image: &str, waits_for: Option<&str>, prefix: &str) -> Value {
    let mut spec = json!({
        "image": image,
        "pullPolicy": "Never",
        "containerName": format!("{prefix}-{name}"),
        "entrypoint": "/bin/sh",
        "args": ["-c", SCRIPT],
        "healthChecks": [{"exec": {"command": READY_CHECK}}],
    });
    if let Some(dep) = waits_for {
        spec["waitFor"] = json!([{"name": dep}]);
    }
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": "Container",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// The app of `shape`: one document per container.
pub fn app(shape: Shape, image: &str, prefix: &str) -> Vec<Value> {
    (0..crate::graph::count())
        .map(|i| {
            let dep = shape.waits_for(i).map(service);
            container(&service(i), image, dep.as_deref(), prefix)
        })
        .collect()
}

/// What an outside watch saw of one Container (keyed `namespace/name`).
#[derive(Clone, Debug, Default)]
pub struct Seen {
    pub ready: Option<Instant>,
    pub deleted: bool,
    /// `status.state` and `status.message`, for the note when nothing becomes Ready.
    pub last: String,
}

/// One watch over every Container, as kubectl or a dashboard would see them.
pub struct Observer {
    seen: Arc<Mutex<HashMap<String, Seen>>>,
    changes: watch::Receiver<u64>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Observer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Observer {
    pub fn start(client: kube::Client) -> Observer {
        let seen: Arc<Mutex<HashMap<String, Seen>>> = Arc::default();
        let (tx, changes) = watch::channel(0u64);
        let task = {
            let seen = seen.clone();
            tokio::spawn(async move {
                let api: Api<DynamicObject> = Api::all_with(client, &containers());
                let stream = watcher(api, watcher::Config::default()).default_backoff();
                futures::pin_mut!(stream);
                while let Some(event) = stream.next().await {
                    match event {
                        Ok(watcher::Event::Apply(o) | watcher::Event::InitApply(o)) => {
                            record(&seen, &o, false)
                        }
                        Ok(watcher::Event::Delete(o)) => record(&seen, &o, true),
                        Ok(_) => {}
                        Err(e) => eprintln!("  container watch: {e}"),
                    }
                    tx.send_modify(|n| *n += 1);
                }
            })
        };
        Observer {
            seen,
            changes,
            task,
        }
    }

    pub fn get(&self, key: &str) -> Option<Seen> {
        self.seen.lock().expect("poisoned").get(key).cloned()
    }

    /// Waits until `done` holds for every one of `keys`; the moment it did, or None.
    pub async fn wait_all(
        &self,
        keys: &[String],
        timeout: Duration,
        done: impl Fn(&Seen) -> bool,
    ) -> Option<Instant> {
        let mut changes = self.changes.clone();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            {
                let seen = self.seen.lock().expect("poisoned");
                if keys.iter().all(|k| seen.get(k).is_some_and(&done)) {
                    return Some(Instant::now());
                }
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                _ => return None,
            }
        }
    }
}

fn record(seen: &Mutex<HashMap<String, Seen>>, object: &DynamicObject, deleted: bool) {
    let key = format!(
        "{}/{}",
        object.metadata.namespace.as_deref().unwrap_or_default(),
        object.metadata.name.as_deref().unwrap_or_default()
    );
    let mut seen = seen.lock().expect("poisoned");
    let entry = seen.entry(key).or_default();
    if deleted {
        entry.deleted = true;
        return;
    }
    let status = &object.data["status"];
    entry.last = format!(
        "state {}, {}",
        status["state"].as_str().unwrap_or("(none)"),
        status["message"].as_str().unwrap_or("no message")
    );
    let ready = status["conditions"].as_array().is_some_and(|conditions| {
        conditions
            .iter()
            .any(|c| c["type"] == "Ready" && c["status"] == "True")
    });
    if ready && entry.ready.is_none() {
        entry.ready = Some(Instant::now());
    }
}

/// Creates `objects` in `namespace` all at once; the moment the first create was sent.
pub async fn create_all(
    client: &kube::Client,
    namespace: &str,
    objects: Vec<Value>,
) -> anyhow::Result<Instant> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &containers());
    let objects: Vec<DynamicObject> = objects
        .into_iter()
        .map(serde_json::from_value)
        .collect::<Result<_, _>>()?;
    let params = PostParams::default();
    let started = Instant::now();
    let creates = objects.iter().map(|o| api.create(&params, o));
    for result in futures::future::join_all(creates).await {
        result?;
    }
    Ok(started)
}

/// Deletes `names` in `namespace` (absent is fine).
pub async fn delete_all(
    client: &kube::Client,
    namespace: &str,
    names: &[String],
) -> anyhow::Result<()> {
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), namespace, &containers());
    let params = DeleteParams::default();
    let deletes = names.iter().map(|n| api.delete(n, &params));
    for result in futures::future::join_all(deletes).await {
        match result {
            Ok(_) => {}
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// `kaspire up --detach --wait -f app.yaml` on a fresh `state` dir: exec -> exit (ms).
/// `kaspire down` ends the session afterwards, also when `up` failed.
pub fn up(
    bin: &Path,
    state: &Path,
    app: &Path,
    run: &str,
    timeout: Duration,
) -> anyhow::Result<f64> {
    let kaspire = |args: &[&str]| {
        let mut cmd = Command::new(bin);
        cmd.arg("--state-dir")
            .arg(state)
            .args(args)
            .env("RUST_LOG", "warn")
            .env("KASPIRE_BENCH_RUN", run)
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        cmd
    };
    let started = Instant::now();
    let timeout_arg = timeout.as_secs().to_string();
    let out = kaspire(&["up", "--detach", "--wait", "--timeout", &timeout_arg, "-f"])
        .arg(app)
        .output()?;
    let took = crate::common::ms(started.elapsed());
    let down = kaspire(&["down", "--timeout", "120"]).output()?;
    anyhow::ensure!(
        out.status.success(),
        "kaspire up --wait failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    anyhow::ensure!(
        down.status.success(),
        "kaspire down failed ({}): {}",
        down.status,
        String::from_utf8_lossy(&down.stderr).trim()
    );
    Ok(took)
}
