//! A whole kaspire control plane in this process: the embedded API server, the log
//! store behind the `log` subresource, every controller, and the session around them
//! (pid file, the end of the session that stops Session resources in reverse
//! dependency order).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kube::ResourceExt;
use kube::api::{Api, DeleteParams, ListParams};

use crate::api::{Container, Executable, Lifetime, RunSpec};
use crate::apiserver::embedded::Embedded;
use crate::controllers::Controllers;
use crate::controllers::container::adopt::sweep;
use crate::controllers::container::network;
use crate::controllers::context::{Context, Leftover};
use crate::controllers::workload::{Workload, shutdown_of};
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
        let control_plane = ControlPlane {
            embedded,
            logs,
            controllers,
            state: state.clone(),
            watchdog,
            instance,
        };
        // Containers of objects deleted while no control plane ran — in the background:
        // an unreachable engine must not delay a start that may not need it at all.
        tokio::spawn(sweep_containers(
            control_plane.controllers.ctx.clone(),
            control_plane.instance.clone(),
            jiff::Timestamp::now().as_second(),
            false,
        ));
        // Ready once every resource was looked at: a status an earlier control plane
        // wrote (Ready, with a proxy that no longer runs) must not satisfy `--wait` or
        // a waiter before it is confirmed.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
        while !control_plane.controllers.ctx.caught_up() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(control_plane)
    }

    /// The in-process client.
    pub fn client(&self) -> kube::Client {
        self.embedded.client.clone()
    }

    /// Stops Session Executables and Containers in reverse dependency order
    /// (dependents first), deletes them and waits until their replicas are gone; then
    /// removes what is left of the session (processes past their grace period, Session
    /// containers, this instance's unused networks). Persistent ones keep running.
    pub async fn end_session(&self) -> anyhow::Result<()> {
        let client = self.client();
        let executables: Api<Executable> = Api::all(client.clone());
        let containers: Api<Container> = Api::all(client.clone());
        let mut remaining: Vec<SessionMember> = executables
            .list(&ListParams::default())
            .await?
            .items
            .into_iter()
            .filter(|e| e.spec.run.lifetime == Lifetime::Session)
            .map(SessionMember::Executable)
            .collect();
        remaining.extend(
            containers
                .list(&ListParams::default())
                .await?
                .items
                .into_iter()
                .filter(|c| c.spec.run.lifetime == Lifetime::Session)
                .map(SessionMember::Container),
        );
        while !remaining.is_empty() {
            let depended_on = |member: &SessionMember| {
                remaining.iter().any(|other| {
                    other.namespace() == member.namespace()
                        && other.name() != member.name()
                        && crate::controllers::depends_on(other.spec(), &member.name())
                })
            };
            let (mut layer, rest): (Vec<_>, Vec<_>) =
                remaining.iter().cloned().partition(|m| !depended_on(m));
            if layer.is_empty() {
                // Only reference cycles are left (waits cannot cycle): stop them together.
                layer = rest.clone();
            }
            remaining.retain(|m| !layer.iter().any(|l| l.uid() == m.uid()));
            futures::future::join_all(layer.iter().map(|m| m.delete_and_wait(client.clone())))
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
        // Only when this session used Docker: an app without Containers never waits for it.
        let ctx = &self.controllers.ctx;
        if ctx.docker.connected().await {
            sweep_containers(ctx.clone(), self.instance.clone(), i64::MAX, true).await;
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

/// An Executable or Container that ends with the session.
#[derive(Clone)]
enum SessionMember {
    Executable(Executable),
    Container(Container),
}

impl SessionMember {
    fn spec(&self) -> &RunSpec {
        match self {
            SessionMember::Executable(e) => &e.spec.run,
            SessionMember::Container(c) => &c.spec.run,
        }
    }

    fn meta(&self) -> &kube::api::ObjectMeta {
        match self {
            SessionMember::Executable(e) => &e.metadata,
            SessionMember::Container(c) => &c.metadata,
        }
    }

    fn namespace(&self) -> Option<&String> {
        self.meta().namespace.as_ref()
    }

    fn name(&self) -> String {
        self.meta().name.clone().unwrap_or_default()
    }

    fn uid(&self) -> Option<&String> {
        self.meta().uid.as_ref()
    }

    async fn delete_and_wait(&self, client: kube::Client) {
        match self {
            SessionMember::Executable(e) => delete_and_wait(client, e).await,
            SessionMember::Container(c) => delete_and_wait(client, c).await,
        }
    }
}

async fn delete_and_wait<K: Workload>(client: kube::Client, object: &K) {
    let api: Api<K> = Api::namespaced(client, &object.namespace().unwrap_or_default());
    let name = object.name_any();
    if api.delete(&name, &DeleteParams::default()).await.is_err() {
        return;
    }
    let timeout = shutdown_of(object.run_spec()).1 + Duration::from_secs(10);
    let _ = tokio::time::timeout(timeout, async {
        while api
            .get_opt(&name)
            .await
            .ok()
            .flatten()
            .is_some_and(|e| e.uid() == object.uid())
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

/// Removes this instance's containers (created before `created_before`) whose object is
/// gone — and with `sessions_too` (the end of a session), every Session container and then
/// the networks nothing uses. Nothing when the engine cannot be reached.
async fn sweep_containers(
    ctx: Arc<Context>,
    instance: String,
    created_before: i64,
    sessions_too: bool,
) {
    if ctx.docker.problem().await.is_some() {
        return;
    }
    let Ok(docker) = ctx.docker.client().await else {
        return;
    };
    let known: Vec<String> = ctx
        .directory
        .containers
        .state()
        .iter()
        .filter_map(|c| c.uid())
        .collect();
    let removed = sweep(&docker, &instance, &known, created_before, sessions_too).await;
    if removed > 0 {
        tracing::info!("removed {removed} leftover container(s)");
    }
    if sessions_too {
        // At the end only: at start-up a network may be in use a moment from now (this
        // instance's networks are reused by name anyway).
        network::remove_unused(&docker, &instance).await;
    }
}
