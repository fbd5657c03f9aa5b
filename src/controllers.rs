//! The reconcilers: one module per kind, each a kube-runtime `Controller` that is a
//! plain client of the API server (in-process in embedded mode).
//!
//! - [`directory`]: reflector caches of every kaspire object; the source of truth for
//!   waits, and the trigger that wakes dependents after a dependency changed.
//! - [`waits`]: pure judgement of `waitFor`, parent and Parameter waits.
//! - [`workload`]: the lifecycle Executables and Containers share — waits, requests,
//!   restarts, health, ports and proxies, expressions, status.
//! - [`executable`]: replicas as processes — spawn, stop, adopt.
//! - [`container`]: replicas as Docker containers — create, start, stop, adopt.
//! - [`parameter`]: inputs and secrets — value, fromEnv, generated once, owned Secret.
//! - [`value`]: resources with no process — mirror the parent, run `onParentReady`.
//! - [`backoff`], [`status_patch`], [`context`]: shared pieces.

pub mod backoff;
pub mod container;
pub mod context;
pub mod directory;
pub mod executable;
pub mod parameter;
pub mod status_patch;
pub mod value;
pub mod waits;
pub mod workload;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc;

use crate::runtime::logs::LogStore;
use context::{Context, Leftover};
use directory::{Directory, OnChange};

/// Running controllers; dropping it does not stop them, [`Controllers::shutdown`] does.
pub struct Controllers {
    pub ctx: Arc<Context>,
    shutdown: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Controllers {
    /// Starts every controller against `client`, once the directory holds every object.
    pub async fn start(
        client: kube::Client,
        logs: Arc<LogStore>,
        instance: String,
        run_dir: PathBuf,
        leftovers: std::collections::HashMap<String, Vec<Leftover>>,
    ) -> Controllers {
        let (wake_executable, wake_rx) = mpsc::unbounded_channel();
        let (wake_container, wake_container_rx) = mpsc::unbounded_channel();
        let (wake_value, wake_value_rx) = mpsc::unbounded_channel();
        // The directory wakes dependents; it needs the directory itself to find them,
        // so it reads it through a cell filled right after.
        let cell: Arc<std::sync::OnceLock<Directory>> = Arc::default();
        let on_change: OnChange = {
            let cell = cell.clone();
            let wake = wake_executable.clone();
            let wake_ctr = wake_container.clone();
            let wake_value = wake_value.clone();
            Arc::new(move |namespace: &str, name: &str| {
                let Some(directory) = cell.get() else { return };
                for exe in directory.executables.state() {
                    if exe.metadata.namespace.as_deref() == Some(namespace)
                        && depends_on(&exe.spec.run, name)
                    {
                        let _ = wake.send(ObjectRef::from_obj(&*exe));
                    }
                }
                for ctr in directory.containers.state() {
                    if ctr.metadata.namespace.as_deref() == Some(namespace)
                        && depends_on(&ctr.spec.run, name)
                    {
                        let _ = wake_ctr.send(ObjectRef::from_obj(&*ctr));
                    }
                }
                for value in directory.values.state() {
                    if value.metadata.namespace.as_deref() == Some(namespace)
                        && value::depends_on(&value, name)
                    {
                        let _ = wake_value.send(ObjectRef::from_obj(&*value));
                    }
                }
            })
        };
        let (directory, feeders) = Directory::start(&client, on_change);
        let _ = cell.set(directory.clone());
        let mut tasks: Vec<_> = feeders.into_iter().map(tokio::spawn).collect();
        directory.synced().await;
        let ctx = Arc::new(Context {
            recorder: Context::recorder(&client),
            client,
            logs,
            directory,
            instance,
            run_dir,
            cwd: std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
            runs: Default::default(),
            containers: Default::default(),
            leftovers: Mutex::new(leftovers),
            wake_executable,
            wake_container,
            docker: Default::default(),
            host_bridges: Default::default(),
            reconciled: Default::default(),
        });
        let (shutdown, shutdown_rx) = tokio::sync::watch::channel(false);
        let stop = async move {
            let mut rx = shutdown_rx;
            let _ = rx.wait_for(|s| *s).await;
        };
        let stop = futures::future::FutureExt::shared(Box::pin(stop));
        tasks.push(tokio::spawn(workload::run::<crate::api::Executable>(
            ctx.clone(),
            wake_rx,
            stop.clone(),
        )));
        tasks.push(tokio::spawn(workload::run::<crate::api::Container>(
            ctx.clone(),
            wake_container_rx,
            stop.clone(),
        )));
        tasks.push(tokio::spawn(parameter::run(ctx.clone(), stop.clone())));
        tasks.push(tokio::spawn(value::run(
            ctx.clone(),
            wake_value,
            wake_value_rx,
            stop,
        )));
        Controllers {
            ctx,
            shutdown,
            tasks,
        }
    }

    /// Stops reconciling (running processes are left as they are).
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Whether an Executable or Container with `spec` waits on, is a child of, or
/// references `name`.
pub fn depends_on(spec: &crate::api::RunSpec, name: &str) -> bool {
    spec.wait_for.iter().any(|w| w.name == name)
        || spec.parent.as_ref().is_some_and(|p| p.name == name)
        || spec.references.iter().any(|r| r == name)
        || mentions(&spec.args, name)
        || spec
            .env
            .iter()
            .any(|e| e.value.as_deref().is_some_and(|v| mentions_one(v, name)))
}

fn mentions(texts: &[String], name: &str) -> bool {
    texts.iter().any(|t| mentions_one(t, name))
}

fn mentions_one(text: &str, name: &str) -> bool {
    text.match_indices(name).any(|(i, _)| {
        i > 0 && text.as_bytes()[i - 1] == b'{' && text[i + name.len()..].starts_with('.')
    })
}
