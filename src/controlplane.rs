//! A whole kaspire control plane in this process: the embedded API server, the log
//! store behind the `log` subresource, every controller, and the session around them
//! (pid file, the end of the session that stops Session resources in reverse
//! dependency order).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use crate::api::{Executable, Lifetime};
use crate::apiserver::embedded::Embedded;
use crate::controllers::Controllers;
use crate::controllers::context::Leftover;
use crate::runtime::logs::{self, LogStore};
use crate::runtime::process::watchdog::stop_session;
use crate::runtime::process::{Signal, Watchdog, find_tagged, stop_tagged};
use crate::state_dir::StateDir;

/// A running control plane.
pub struct ControlPlane {
    pub embedded: Embedded,
    pub logs: Arc<LogStore>,
    controllers: Controllers,
    state: StateDir,
    watchdog: Watchdog,
    /// `KASPIRE_INSTANCE` of this state dir's processes.
    instance: String,
}

impl ControlPlane {
    /// API server + log store + controllers; writes the pid file.
    pub async fn start(state: &StateDir, port: u16) -> anyhow::Result<ControlPlane> {
        let embedded = Embedded::start(state, port).await?;
        let logs = LogStore::open(&state.logs())?;
        logs::install(&embedded.server, logs.clone());
        let instance = state.instance_id()?;
        let leftovers = find_leftovers(&instance);
        // Session processes must not outlive this control plane, however it ends.
        let watchdog = Watchdog::spawn(&std::env::current_exe()?, &instance)?;
        let controllers = Controllers::start(
            embedded.client.clone(),
            logs.clone(),
            instance.clone(),
            state.run_dir(),
            leftovers,
        )
        .await;
        stop_orphans(&controllers, &instance).await;
        std::fs::write(state.pid_file(), std::process::id().to_string())?;
        Ok(ControlPlane {
            embedded,
            logs,
            controllers,
            state: state.clone(),
            watchdog,
            instance,
        })
    }

    /// The in-process client.
    pub fn client(&self) -> kube::Client {
        self.embedded.client.clone()
    }

    /// Stops Session Executables in reverse dependency order (dependents first), deletes
    /// them and waits until their processes are gone. Persistent ones keep running.
    pub async fn end_session(&self) -> anyhow::Result<()> {
        let api: Api<Executable> = Api::all(self.client());
        let mut remaining: Vec<Executable> = api
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.spec.run.lifetime == Lifetime::Session)
            .collect();
        while !remaining.is_empty() {
            let depended_on = |name: &str, ns: Option<&String>| {
                remaining.iter().any(|other| {
                    other.metadata.namespace.as_ref() == ns
                        && other.name_any() != name
                        && crate::controllers::depends_on(other, name)
                })
            };
            let (mut layer, rest): (Vec<_>, Vec<_>) = remaining
                .iter()
                .cloned()
                .partition(|e| !depended_on(&e.name_any(), e.metadata.namespace.as_ref()));
            if layer.is_empty() {
                // Only reference cycles are left (waits cannot cycle): stop them together.
                layer = rest.clone();
            }
            remaining.retain(|e| !layer.iter().any(|l| l.uid() == e.uid()));
            futures::future::join_all(layer.iter().map(|exe| delete_and_wait(self.client(), exe)))
                .await;
        }
        // Whatever outlived its resource's grace period (a slow machine, a process that
        // ignores its signal) is stopped here: nothing of a Session survives its end.
        let left = stop_session(&self.instance, Duration::from_secs(5)).await;
        if !left.is_empty() {
            tracing::warn!(
                "stopped {} Session process(es) that outlived their resource",
                left.len()
            );
        }
        Ok(())
    }

    /// Stops the controllers and the API server; removes the pid file. Processes of
    /// Persistent resources keep running.
    pub async fn shutdown(self) {
        self.controllers.shutdown().await;
        // A clean exit: Session resources were stopped by end_session (or are meant to be
        // kept running by `kaspire up --detach` handing over), so the watchdog stands down.
        self.watchdog.disarm().await;
        self.logs.flush();
        self.embedded.shutdown();
        let _ = std::fs::remove_file(self.state.pid_file());
    }
}

async fn delete_and_wait(client: kube::Client, exe: &Executable) {
    let api: Api<Executable> = Api::namespaced(client, &exe.namespace().unwrap_or_default());
    let name = exe.name_any();
    if api.delete(&name, &DeleteParams::default()).await.is_err() {
        return;
    }
    let timeout =
        crate::controllers::workload::shutdown_of(&exe.spec.run).1 + Duration::from_secs(5);
    let _ = tokio::time::timeout(timeout, async {
        while api
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .is_some_and(|e| e.uid() == exe.uid())
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Our processes still running from an earlier control plane, by object uid: group
/// leaders only (what they forked goes with their group).
fn find_leftovers(instance: &str) -> HashMap<String, Vec<Leftover>> {
    let mut found: HashMap<String, Vec<Leftover>> = HashMap::new();
    for process in find_tagged(instance) {
        let tags = &process.tags;
        if let (true, Some(uid), Some(replica)) =
            (process.leads_group, &tags.resource, tags.replica_index)
        {
            found.entry(uid.clone()).or_default().push(Leftover {
                identity: process.identity,
                replica,
                lifecycle_key: tags.lifecycle_key.clone().unwrap_or_default(),
            });
        }
    }
    found
}

/// Stops our leftover processes whose object no longer exists (deleted while no control
/// plane ran), so nothing of an old session lingers.
async fn stop_orphans(controllers: &Controllers, instance: &str) {
    let known: std::collections::HashSet<String> = controllers
        .ctx
        .directory
        .executables
        .state()
        .iter()
        .filter_map(|e| e.uid())
        .collect();
    let orphans: Vec<_> = find_tagged(instance)
        .into_iter()
        .filter(|p| {
            p.tags
                .resource
                .as_ref()
                .is_none_or(|uid| !known.contains(uid))
        })
        .collect();
    if !orphans.is_empty() {
        tracing::info!(
            "stopping {} leftover processes of deleted resources",
            orphans.len()
        );
        let stopper = async move {
            stop_tagged(&orphans, Signal::TERM, Duration::from_secs(5)).await;
        };
        tokio::spawn(stopper);
    }
}
