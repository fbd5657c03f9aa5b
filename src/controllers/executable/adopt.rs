//! Processes found running when the control plane started (by their tags): adopted
//! again when they match the current spec, stopped otherwise, and — for an object being
//! deleted — all gathered into a run to stop.

use std::collections::BTreeMap;
use std::sync::Arc;

use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::spawn::{LogSink, output_files};
use crate::api::Executable;
use crate::controllers::context::Context;
use crate::controllers::workload::health::{Checks, ExecIn};
use crate::controllers::workload::runs::{Follower, Process, Replica, Run, RunHandle, lock, track};
use crate::controllers::workload::{Workload, ports, shutdown_of};
use crate::runtime::process::{Adopted, OutputSink, Stream, TailFrom, tail_file};

/// Takes the processes of this object found at control-plane start: adopts those that
/// match the current spec, stops the rest. Returns the adopted run, if any.
pub fn adopt(exe: &Executable, ctx: &Context, key: &str) -> Option<RunHandle> {
    let uid = exe.uid().unwrap_or_default();
    let found = lock(&ctx.leftovers).remove(&uid)?;
    let desired = exe.spec.run.replicas.max(0) as u32;
    let (signal, timeout) = shutdown_of(&exe.spec.run);
    let mut keep = Vec::new();
    for leftover in found {
        if leftover.lifecycle_key == key && leftover.replica < desired && !exe.spec.run.stopped {
            keep.push(leftover);
        } else {
            let process = Process::Adopted(Adopted::new(leftover.identity));
            ctx.system_log(
                exe,
                leftover.replica,
                &format!(
                    "stopping leftover process {} (its spec is out of date)",
                    leftover.identity.pid
                ),
            );
            tokio::spawn(async move { process.stop(signal, timeout).await });
        }
    }
    if keep.is_empty() {
        return None;
    }
    let mut run = Run::new(key.to_owned());
    let previous = exe.status.as_ref().map_or(&[][..], |s| &s.endpoints);
    run.ports = ports::plan(&exe.spec.run, false, previous).ok()?;
    let run = ctx.runs.insert(&uid, run);
    let object = ObjectRef::from_obj(exe);
    let replica_ports = exe
        .status
        .as_ref()
        .map(|s| s.replicas.clone())
        .unwrap_or_default();
    for leftover in keep {
        let process = Process::Adopted(Adopted::new(leftover.identity));
        let target_ports: BTreeMap<String, u16> = replica_ports
            .iter()
            .find(|r| r.index as u32 == leftover.replica)
            .map(|r| {
                r.target_ports
                    .iter()
                    .map(|(k, v)| (k.clone(), *v as u16))
                    .collect()
            })
            .unwrap_or_default();
        lock(&run).ports.adopt(leftover.replica, &target_ports);
        let wake = ctx.wake_executable.clone();
        let checks = {
            let (wake, object) = (wake.clone(), object.clone());
            let host = Default::default();
            Checks::start(
                &exe.spec.run,
                &target_ports,
                ExecIn::Host(&host),
                move || {
                    let _ = wake.send(object.clone());
                },
            )
            .unwrap_or_default()
        };
        ctx.system_log(
            exe,
            leftover.replica,
            &format!(
                "adopted replica {} (pid {}) after a control-plane restart",
                leftover.replica, leftover.identity.pid
            ),
        );
        let tails = follow_output(exe, ctx, leftover.replica);
        let replica = Replica::new(process, checks, target_ports, tails);
        track(&run, leftover.replica, replica, wake, object.clone());
    }
    Some(run)
}

/// Follows the output files of an adopted Persistent replica into its log, from their
/// current end (what it wrote while no control plane ran stays in the files).
fn follow_output(exe: &Executable, ctx: &Context, index: u32) -> Vec<Follower> {
    if exe.spec.run.lifetime != crate::api::Lifetime::Persistent {
        return Vec::new();
    }
    let Ok(sink) = LogSink::open(&ctx.logs, &exe.log_ref(), index) else {
        return Vec::new();
    };
    let sink: Arc<dyn OutputSink> = Arc::new(sink);
    let (stdout, stderr) = output_files(&ctx.run_dir, exe, index);
    vec![
        Box::new(tail_file(
            stdout,
            Stream::Stdout,
            sink.clone(),
            TailFrom::End,
        )),
        Box::new(tail_file(stderr, Stream::Stderr, sink, TailFrom::End)),
    ]
}

/// For a deleted object after a control-plane restart: every leftover process of it,
/// whatever its spec, as a run to stop.
pub fn adopt_for_cleanup(exe: &Executable, ctx: &Context) -> Option<RunHandle> {
    let uid = exe.uid().unwrap_or_default();
    let found = lock(&ctx.leftovers).remove(&uid)?;
    let run = ctx.runs.insert(&uid, Run::new(String::new()));
    for leftover in found {
        let process = Process::Adopted(Adopted::new(leftover.identity));
        let replica = Replica::new(process, Checks::default(), BTreeMap::new(), Vec::new());
        track(
            &run,
            leftover.replica,
            replica,
            ctx.wake_executable.clone(),
            ObjectRef::from_obj(exe),
        );
    }
    Some(run)
}
