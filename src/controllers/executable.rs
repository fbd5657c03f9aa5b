//! Executables on the shared [`workload`](super::workload) lifecycle: a replica is a
//! process on the host (spawned in its own process group, tagged so a restarted
//! control plane finds it again), its output in the resource's log.

mod adopt;
pub mod spawn;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use tokio::sync::mpsc::UnboundedSender;

use super::context::Context;
use super::workload::health::{Checks, ExecIn};
use super::workload::runs::{Process, Replica, RunHandle, Runs};
use super::workload::{Launch, Workload};
use crate::api::{Executable, RunSpec, RunStatus};
use crate::expr::Context as ExprContext;
use crate::runtime::process::spawn;
use spawn::{LogSink, ReplicaPlan};

impl Workload for Executable {
    const OWN_NETWORK: bool = false;

    fn run_spec(&self) -> &RunSpec {
        &self.spec.run
    }

    fn run_status(&self) -> Option<&RunStatus> {
        self.status.as_ref()
    }

    fn runs(ctx: &Context) -> &Runs {
        &ctx.runs
    }

    fn waker(ctx: &Context) -> &UnboundedSender<ObjectRef<Self>> {
        &ctx.wake_executable
    }

    fn expr_context(&self) -> ExprContext {
        ExprContext::Process
    }

    fn lifecycle_key(&self) -> String {
        spawn::lifecycle_key(self)
    }

    fn status_json(&self, status: &RunStatus, _run: Option<&RunHandle>) -> serde_json::Value {
        serde_json::to_value(status).unwrap_or_default()
    }

    async fn runtime_problem(_ctx: &Context) -> Option<String> {
        // The host runs processes; there is nothing to be unreachable.
        None
    }

    async fn launch(&self, ctx: &Context, launch: Launch<'_>) -> Result<Replica, String> {
        let index = launch.index;
        let shown_args = launch.masked_args.join(" ");
        let plan = ReplicaPlan {
            exe: self,
            index,
            instance: &ctx.instance,
            lifecycle_key: launch.lifecycle_key,
            env: launch.env,
            args: launch.args,
            target_ports: &launch.target_ports,
            cwd: &ctx.cwd,
            run_dir: &ctx.run_dir,
        };
        let process_spec = plan.process_spec();
        let sink = LogSink::open(&ctx.logs, &self.log_ref(), index)
            .map_err(|e| format!("cannot open the log of {}: {e}", self.name_any()))?;
        // Checks are built before spawning, so a bad check leaves no process behind.
        let (wake, object) = (ctx.wake_executable.clone(), ObjectRef::from_obj(self));
        let checks = Checks::start(
            &self.spec.run,
            &launch.target_ports,
            ExecIn::Host(&process_spec),
            move || {
                let _ = wake.send(object.clone());
            },
        )?;
        let child = spawn(&process_spec, sink).map_err(|e| e.to_string())?;
        let process = Process::Child(child);
        ctx.system_log(
            self,
            index,
            &format!(
                "started replica {index}: {} {shown_args} (pid {})",
                process_spec.command,
                process.pid()
            ),
        );
        Ok(Replica::new(
            process,
            checks,
            launch.target_ports,
            Vec::new(),
        ))
    }

    async fn adopt(&self, ctx: &Context, key: &str) -> Option<RunHandle> {
        adopt::adopt(self, ctx, key)
    }

    async fn adopt_for_cleanup(&self, ctx: &Context) -> Option<RunHandle> {
        adopt::adopt_for_cleanup(self, ctx)
    }
}
