//! The Executable controller: a kube-runtime `Controller` over the in-process client.
//! Reconciles are woken by the object's own changes, by any change of an object it
//! depends on (through the [`super::directory`]), and by its processes (exits, probe
//! results). A finalizer makes sure a deleted Executable's processes are stopped —
//! also when the control plane crashed in the middle of it.

mod adopt;
mod health;
mod lifecycle;
mod ports;
mod report;
pub(crate) mod resolve;
pub mod runs;
pub mod spawn;

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::ResourceExt;
use kube::api::Api;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::context::Context;
use crate::api::Executable;
use crate::runtime::logs::ResourceRef;
use runs::{StopCause, lock, stop_replica};

pub use lifecycle::shutdown_of;

/// Finalizer held while an Executable may have processes.
pub const FINALIZER: &str = "kaspire.dev/processes";

/// Errors of one reconcile; all are retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("api: {0}")]
    Api(#[from] kube::Error),
    #[error("finalizer: {0}")]
    Finalizer(String),
}

/// Runs the controller until `shutdown` resolves.
pub async fn run(
    ctx: Arc<Context>,
    wake: UnboundedReceiver<ObjectRef<Executable>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<Executable> = Api::all(ctx.client.clone());
    Controller::new(api, watcher::Config::default())
        .reconcile_on(UnboundedReceiverStream::new(wake))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, ctx)
        .for_each(|_| async {})
        .await;
}

async fn reconcile(exe: Arc<Executable>, ctx: Arc<Context>) -> Result<Action, Error> {
    let api: Api<Executable> =
        Api::namespaced(ctx.client.clone(), &exe.namespace().unwrap_or_default());
    finalizer(&api, FINALIZER, exe, |event| async {
        match event {
            Finalizer::Apply(exe) => lifecycle::apply(exe, &ctx).await,
            Finalizer::Cleanup(exe) => cleanup(exe, &ctx).await,
        }
    })
    .await
    .map_err(|e| match e {
        kube::runtime::finalizer::Error::ApplyFailed(e)
        | kube::runtime::finalizer::Error::CleanupFailed(e) => e,
        other => Error::Finalizer(other.to_string()),
    })
}

fn error_policy(exe: Arc<Executable>, error: &Error, _ctx: Arc<Context>) -> Action {
    tracing::debug!(name = %exe.name_any(), "reconcile failed, retrying: {error}");
    Action::requeue(Duration::from_millis(200))
}

/// The object is being deleted: stop every replica (gracefully, per `spec.shutdown`),
/// wait until they are gone, then drop the run and the log.
async fn cleanup(exe: Arc<Executable>, ctx: &Context) -> Result<Action, Error> {
    let uid = exe.uid().unwrap_or_default();
    let run = ctx
        .runs
        .get(&uid)
        .or_else(|| adopt::adopt_for_cleanup(&exe, ctx));
    if let Some(run) = run {
        let (signal, timeout) = shutdown_of(&exe);
        let indexes: Vec<u32> = lock(&run).replicas.keys().copied().collect();
        for index in indexes {
            stop_replica(
                &run,
                index,
                StopCause::Requested,
                signal,
                timeout,
                ctx.wake_executable.clone(),
                ObjectRef::from_obj(&*exe),
            );
        }
        let deadline = tokio::time::Instant::now() + timeout + Duration::from_secs(3);
        while lock(&run).alive() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ctx.runs.remove(&uid);
    }
    ctx.runs.forget(&uid);
    let resource = ResourceRef::new(
        &exe.namespace().unwrap_or_default(),
        "Executable",
        &exe.name_any(),
    );
    let _ = ctx.logs.remove(&resource);
    Ok(Action::await_change())
}
