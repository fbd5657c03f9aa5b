//! Assembling a workload's status from the decided state and the live run: per
//! replica details, health, endpoints, the `Ready` and `Completed` conditions, and
//! the relationships the dashboard draws.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::Workload;
use super::runs::{RunHandle, lock};
use crate::api::conditions::{self, COMPLETED, READY, reason};
use crate::api::{
    Condition, EndpointStatus, Health, Relationship, ReplicaStatus, ResourceState, RunSpec,
    RunStatus,
};

/// Fills `status` for `state` (the reconcile's decision) from `run`.
pub fn fill<K: Workload>(
    status: &mut RunStatus,
    object: &K,
    run: Option<&RunHandle>,
    mut state: ResourceState,
    mut why: &'static str,
    mut message: Option<String>,
) {
    let generation = object.meta().generation;
    let spec = object.run_spec();
    let desired = spec.replicas.max(0) as u32;
    let mut ready = false;
    if let Some(run) = run {
        let run = lock(run);
        status.replicas = run
            .replicas
            .iter()
            .map(|(&index, replica)| {
                let replica_state = match (&replica.ended, replica.stopping) {
                    (Some(ended), _) if ended.success() => ResourceState::Finished,
                    (Some(_), _) => ResourceState::Exited,
                    (None, Some(_)) => ResourceState::Stopping,
                    (None, None) => ResourceState::Running,
                };
                ReplicaStatus {
                    index: index as i32,
                    pid: (replica.ended.is_none() && replica.process.pid() > 0)
                        .then(|| replica.process.pid() as i64),
                    container_id: replica.process.container_id().map(str::to_owned),
                    state: replica_state,
                    health: replica
                        .ended
                        .is_none()
                        .then(|| replica.checks.health())
                        .flatten(),
                    target_ports: replica
                        .target_ports
                        .iter()
                        .map(|(k, v)| (k.clone(), *v as i32))
                        .collect(),
                    exit_code: replica.ended.and_then(|e| e.code),
                    started_at: Some(Time(replica.started_at)),
                    message: replica
                        .ended
                        .map(|e| e.describe())
                        .or_else(|| replica.checks.readiness().err()),
                }
            })
            .collect();
        let routes: Vec<(u32, bool)> = run
            .replicas
            .iter()
            .filter(|(_, r)| r.ended.is_none())
            .map(|(&i, r)| (i, r.stopping.is_none() && r.checks.readiness().is_ok()))
            .collect();
        run.ports.route(&routes);
        let alive: Vec<_> = run
            .replicas
            .iter()
            .filter(|(i, r)| **i < desired && r.ended.is_none() && r.stopping.is_none())
            .collect();
        let all_up = alive.len() as u32 == desired;
        if state == ResourceState::Running || state == ResourceState::Starting {
            if state == ResourceState::Starting && all_up {
                // Spawned in this reconcile: Running from the next one on.
            } else if !all_up {
                why = reason::REPLICAS_NOT_READY;
                message = Some(format!("{} of {desired} replicas running", alive.len()));
            } else {
                let unready = alive.iter().find_map(|(i, r)| {
                    r.checks
                        .readiness()
                        .err()
                        .map(|m| format!("replica {i}: {m}"))
                });
                match unready {
                    None => {
                        ready = true;
                        why = reason::RUNNING;
                    }
                    Some(m) => {
                        why = reason::HEALTH_CHECK_FAILING;
                        message = Some(m);
                    }
                }
            }
        }
        status.health = aggregate(alive.iter().map(|(_, r)| r.checks.health()));
        status.endpoints = run
            .ports
            .endpoints
            .iter()
            .zip(&spec.endpoints)
            .map(|(ports, endpoint)| EndpointStatus {
                name: ports.name.clone(),
                url: Some(format!(
                    "{}://localhost:{}",
                    endpoint.scheme.as_str(),
                    ports.port
                )),
                host: Some("localhost".into()),
                port: Some(ports.port as i32),
                // A container's replicas all listen on its targetPort (inside).
                target_ports: match endpoint.target_port {
                    Some(inside) if K::OWN_NETWORK => vec![inside],
                    _ => (0..desired)
                        .filter_map(|i| {
                            ports
                                .fixed_target
                                .or_else(|| ports.targets.get(&i).copied())
                        })
                        .map(i32::from)
                        .collect(),
                },
            })
            .collect();
    } else {
        status.health = None;
        if matches!(state, ResourceState::Waiting | ResourceState::NotStarted)
            || state == ResourceState::FailedToStart && status.started_at.is_none()
        {
            status.replicas.clear();
        }
        for replica in &mut status.replicas {
            replica.pid = None;
            replica.health = None;
            if !replica.state.is_terminal() {
                replica.state = state;
            }
        }
    }
    if state == ResourceState::Starting && ready {
        state = ResourceState::Running;
    }
    if state == ResourceState::Exited && why != reason::RESTARTING {
        status.next_restart_at = None;
    }
    status.state = state;
    status.message = message;
    status.observed_generation = generation;
    let now = Time(Timestamp::now());
    conditions::set(
        &mut status.conditions,
        Condition::new(
            READY,
            ready,
            if ready { reason::RUNNING } else { why },
            (!ready).then(|| status.message.clone()).flatten(),
            now.clone(),
        )
        .with_observed_generation(generation),
    );
    let completed = state.is_terminal() && status.next_restart_at.is_none();
    conditions::set(
        &mut status.conditions,
        Condition::new(
            COMPLETED,
            completed,
            if completed {
                completed_reason(state)
            } else {
                why
            },
            None,
            now,
        )
        .with_observed_generation(generation),
    );
    status.relationships = relationships(spec);
}

fn completed_reason(state: ResourceState) -> &'static str {
    match state {
        ResourceState::Finished => reason::FINISHED,
        ResourceState::FailedToStart => reason::FAILED_TO_START,
        _ => reason::EXITED,
    }
}

/// Healthy only when every replica is; Unhealthy when any is; `None` without checks.
fn aggregate(healths: impl Iterator<Item = Option<Health>>) -> Option<Health> {
    let healths: Vec<Health> = healths.flatten().collect();
    if healths.is_empty() {
        return None;
    }
    Some(if healths.contains(&Health::Unhealthy) {
        Health::Unhealthy
    } else if healths.iter().all(|h| *h == Health::Healthy) {
        Health::Healthy
    } else {
        Health::Unknown
    })
}

/// Parent, waits, references and declared relationships, for the dashboard and `get --tree`.
pub fn relationships(spec: &RunSpec) -> Vec<Relationship> {
    let mut all: Vec<Relationship> = Vec::new();
    let mut add = |name: &str, type_: &str| {
        let r = Relationship {
            name: name.to_owned(),
            type_: type_.to_owned(),
        };
        if !all.contains(&r) {
            all.push(r);
        }
    };
    if let Some(parent) = &spec.parent {
        add(&parent.name, "Parent");
    }
    for wait in &spec.wait_for {
        add(&wait.name, "WaitFor");
    }
    for name in &spec.references {
        add(name, "Reference");
    }
    for r in &spec.relationships {
        add(&r.name, &r.type_);
    }
    all
}
