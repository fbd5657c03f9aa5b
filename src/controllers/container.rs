//! Containers on the shared [`workload`](super::workload) lifecycle: a replica is a
//! Docker container, created then started (so its network and published ports exist
//! first), labelled so a restarted control plane — or the next session, for a
//! Persistent one — finds it again.
//!
//! - [`spec`]: names, the lifecycle key, and the create request from the spec.
//! - [`runtime_args`]: the `docker run` flags `spec.runtimeArgs` may use.
//! - [`image`]: the image per `pullPolicy`, pull progress into the `startup` log.
//! - [`network`]: one network per namespace; the host as `host.docker.internal`.
//! - [`launch`]: create-or-reuse, start, and the replica that results.
//! - [`adopt`]: containers of an object found after a control-plane restart.

pub mod adopt;
mod image;
mod launch;
pub mod network;
pub mod runtime_args;
pub mod spec;

use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc::UnboundedSender;

use super::context::Context;
use super::workload::runs::Replica;
use super::workload::runs::{RunHandle, Runs, lock};
use super::workload::{Launch, Workload};
use crate::api::{Container, ContainerStatus, RunSpec, RunStatus, container_network};
use crate::expr::Context as ExprContext;

impl Workload for Container {
    const OWN_NETWORK: bool = true;

    fn run_spec(&self) -> &RunSpec {
        &self.spec.run
    }

    fn run_status(&self) -> Option<&RunStatus> {
        self.status.as_ref().map(|s| &s.run)
    }

    fn runs(ctx: &Context) -> &Runs {
        &ctx.containers
    }

    fn waker(ctx: &Context) -> &UnboundedSender<ObjectRef<Self>> {
        &ctx.wake_container
    }

    fn expr_context(&self) -> ExprContext {
        ExprContext::Container {
            network: container_network(self),
        }
    }

    fn lifecycle_key(&self) -> String {
        spec::lifecycle_key(self)
    }

    fn status_json(&self, status: &RunStatus, run: Option<&RunHandle>) -> serde_json::Value {
        let previous = self.status.as_ref();
        let live = run.and_then(|run| {
            let run = lock(run);
            let first = run.replicas.values().next()?;
            Some((
                first.process.container_id().map(str::to_owned),
                first.image.clone(),
            ))
        });
        let (container_id, image) = match live {
            Some((id, image)) => (id, image),
            // Nothing runs: keep naming the container that ran last.
            None => (
                previous.and_then(|s| s.container_id.clone()),
                previous.and_then(|s| s.image.clone()),
            ),
        };
        serde_json::to_value(ContainerStatus {
            container_id,
            image,
            run: status.clone(),
        })
        .unwrap_or_default()
    }

    async fn runtime_problem(ctx: &Context) -> Option<String> {
        ctx.docker.problem().await
    }

    async fn launch(&self, ctx: &Context, launch: Launch<'_>) -> Result<Replica, String> {
        launch::launch(self, ctx, launch).await
    }

    async fn adopt(&self, ctx: &Context, key: &str) -> Option<RunHandle> {
        adopt::adopt(self, ctx, key).await
    }

    async fn adopt_for_cleanup(&self, ctx: &Context) -> Option<RunHandle> {
        adopt::adopt_for_cleanup(self, ctx).await
    }

    async fn cleaned_up(&self, ctx: &Context) {
        adopt::remove_all(self, ctx).await;
    }
}
