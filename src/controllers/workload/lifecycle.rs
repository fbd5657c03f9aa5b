//! One reconcile of an Executable or Container: supervise what runs, honour requests and spec
//! changes, start when the waits allow, and write the status that results — once,
//! and only when it changed.
//!
//! The object's persisted status is the durable memory (state, restart count, next
//! restart time, handled requests); [`super::runs`] holds the live processes. A
//! control plane that restarts finds the status and the processes again (adopted, or
//! stopped by the watchdog and started afresh), so every decision here is made from
//! what is, not from what happened.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;

use super::runs::{Run, RunHandle, StopCause, lock, stop_replica, track};
use super::{Error, Launch, Workload, ports, report, resolve, shutdown_signal};
use crate::api::conditions::reason;
use crate::api::{
    RESTART_REQUESTED_AT_ANNOTATION, ResourceState, RestartPolicy, RunSpec, RunStatus,
    START_REQUESTED_AT_ANNOTATION,
};
use crate::controllers::backoff;
use crate::controllers::context::Context;
use crate::controllers::status_patch;
use crate::controllers::waits::{Verdict, Waits};
use crate::expr::Location;
use crate::runtime::process::{Signal, signal_from_name};

/// What the reconcile decided the object's state is, before the status is assembled.
struct Outcome {
    state: ResourceState,
    reason: &'static str,
    message: Option<String>,
    requeue: Option<Duration>,
}

impl Outcome {
    fn new(state: ResourceState, reason: &'static str, message: impl Into<Option<String>>) -> Self {
        Outcome {
            state,
            reason,
            message: message.into(),
            requeue: None,
        }
    }
}

/// A request annotation that was not acted on yet.
fn pending_request<K: Workload>(
    object: &K,
    annotation: &str,
    handled: Option<&String>,
) -> Option<String> {
    object
        .annotations()
        .get(annotation)
        .filter(|value| Some(*value) != handled)
        .cloned()
}

pub async fn apply<K: Workload>(object: Arc<K>, ctx: &Context) -> Result<Action, Error> {
    let object: &K = &object;
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let uid = object.uid().unwrap_or_default();
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &namespace);
    let runs = K::runs(ctx);
    // The cache may not have caught up with the status this controller wrote last;
    // deciding from an older one would act on a request or a restart twice.
    let (old, old_json) = match runs.fresher_status(&uid, object) {
        Some((status, json)) => (Some(status), Some(json)),
        None => (
            object.run_status().cloned(),
            serde_json::to_value(object)
                .ok()
                .and_then(|mut o| o.get_mut("status").map(serde_json::Value::take)),
        ),
    };
    let mut status = old.clone().unwrap_or_default();
    let spec = object.run_spec();
    let start_request = pending_request(
        object,
        START_REQUESTED_AT_ANNOTATION,
        status.handled_start_request.as_ref(),
    );
    let restart_request = pending_request(
        object,
        RESTART_REQUESTED_AT_ANNOTATION,
        status.handled_restart_request.as_ref(),
    );

    // A start request on a stopped resource clears `stopped` first (product.md §3); the
    // spec change wakes us again.
    if start_request.is_some() && spec.stopped {
        api.patch(
            &name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({"spec": {"stopped": false}})),
        )
        .await?;
        return Ok(Action::await_change());
    }

    if adopt_parent(object, ctx, &api).await? {
        return Ok(Action::await_change());
    }
    if let Some(problem) = K::runtime_problem(ctx).await {
        return runtime_unhealthy(object, ctx, &api, old, old_json, problem).await;
    }
    let key = object.lifecycle_key();
    let run = match runs.get(&uid) {
        Some(run) => Some(run),
        None => object.adopt(ctx, &key).await,
    };
    let parent_gone = parent_stopped(object, ctx);
    let mut outcome: Option<Outcome> = None;
    let mut start_bypassing_waits = false;

    if let Some(run) = &run {
        let stale = lock(run).spec_hash != key;
        let end_reason = if spec.stopped {
            Some((
                "stopped by request (spec.stopped)".to_owned(),
                reason::STOPPED,
            ))
        } else if restart_request.is_some() {
            Some(("restarting on request".to_owned(), reason::RESTARTING))
        } else if stale {
            Some((
                "restarting: the spec changed".to_owned(),
                reason::RESTARTING,
            ))
        } else {
            parent_gone.clone().map(|m| (m, reason::PARENT_STOPPED))
        };
        if let Some((message, why)) = &end_reason {
            if !lock(run).ending {
                ctx.system_log(object, 0, &format!("stopping all replicas: {message}"));
            }
            lock(run).ending = true;
            stop_all(run, object, ctx);
            if lock(run).alive() > 0 {
                outcome = Some(Outcome::new(ResourceState::Stopping, why, message.clone()));
            }
        } else {
            outcome = supervise(run, object, ctx, &mut status).await?;
        }
        if outcome.is_none() {
            // Nothing of this run is alive: fold its result into the status and drop it.
            let ended = lock(run)
                .replicas
                .values()
                .filter_map(|r| r.ended)
                .collect::<Vec<_>>();
            let restart_at = lock(run).restart_due.values().min().copied();
            let was_ending = lock(run).ending;
            runs.remove(&uid);
            status.finished_at = Some(Time(Timestamp::now()));
            status.replicas.iter_mut().for_each(|r| {
                r.pid = None;
                r.health = None;
            });
            if was_ending {
                if spec.stopped {
                    status.exit_code = ended.iter().find_map(|e| e.code);
                    outcome = Some(Outcome::new(
                        ResourceState::Exited,
                        reason::STOPPED,
                        "stopped by request (spec.stopped)".to_owned(),
                    ));
                } else if let Some(message) = &parent_gone {
                    outcome = Some(Outcome::new(
                        ResourceState::Exited,
                        reason::PARENT_STOPPED,
                        message.clone(),
                    ));
                }
                // Restart request or spec change: fall through to a fresh start below.
            } else {
                let failed = ended.iter().find(|e| !e.success());
                status.exit_code = failed.map_or(Some(0), |e| e.code);
                let ended_text = failed.map_or("exited with code 0".to_owned(), |e| e.describe());
                if let Some(at) = restart_at {
                    let wait = at.saturating_duration_since(Instant::now());
                    status.next_restart_at = Some(Time(
                        Timestamp::now() + jiff::SignedDuration::try_from(wait).unwrap_or_default(),
                    ));
                    let mut o = Outcome::new(
                        ResourceState::Exited,
                        reason::RESTARTING,
                        format!(
                            "{ended_text}; restarting in {:.1} s (restart {})",
                            wait.as_secs_f64(),
                            status.restart_count + 1
                        ),
                    );
                    o.requeue = Some(wait);
                    outcome = Some(o);
                    ctx.event(
                        object,
                        true,
                        "Exited",
                        format!(
                            "{name} {ended_text}; restarting in {:.1} s",
                            wait.as_secs_f64()
                        ),
                    );
                } else if failed.is_none() {
                    outcome = Some(Outcome::new(
                        ResourceState::Finished,
                        reason::FINISHED,
                        ended_text.clone(),
                    ));
                    ctx.event(object, false, "Finished", format!("{name} {ended_text}"));
                } else {
                    outcome = Some(Outcome::new(
                        ResourceState::Exited,
                        reason::EXITED,
                        ended_text.clone(),
                    ));
                    ctx.event(object, true, "Exited", format!("{name} {ended_text}"));
                }
            }
        }
    }

    if outcome.is_none() {
        // Nothing runs: decide whether to start.
        let generation_changed = status
            .observed_generation
            .is_some_and(|g| Some(g) != object.meta().generation);
        if spec.stopped {
            let state = if status.started_at.is_some() {
                ResourceState::Exited
            } else {
                ResourceState::NotStarted
            };
            outcome = Some(Outcome::new(
                state,
                reason::STOPPED,
                "stopped by request (spec.stopped)".to_owned(),
            ));
        } else if let Some(request) = &restart_request {
            status.handled_restart_request = Some(request.clone());
            status.next_restart_at = None;
        } else if let Some(request) = &start_request {
            status.handled_start_request = Some(request.clone());
            status.next_restart_at = None;
            start_bypassing_waits = true;
        } else if let Some(at) = status.next_restart_at.as_ref().map(|t| t.0) {
            let now = Timestamp::now();
            if at > now {
                let wait = Duration::try_from(at.duration_since(now)).unwrap_or_default();
                let mut o = Outcome::new(
                    ResourceState::Exited,
                    reason::RESTARTING,
                    status.message.clone(),
                );
                o.requeue = Some(wait);
                outcome = Some(o);
            } else {
                status.next_restart_at = None;
                status.restart_count += 1;
                ctx.event(
                    object,
                    false,
                    "Restarting",
                    format!(
                        "restart {} of {name} (restartPolicy {:?})",
                        status.restart_count, spec.restart_policy
                    ),
                );
            }
        } else if spec.explicit_start && status.handled_start_request.is_none() {
            outcome = Some(Outcome::new(
                ResourceState::NotStarted,
                reason::NOT_STARTED,
                format!("explicitStart is set: start it with `kaspire start {name}`"),
            ));
        } else if status.state.is_terminal()
            && !generation_changed
            && current_reason(&status) != Some(reason::PARENT_STOPPED)
            && current_reason(&status) != Some(reason::WAITING_FOR_PARENT)
        {
            outcome = Some(Outcome::new(
                status.state,
                current_reason(&status).unwrap_or(reason::EXITED),
                status.message.clone(),
            ));
        }
    }

    if outcome.is_none() {
        let after_restart = run.is_some() || was_running(&status);
        outcome = Some(
            start(
                object,
                ctx,
                &key,
                &mut status,
                start_bypassing_waits,
                after_restart,
            )
            .await?,
        );
    }
    let outcome = outcome.expect("decided above");
    let run = runs.get(&uid);
    report::fill(
        &mut status,
        object,
        run.as_ref(),
        outcome.state,
        outcome.reason,
        outcome.message.clone(),
    );
    if let Some(request) = &start_request
        && run.is_some()
    {
        // Already running: the request is met as it stands.
        status.handled_start_request = Some(request.clone());
    }
    status.connection_string = match resolve::connection_string(object, ctx, &status) {
        Some(Ok(resolved)) if run.is_some() => Some(resolved.masked),
        _ => None,
    };
    announce(object, ctx, old.as_ref(), &status);
    let new_json = object.status_json(&status, run.as_ref());
    if let Some(updated) = status_patch::write(&api, &name, old_json.as_ref(), &new_json).await? {
        runs.remember_status(&uid, &updated, status.clone(), new_json);
    }
    Ok(match outcome.requeue {
        Some(after) => Action::requeue(after.max(Duration::from_millis(10))),
        // Waits are woken by the dependencies' changes; this is the safety net for what
        // a dependency's own dependencies (say, a connection string's Parameter) change.
        None if outcome.state == ResourceState::Waiting => Action::requeue(Duration::from_secs(2)),
        None if run.is_some() => Action::requeue(Duration::from_secs(60)),
        None => Action::await_change(),
    })
}

/// Makes the parent own this resource (ownerReferences), so deleting the parent
/// deletes it; returns whether it patched (the change wakes the reconcile again).
async fn adopt_parent<K: Workload>(object: &K, ctx: &Context, api: &Api<K>) -> Result<bool, Error> {
    let Some(parent) = &object.run_spec().parent else {
        return Ok(false);
    };
    let namespace = object.namespace().unwrap_or_default();
    let Some(owner) = ctx.directory.owner_reference(&namespace, &parent.name) else {
        return Ok(false);
    };
    let mut owners = object.meta().owner_references.clone().unwrap_or_default();
    if owners.iter().any(|o| o.uid == owner.uid) {
        return Ok(false);
    }
    // A parent recreated under the same name: the old one's reference goes.
    owners.retain(|o| !(o.name == owner.name && o.kind == owner.kind));
    owners.push(owner);
    let patch = serde_json::json!({"metadata": {"ownerReferences": owners, "resourceVersion": object.resource_version()}});
    api.patch(
        &object.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(true)
}

fn current_reason(status: &RunStatus) -> Option<&'static str> {
    let ready = crate::api::conditions::find(&status.conditions, crate::api::conditions::READY)?;
    [
        reason::PARENT_STOPPED,
        reason::WAITING_FOR_PARENT,
        reason::STOPPED,
        reason::FINISHED,
        reason::EXITED,
        reason::FAILED_TO_START,
        reason::DEPENDENCY_FAILED,
    ]
    .into_iter()
    .find(|r| *r == ready.reason)
}

/// The status says processes ran, but none are known: the control plane restarted.
fn was_running(status: &RunStatus) -> bool {
    matches!(
        status.state,
        ResourceState::Starting | ResourceState::Running | ResourceState::Stopping
    )
}

/// The parent stopped, failed or was deleted: the message to stop the child with.
fn parent_stopped<K: Workload>(object: &K, ctx: &Context) -> Option<String> {
    let parent = object.run_spec().parent.as_ref()?;
    let namespace = object.namespace().unwrap_or_default();
    match ctx.directory.lookup(&namespace, &parent.name) {
        // Released by an Orphan delete (its ownerReference is gone): keep running, as
        // Kubernetes leaves orphans alone.
        None if !object
            .meta()
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.name == parent.name) =>
        {
            None
        }
        None => Some(format!("parent {} was deleted", parent.name)),
        Some(dep) if dep.state.is_terminal() || dep.state == ResourceState::Stopping => {
            Some(format!("parent {} is {}", parent.name, dep.state))
        }
        Some(_) => None,
    }
}

fn stop_all<K: Workload>(run: &RunHandle, object: &K, ctx: &Context) {
    let (signal, timeout) = shutdown_of(object.run_spec());
    let indexes: Vec<u32> = lock(run).replicas.keys().copied().collect();
    lock(run).restart_due.clear();
    for index in indexes {
        stop_replica(
            run,
            index,
            StopCause::Requested,
            signal,
            timeout,
            K::waker(ctx).clone(),
            ObjectRef::from_obj(object),
        );
    }
}

/// The signal and grace period of `spec.shutdown` (validated at start; SIGTERM if unknown).
pub fn shutdown_of(spec: &RunSpec) -> (Signal, Duration) {
    let shutdown = &spec.shutdown;
    (
        signal_from_name(&shutdown.signal).unwrap_or(Signal::TERM),
        Duration::from_secs(shutdown.timeout_seconds.max(0) as u64),
    )
}

/// Keeps a run going: restarts per policy, liveness kills, scaling. Returns the
/// outcome while anything is alive or due, `None` when the run is over.
async fn supervise<K: Workload>(
    run: &RunHandle,
    object: &K,
    ctx: &Context,
    status: &mut RunStatus,
) -> Result<Option<Outcome>, Error> {
    let spec = object.run_spec();
    let runs = K::runs(ctx);
    let key = ObjectRef::from_obj(object);
    let uid = object.uid().unwrap_or_default();
    let desired = spec.replicas.max(0) as u32;
    let (signal, timeout) = shutdown_of(spec);
    let now = Instant::now();

    // Liveness failures and scale-down first, outside the lock (stopping takes it).
    let mut stops = Vec::new();
    for (&index, replica) in lock(run).replicas.iter() {
        if replica.ended.is_some() || replica.stopping.is_some() {
            continue;
        }
        if index >= desired {
            stops.push((index, StopCause::ScaledDown, None));
        } else if let Some(failure) = replica.checks.liveness_failure() {
            stops.push((index, StopCause::Liveness, Some(failure)));
        }
    }
    for (index, cause, failure) in stops {
        if let Some(failure) = failure {
            let line = format!("replica {index}: liveness check failed: {failure}; stopping it");
            ctx.system_log(object, index, &line);
            ctx.event(object, true, "Unhealthy", line);
        }
        let wake = K::waker(ctx).clone();
        stop_replica(run, index, cause, signal, timeout, wake, key.clone());
    }

    let mut respawn = Vec::new();
    let mut soonest: Option<Instant> = None;
    {
        let mut guard = lock(run);
        let r = &mut *guard;
        r.replicas
            .retain(|&index, replica| index < desired || replica.ended.is_none());
        r.restart_due.retain(|&index, _| index < desired);
        // Ended replicas: restart per policy.
        for (&index, replica) in r.replicas.iter() {
            let Some(ended) = replica.ended else { continue };
            if r.restart_due.contains_key(&index) || replica.stopping == Some(StopCause::Requested)
            {
                continue;
            }
            let crashed = !ended.success() || replica.stopping == Some(StopCause::Liveness);
            let restart = match spec.restart_policy {
                RestartPolicy::Never => false,
                RestartPolicy::OnFailure => crashed,
                RestartPolicy::Always => true,
            };
            if !restart {
                continue;
            }
            let reset = replica.started.elapsed() >= backoff::RESET_AFTER;
            let delay = backoff::delay(&spec.restart_backoff, runs.next_attempt(&uid, reset));
            let line = format!(
                "replica {index} {}; restarting in {:.1} s",
                ended.describe(),
                delay.as_secs_f64()
            );
            ctx.system_log(object, index, &line);
            r.restart_due.insert(index, now + delay);
        }
        let alive = r.alive();
        for (&index, &due) in r.restart_due.iter() {
            if alive > 0 && due <= now {
                respawn.push(index);
            } else {
                soonest = Some(soonest.map_or(due, |s| s.min(due)));
            }
        }
        // Scale up: replicas never started in this run.
        for index in 0..desired {
            if !r.replicas.contains_key(&index) && !r.restart_due.contains_key(&index) && alive > 0
            {
                respawn.push(index);
            }
        }
        if alive == 0 && respawn.is_empty() {
            // Over: the caller folds the result in (a due restart goes through the waits again).
            return Ok(None);
        }
    }
    for index in respawn {
        let restarted = lock(run).restart_due.remove(&index).is_some();
        if restarted {
            status.restart_count += 1;
            let note = format!(
                "restarting replica {index} (restart {})",
                status.restart_count
            );
            ctx.event(object, false, "Restarting", note);
        }
        if let Err(resolve::Problem::Waiting(message) | resolve::Problem::Invalid(message)) =
            launch_replica(run, object, ctx, index).await
        {
            ctx.system_log(object, index, &message);
            let retry = backoff::delay(&spec.restart_backoff, runs.next_attempt(&uid, false));
            lock(run).restart_due.insert(index, Instant::now() + retry);
        }
    }
    let mut outcome = Outcome::new(ResourceState::Running, reason::RUNNING, None);
    outcome.requeue = soonest.map(|due| due.saturating_duration_since(Instant::now()));
    Ok(Some(outcome))
}

/// The start path: waits, then every replica. Returns the resulting outcome.
async fn start<K: Workload>(
    object: &K,
    ctx: &Context,
    key: &str,
    status: &mut RunStatus,
    bypass_waits: bool,
    after_control_plane_restart: bool,
) -> Result<Outcome, Error> {
    let namespace = object.namespace().unwrap_or_default();
    let name = object.name_any();
    let spec = object.run_spec();
    let runs = K::runs(ctx);
    if !bypass_waits {
        let waits = Waits {
            wait_for: &spec.wait_for,
            parent: spec.parent.as_ref().map(|p| p.name.as_str()),
            parameters: resolve::parameters(spec),
        };
        match waits.judge(|dep| ctx.directory.lookup(&namespace, dep)) {
            Verdict::Go => {}
            Verdict::Wait(message) => {
                let why = if spec.parent.is_some() && message.contains("parent") {
                    reason::WAITING_FOR_PARENT
                } else {
                    reason::WAITING_FOR_DEPENDENCY
                };
                return Ok(Outcome::new(ResourceState::Waiting, why, message));
            }
            Verdict::ParentStopped(message) => {
                return Ok(Outcome::new(
                    if status.started_at.is_some() {
                        ResourceState::Exited
                    } else {
                        ResourceState::Waiting
                    },
                    reason::WAITING_FOR_PARENT,
                    message,
                ));
            }
            Verdict::Fail(message) => {
                ctx.event(object, true, "FailedToStart", message.clone());
                ctx.system_log(object, 0, &message);
                let mut o = Outcome::new(
                    ResourceState::FailedToStart,
                    reason::DEPENDENCY_FAILED,
                    message,
                );
                o.requeue = None;
                return Ok(o);
            }
        }
    }
    if let Err(message) = shutdown_signal(spec) {
        return Ok(failed_to_start(object, ctx, message));
    }
    let previous = status.endpoints.clone();
    let ports = match ports::plan(spec, K::OWN_NETWORK, &previous) {
        Ok(ports) => ports,
        Err(message) => return Ok(failed_to_start(object, ctx, message)),
    };
    let run = runs.insert(&object.uid().unwrap_or_default(), Run::new(key.to_owned()));
    lock(&run).ports = ports;
    let desired = spec.replicas.max(0) as u32;
    for index in 0..desired {
        match launch_replica(&run, object, ctx, index).await {
            Ok(()) => {}
            // Only the first replica can find a reference missing: nothing runs yet.
            Err(resolve::Problem::Waiting(message)) if index == 0 && !bypass_waits => {
                runs.remove(&object.uid().unwrap_or_default());
                return Ok(Outcome::new(
                    ResourceState::Waiting,
                    reason::WAITING_FOR_REFERENCE,
                    message,
                ));
            }
            Err(resolve::Problem::Waiting(message) | resolve::Problem::Invalid(message)) => {
                lock(&run).ending = true;
                stop_all(&run, object, ctx);
                return Ok(failed_to_start(object, ctx, message));
            }
        }
    }
    let why = if after_control_plane_restart {
        " (started again after the control plane restarted)"
    } else {
        ""
    };
    ctx.event(
        object,
        false,
        "Starting",
        format!("starting {desired} replica(s) of {name}{why}"),
    );
    status.started_at = Some(Time(Timestamp::now()));
    status.finished_at = None;
    status.exit_code = None;
    let mut outcome = Outcome::new(ResourceState::Starting, reason::STARTING, None);
    // Running is confirmed by the next reconcile, right away.
    outcome.requeue = Some(Duration::ZERO);
    Ok(outcome)
}

fn failed_to_start<K: Workload>(object: &K, ctx: &Context, message: String) -> Outcome {
    ctx.event(object, true, "FailedToStart", message.clone());
    ctx.system_log(object, 0, &format!("failed to start: {message}"));
    Outcome::new(
        ResourceState::FailedToStart,
        reason::FAILED_TO_START,
        message,
    )
}

/// Starts replica `index`: its ports, its inputs resolved with those ports (so
/// `{self.endpoints.http.targetPort}` is this replica's), and watches it.
async fn launch_replica<K: Workload>(
    run: &RunHandle,
    object: &K,
    ctx: &Context,
    index: u32,
) -> Result<(), resolve::Problem> {
    let invalid = resolve::Problem::Invalid;
    let target_ports: BTreeMap<String, u16> =
        lock(run).ports.target_ports(index).map_err(invalid)?;
    let location = match object.expr_context() {
        crate::expr::Context::Process => Location::Host,
        crate::expr::Context::Container { network } => Location::Container {
            name: object.name_any(),
            network,
        },
    };
    let own = lock(run)
        .ports
        .own_entry(object.run_spec(), location, &target_ports);
    let resolved = resolve::inputs(object, ctx, own)?;
    let key = lock(run).spec_hash.clone();
    let launch = Launch {
        index,
        lifecycle_key: &key,
        env: resolved.env,
        args: resolved.args,
        masked_args: resolved.masked_args,
        target_ports,
    };
    let replica = object.launch(ctx, launch).await.map_err(invalid)?;
    track(
        run,
        index,
        replica,
        K::waker(ctx).clone(),
        ObjectRef::from_obj(object),
    );
    Ok(())
}

/// The runtime cannot be reached: say so in the status (without touching what runs or
/// forgetting a terminal state) and look again soon.
async fn runtime_unhealthy<K: Workload>(
    object: &K,
    ctx: &Context,
    api: &Api<K>,
    old: Option<RunStatus>,
    old_json: Option<serde_json::Value>,
    problem: String,
) -> Result<Action, Error> {
    let mut status = old.clone().unwrap_or_default();
    let runs = K::runs(ctx);
    let uid = object.uid().unwrap_or_default();
    let run = runs.get(&uid);
    let keep = status.state.is_terminal() || status.state == ResourceState::NotStarted;
    if !keep {
        report::fill(
            &mut status,
            object,
            run.as_ref(),
            ResourceState::RuntimeUnhealthy,
            reason::RUNTIME_UNHEALTHY,
            Some(problem.clone()),
        );
        if old.as_ref().map(|s| s.state) != Some(ResourceState::RuntimeUnhealthy) {
            ctx.event(object, true, "RuntimeUnhealthy", problem.clone());
            ctx.system_log(object, 0, &problem);
        }
        let new_json = object.status_json(&status, run.as_ref());
        if let Some(updated) =
            status_patch::write(api, &object.name_any(), old_json.as_ref(), &new_json).await?
        {
            runs.remember_status(&uid, &updated, status, new_json);
        }
    }
    Ok(Action::requeue(Duration::from_secs(2)))
}

/// Events and system log lines for the transitions between `old` and `new`.
fn announce<K: Workload>(object: &K, ctx: &Context, old: Option<&RunStatus>, new: &RunStatus) {
    let was_ready = old.is_some_and(|s| {
        crate::api::conditions::is_true(&s.conditions, crate::api::conditions::READY)
    });
    let ready = crate::api::conditions::is_true(&new.conditions, crate::api::conditions::READY);
    let old_state = old.map(|s| s.state).unwrap_or_default();
    if old.is_none() {
        ctx.event(
            object,
            false,
            "Initialized",
            format!("{} registered", object.name_any()),
        );
    }
    if old_state != new.state {
        ctx.system_log(
            object,
            0,
            &format!(
                "state {old_state} → {}{}",
                new.state,
                new.message
                    .as_ref()
                    .map(|m| format!(": {m}"))
                    .unwrap_or_default()
            ),
        );
        if new.state == ResourceState::Running {
            ctx.event(
                object,
                false,
                "Running",
                format!("{} is running", object.name_any()),
            );
        }
    }
    let had_endpoints = old.is_some_and(|s| !s.endpoints.is_empty());
    if !had_endpoints && !new.endpoints.is_empty() {
        let urls: Vec<String> = new.endpoints.iter().filter_map(|e| e.url.clone()).collect();
        ctx.event(
            object,
            false,
            "EndpointsAllocated",
            format!("endpoints allocated: {}", urls.join(", ")),
        );
    }
    if old.and_then(|s| s.connection_string.as_ref()).is_none()
        && let Some(cs) = &new.connection_string
    {
        ctx.event(
            object,
            false,
            "ConnectionStringAvailable",
            format!("connection string: {cs}"),
        );
    }
    if ready && !was_ready {
        ctx.event(
            object,
            false,
            "Ready",
            format!("{} is ready", object.name_any()),
        );
    }
    if !ready && was_ready && new.state == ResourceState::Running {
        ctx.event(
            object,
            true,
            "Unhealthy",
            new.message.clone().unwrap_or_else(|| "not ready".into()),
        );
    }
}
