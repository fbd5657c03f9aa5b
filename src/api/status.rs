//! Status pieces shared by the kaspire kinds: state and health enums, conditions,
//! replica and endpoint status, and [`RunStatus`] (Executable and Container).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::Relationship;

/// Lifecycle state (`status.state`): Unknown, NotStarted, Waiting, Starting, Running,
/// RuntimeUnhealthy, Stopping, Finished (exit code 0), Exited (non-zero, killed or stopped),
/// FailedToStart (never started).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ResourceState {
    #[default]
    Unknown,
    NotStarted,
    Waiting,
    Starting,
    Running,
    RuntimeUnhealthy,
    Stopping,
    Finished,
    Exited,
    FailedToStart,
}

impl ResourceState {
    /// The state as written in status.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unknown => "Unknown",
            Self::NotStarted => "NotStarted",
            Self::Waiting => "Waiting",
            Self::Starting => "Starting",
            Self::Running => "Running",
            Self::RuntimeUnhealthy => "RuntimeUnhealthy",
            Self::Stopping => "Stopping",
            Self::Finished => "Finished",
            Self::Exited => "Exited",
            Self::FailedToStart => "FailedToStart",
        }
    }

    /// True for states a resource stays in until something restarts it.
    pub fn is_terminal(self) -> bool {
        matches!(self, Self::Finished | Self::Exited | Self::FailedToStart)
    }
}

impl std::fmt::Display for ResourceState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Aggregated health: `Healthy`, `Unhealthy` or `Unknown`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Health {
    #[default]
    Unknown,
    Healthy,
    Unhealthy,
}

/// Observed state of an Executable or Container, written by its controller.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunStatus {
    /// Lifecycle state, e.g. Running or FailedToStart.
    #[serde(default)]
    pub state: ResourceState,
    /// Health from the readiness checks: Healthy, Unhealthy or Unknown; absent when there are no checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Conditions `Ready` and `Completed`, with reasons from kaspire's condition constants.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Human-readable explanation of the current state, e.g. what it is waiting for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Exit code of the last run, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// When the current (or last) run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the last run ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// Number of restarts made by the restart policy.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub restart_count: i32,
    /// When the next restart attempt is due, while backing off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_restart_at: Option<Time>,
    /// One entry per desired replica.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replicas: Vec<ReplicaStatus>,
    /// Allocated endpoints with their URLs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointStatus>,
    /// The resolved connection string, with secret values masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The metadata.generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Relationships shown by the dashboard: parent, references, waits and declared ones.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,
    /// The `kaspire.dev/start-requested-at` annotation value last acted on; a request
    /// is done once this equals the annotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_start_request: Option<String>,
    /// The `kaspire.dev/restart-requested-at` annotation value last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handled_restart_request: Option<String>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

/// A status condition, like Kubernetes' metav1.Condition.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Condition {
    /// Condition type, e.g. `Ready` or `Completed`.
    #[serde(rename = "type")]
    pub type_: String,
    /// True, False or Unknown.
    pub status: ConditionStatus,
    /// CamelCase machine-readable reason, e.g. `WaitingForDependency`.
    pub reason: String,
    /// Human-readable details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The metadata.generation the condition was computed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// When `status` last changed.
    pub last_transition_time: Time,
}

/// Condition status: `True`, `False` or `Unknown`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

impl From<bool> for ConditionStatus {
    fn from(value: bool) -> Self {
        if value { Self::True } else { Self::False }
    }
}

/// Status of one replica.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ReplicaStatus {
    /// Replica index, 0-based (the `replica` parameter of the log subresource).
    pub index: i32,
    /// Process id (Executables).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<i64>,
    /// Container id (Containers).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Lifecycle state of this replica.
    #[serde(default)]
    pub state: ResourceState,
    /// Health of this replica; absent when there are no checks.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
    /// Target port of this replica per endpoint name, e.g. `{http: 53124}`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub target_ports: BTreeMap<String, i32>,
    /// Exit code, once this replica ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// When this replica started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// Human-readable details, e.g. the failing check.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// An allocated endpoint.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointStatus {
    /// Endpoint name from the spec.
    pub name: String,
    /// URL clients use, e.g. `http://localhost:5080`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Host clients use, e.g. `localhost`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// Stable port clients use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<i32>,
    /// Target port of each replica, by replica index.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub target_ports: Vec<i32>,
}
