//! `Value` (short name `val`): a resource with no process of its own, such as a database
//! inside a database server (Aspire's `value.v0`).

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::common::{Condition, ExecAction, ParentRef, Relationship, ResourceState};

/// Desired state of a Value: its connection string and the parent it lives in.
// clippy mistakes the repeated `type_ = "string"` inside `printcolumn(...)` for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kaspire.dev",
    version = "v1alpha1",
    kind = "Value",
    namespaced,
    status = "ValueStatus",
    shortname = "val",
    category = "kaspire",
    category = "all",
    derive = "PartialEq",
    doc = "Value is a resource with no process of its own, e.g. a database inside a server \
           (Aspire's AddDatabase); its state mirrors its parent's.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Parent", type_ = "string", json_path = ".spec.parent.name"),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ValueSpec {
    /// Connection string template, e.g. `{pg.connectionString};Database=appdata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,

    /// The resource this value lives in, e.g. `{name: pg}`; it is stopped and deleted with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,

    /// Action run inside the parent once it is Ready, e.g.
    /// `{exec: {command: [psql, -U, postgres, -c, CREATE DATABASE appdata]}}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_parent_ready: Option<OnParentReady>,
}

/// What to run inside the parent once it is Ready.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OnParentReady {
    /// Command run inside the parent (in its container for Containers); must exit 0.
    pub exec: ExecAction,
}

/// Observed state of a Value.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ValueStatus {
    /// Mirrors the parent's state (Running when there is no parent).
    #[serde(default)]
    pub state: ResourceState,
    /// Condition `Ready`: True when the parent is Ready and `onParentReady` succeeded.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
    /// Human-readable explanation, e.g. the error of `onParentReady`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The resolved connection string, with secret values masked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,
    /// The metadata.generation this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// The uid of the parent this value is attached to (owned by). When the value's
    /// ownerReference to it is gone, the parent was deleted with `--cascade=orphan` and
    /// the value is left as it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_uid: Option<String>,
    /// The parent run `onParentReady` last ran against and how it ended; it runs again
    /// only for a new parent run (another uid or `startedAt`) or to retry a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_parent_ready: Option<OnParentReadyStatus>,
    /// Relationships shown by the dashboard: the parent and what the connection string names.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,
}

/// The last run of `onParentReady`: which parent run it was for and how it ended.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OnParentReadyStatus {
    /// The uid of the parent the command ran in.
    pub parent_uid: String,
    /// The parent's `status.startedAt` at the time: a restarted parent is a new run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_started_at: Option<Time>,
    /// The command exited with code 0 in that parent run.
    #[serde(default)]
    pub succeeded: bool,
    /// Exit code of the last attempt, when it exited by itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_code: Option<i32>,
    /// Failed attempts in a row against this parent run (the retry backoff grows with it).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub failures: i32,
    /// When the last attempt ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// When the next attempt is due, after a failure.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_retry_at: Option<Time>,
}

fn is_zero(value: &i32) -> bool {
    *value == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_with_on_parent_ready_parses() {
        let v: Value = serde_saphyr::from_str(
            "apiVersion: kaspire.dev/v1alpha1\nkind: Value\nmetadata: {name: appdata}\nspec:\n  \
             connectionString: \"{pg.connectionString};Database=appdata\"\n  parent: {name: pg}\n  \
             onParentReady:\n    exec: {command: [psql, -U, postgres, -c, CREATE DATABASE appdata]}\n",
        )
        .unwrap();
        assert_eq!(v.spec.parent.as_ref().map(|p| p.name.as_str()), Some("pg"));
        assert_eq!(
            v.spec.on_parent_ready.as_ref().unwrap().exec.command[4],
            "CREATE DATABASE appdata"
        );
        let json = serde_json::to_value(&v).unwrap();
        assert_eq!(json["spec"]["onParentReady"]["exec"]["command"][0], "psql");
        assert_eq!(serde_json::from_value::<Value>(json).unwrap(), v);
    }
}
