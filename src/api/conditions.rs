//! Condition types, reasons and helpers to keep a `conditions` list up to date.
//!
//! Reasons are constants so controllers, the CLI and tests agree on spelling.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::common::{Condition, ConditionStatus};

/// Condition type: the resource is Running and every readiness check passes on every replica.
pub const READY: &str = "Ready";
/// Condition type: the resource reached a terminal state (Finished, Exited, FailedToStart).
pub const COMPLETED: &str = "Completed";

/// Condition reasons (CamelCase, as Kubernetes expects).
pub mod reason {
    /// Created, not yet reconciled.
    pub const INITIALIZING: &str = "Initializing";
    /// `explicitStart` is set and no start was requested.
    pub const NOT_STARTED: &str = "NotStarted";
    /// `spec.stopped` is true.
    pub const STOPPED: &str = "Stopped";
    /// A `waitFor` dependency has not reached its condition yet.
    pub const WAITING_FOR_DEPENDENCY: &str = "WaitingForDependency";
    /// The parent has not started yet.
    pub const WAITING_FOR_PARENT: &str = "WaitingForParent";
    /// An expression names a resource or endpoint that does not exist yet.
    pub const WAITING_FOR_REFERENCE: &str = "WaitingForReference";
    /// A Parameter has no value yet (the variable to set is in the message).
    pub const VALUE_MISSING: &str = "ValueMissing";
    /// A Parameter's value is known.
    pub const VALUE_AVAILABLE: &str = "ValueAvailable";
    /// A Value's `onParentReady` command is running or failed.
    pub const ON_PARENT_READY_PENDING: &str = "OnParentReadyPending";
    /// Replicas are being started.
    pub const STARTING: &str = "Starting";
    /// Running and every readiness check passes.
    pub const RUNNING: &str = "Running";
    /// Running, but a readiness check has not passed yet or is failing.
    pub const HEALTH_CHECK_FAILING: &str = "HealthCheckFailing";
    /// Not every desired replica is running.
    pub const REPLICAS_NOT_READY: &str = "ReplicasNotReady";
    /// Backing off before the next restart.
    pub const RESTARTING: &str = "Restarting";
    /// Replicas are being stopped.
    pub const STOPPING: &str = "Stopping";
    /// Exited on its own with exit code 0.
    pub const FINISHED: &str = "Finished";
    /// Exited with a non-zero code, was killed or was stopped.
    pub const EXITED: &str = "Exited";
    /// Never started (missing binary or image, bad reference, ...).
    pub const FAILED_TO_START: &str = "FailedToStart";
    /// A `waitFor` dependency failed and waitBehavior is StopOnResourceUnavailable.
    pub const DEPENDENCY_FAILED: &str = "DependencyFailed";
    /// The container runtime (Docker API) is unreachable or unhealthy.
    pub const RUNTIME_UNHEALTHY: &str = "RuntimeUnhealthy";
    /// The parent stopped, was deleted or failed.
    pub const PARENT_STOPPED: &str = "ParentStopped";
    /// A port is already in use.
    pub const PORT_CONFLICT: &str = "PortConflict";
}

impl Condition {
    /// A condition of `type_` with `status` and `reason`, transitioning at `now`.
    pub fn new(
        type_: &str,
        status: impl Into<ConditionStatus>,
        reason: &str,
        message: Option<String>,
        now: Time,
    ) -> Self {
        Self {
            type_: type_.to_owned(),
            status: status.into(),
            reason: reason.to_owned(),
            message,
            observed_generation: None,
            last_transition_time: now,
        }
    }

    /// The same condition, recorded against `generation`.
    pub fn with_observed_generation(mut self, generation: Option<i64>) -> Self {
        self.observed_generation = generation;
        self
    }
}

/// The condition of `type_`, if present.
pub fn find<'a>(conditions: &'a [Condition], type_: &str) -> Option<&'a Condition> {
    conditions.iter().find(|c| c.type_ == type_)
}

/// True iff the condition of `type_` is present with status True.
pub fn is_true(conditions: &[Condition], type_: &str) -> bool {
    find(conditions, type_).is_some_and(|c| c.status == ConditionStatus::True)
}

/// Inserts or updates the condition of `condition.type_`. The existing
/// `lastTransitionTime` is kept unless the status changes, so an unchanged condition
/// does not cause a status write. Returns whether anything changed.
pub fn set(conditions: &mut Vec<Condition>, condition: Condition) -> bool {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        None => {
            conditions.push(condition);
            true
        }
        Some(existing) => {
            let mut updated = condition;
            if updated.status == existing.status {
                updated.last_transition_time = existing.last_transition_time.clone();
            }
            if *existing == updated {
                return false;
            }
            *existing = updated;
            true
        }
    }
}

/// Removes the condition of `type_`; returns whether it was present.
pub fn remove(conditions: &mut Vec<Condition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Time {
        Time(jiff::Timestamp::from_second(seconds).unwrap())
    }

    #[test]
    fn set_adds_a_missing_condition() {
        let mut conditions = Vec::new();
        assert!(set(
            &mut conditions,
            Condition::new(READY, false, reason::STARTING, None, at(1))
        ));
        assert_eq!(conditions.len(), 1);
        assert_eq!(conditions[0].status, ConditionStatus::False);
    }

    #[test]
    fn set_keeps_transition_time_when_status_is_unchanged() {
        let mut conditions = vec![Condition::new(READY, false, reason::STARTING, None, at(1))];
        let changed = set(
            &mut conditions,
            Condition::new(READY, false, reason::HEALTH_CHECK_FAILING, None, at(2)),
        );
        assert!(changed, "a new reason is a change");
        assert_eq!(conditions[0].reason, reason::HEALTH_CHECK_FAILING);
        assert_eq!(conditions[0].last_transition_time, at(1));
    }

    #[test]
    fn set_reports_no_change_for_an_identical_condition() {
        let mut conditions = vec![Condition::new(READY, true, reason::RUNNING, None, at(1))];
        let same = Condition::new(READY, true, reason::RUNNING, None, at(5));
        assert!(!set(&mut conditions, same));
        assert_eq!(conditions[0].last_transition_time, at(1));
    }

    #[test]
    fn set_bumps_transition_time_when_status_changes() {
        let mut conditions = vec![Condition::new(READY, false, reason::STARTING, None, at(1))];
        assert!(set(
            &mut conditions,
            Condition::new(READY, true, reason::RUNNING, None, at(3))
        ));
        assert!(is_true(&conditions, READY));
        assert_eq!(conditions[0].last_transition_time, at(3));
    }

    #[test]
    fn remove_drops_only_the_named_type() {
        let mut conditions = vec![
            Condition::new(READY, false, reason::EXITED, None, at(1)),
            Condition::new(COMPLETED, true, reason::EXITED, None, at(1)),
        ];
        assert!(remove(&mut conditions, READY));
        assert!(!remove(&mut conditions, READY));
        assert_eq!(
            find(&conditions, COMPLETED).map(|c| c.status),
            Some(ConditionStatus::True)
        );
    }
}
