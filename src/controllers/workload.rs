//! What Executables and Containers share: one reconcile loop for everything that runs
//! replicas — waits, requests, restart policy, health, ports and proxies, expressions,
//! status, events — over a [`Workload`] that knows how its kind starts, finds and stops
//! a replica (a process on the host, or a container on Docker).
//!
//! The controller is a kube-runtime `Controller` over the in-process client. Reconciles
//! are woken by the object's own changes, by any change of an object it depends on
//! (through the [`super::directory`]), and by its replicas (exits, probe results). A
//! finalizer makes sure a deleted object's replicas are stopped — also when the control
//! plane crashed in the middle of it.

pub mod health;
mod lifecycle;
pub mod ports;
mod report;
pub mod resolve;
pub mod runs;

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::context::Context;
use crate::api::{RunSpec, RunStatus};
use crate::expr::Context as ExprContext;
use crate::runtime::logs::ResourceRef;
use crate::runtime::process::{Signal, signal_from_name};
use runs::{Replica, RunHandle, Runs, StopCause, lock, stop_replica};

pub use lifecycle::shutdown_of;

/// Finalizer held while an object may have replicas running.
pub const FINALIZER: &str = "kaspire.dev/processes";

/// Errors of one reconcile; all are retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// What one replica is started with, decided by the shared lifecycle.
pub struct Launch<'a> {
    pub index: u32,
    /// The lifecycle key the replica is started from (recorded on it, for adoption).
    pub lifecycle_key: &'a str,
    /// `(name, value)` pairs from `env`, `references` and endpoint `env`, resolved.
    pub env: Vec<(String, String)>,
    /// Resolved `args`.
    pub args: Vec<String>,
    /// `args` with secret values masked, for logs.
    pub masked_args: Vec<String>,
    /// Where the replica is reached from the host, per endpoint (a process's own
    /// port; a container's published port).
    pub target_ports: BTreeMap<String, u16>,
}

/// A kind whose objects run replicas. The shared lifecycle decides *what* happens;
/// the kind says *how* on its runtime.
pub trait Workload:
    Resource<DynamicType = (), Scope = k8s_openapi::NamespaceResourceScope>
    + Clone
    + Debug
    + Serialize
    + DeserializeOwned
    + Send
    + Sync
    + 'static
{
    /// The fields shared by Executable and Container.
    fn run_spec(&self) -> &RunSpec;
    /// The shared part of the last written status.
    fn run_status(&self) -> Option<&RunStatus>;
    /// The live replicas of this kind, by object uid.
    fn runs(ctx: &Context) -> &Runs;
    /// Wakes the reconcile of an object of this kind.
    fn waker(ctx: &Context) -> &UnboundedSender<ObjectRef<Self>>;
    /// Where this kind's replicas resolve expressions from.
    fn expr_context(&self) -> ExprContext;
    /// Whether `targetPort` is inside the replica's own network namespace (containers):
    /// then replicas may share it, and the host reaches each through a published port.
    const OWN_NETWORK: bool;
    /// Hash of the spec fields replicas are started from (or `spec.lifecycleKey`).
    fn lifecycle_key(&self) -> String;
    /// The whole status to write: `status` plus this kind's own fields.
    fn status_json(&self, status: &RunStatus, run: Option<&RunHandle>) -> serde_json::Value;
    /// A problem of the runtime as a whole (Docker unreachable) that stops every
    /// object of the kind from being reconciled; `None` when it is fine.
    fn runtime_problem(ctx: &Context) -> impl Future<Output = Option<String>> + Send;
    /// Starts replica `launch.index` (or takes over an equivalent one that already
    /// runs); the error says what is wrong, naming the field.
    fn launch(
        &self,
        ctx: &Context,
        launch: Launch<'_>,
    ) -> impl Future<Output = Result<Replica, String>> + Send;
    /// The replicas of this object that a previous control plane left running: adopted
    /// when they match `key`, stopped otherwise. `None` when there are none.
    fn adopt(&self, ctx: &Context, key: &str) -> impl Future<Output = Option<RunHandle>> + Send;
    /// For a deleted object after a control-plane restart: every replica of it that is
    /// still around, whatever its spec, as a run to stop.
    fn adopt_for_cleanup(&self, ctx: &Context) -> impl Future<Output = Option<RunHandle>> + Send;
    /// Called after every replica of a deleted object is gone.
    fn cleaned_up(&self, _ctx: &Context) -> impl Future<Output = ()> + Send {
        async {}
    }

    /// This object in the log store.
    fn log_ref(&self) -> ResourceRef {
        ResourceRef::new(
            &self.namespace().unwrap_or_default(),
            &Self::kind(&()),
            &self.name_any(),
        )
    }
}

/// Runs the controller of `K` until `shutdown` resolves.
pub async fn run<K: Workload>(
    ctx: Arc<Context>,
    wake: UnboundedReceiver<ObjectRef<K>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<K> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .reconcile_on(UnboundedReceiverStream::new(wake))
        .graceful_shutdown_on(shutdown)
        .run(reconcile::<K>, error_policy::<K>, ctx)
        .for_each(|_| async {})
        .await;
}

async fn reconcile<K: Workload>(object: Arc<K>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &object.namespace().unwrap_or_default());
    let uid = object.uid().unwrap_or_default();
    let result = finalizer(&api, FINALIZER, object, |event| async {
        match event {
            Finalizer::Apply(object) => lifecycle::apply(object, &ctx).await,
            Finalizer::Cleanup(object) => cleanup(object, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    });
    ctx.mark_reconciled(&uid);
    result
}

fn error_policy<K: Workload>(object: Arc<K>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::debug!(name = %object.name_any(), "reconcile failed, retrying: {error}");
    Action::requeue(Duration::from_millis(200))
}

/// The object is being deleted: stop every replica (gracefully, per `spec.shutdown`),
/// wait until they are gone, then drop the run and the log.
async fn cleanup<K: Workload>(object: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let uid = object.uid().unwrap_or_default();
    let runs = K::runs(ctx);
    let run = match runs.get(&uid) {
        Some(run) => Some(run),
        None => object.adopt_for_cleanup(ctx).await,
    };
    if let Some(run) = run {
        let (signal, timeout) = shutdown_of(object.run_spec());
        let indexes: Vec<u32> = lock(&run).replicas.keys().copied().collect();
        for index in indexes {
            stop_replica(
                &run,
                index,
                StopCause::Requested,
                signal,
                timeout,
                K::waker(ctx).clone(),
                ObjectRef::from_obj(&*object),
            );
        }
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(10);
        while lock(&run).alive() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        runs.remove(&uid);
    }
    object.cleaned_up(ctx).await;
    runs.forget(&uid);
    let _ = ctx.logs.remove(&object.log_ref());
    Ok(Action::await_change())
}

/// `spec.shutdown.signal` as a signal, or the message saying what is wrong with it.
pub fn shutdown_signal(spec: &RunSpec) -> Result<Signal, String> {
    signal_from_name(&spec.shutdown.signal)
        .map_err(|unknown| format!("spec.shutdown.signal: {unknown}"))
}
