//! `Container` (short name `ctr`): a Docker container, driven through the Docker Engine API.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{RunSpec, RunStatus, defaults};

/// Desired state of a Container: the image and runtime options plus the shared lifecycle
/// fields. Every endpoint needs `targetPort` (the port inside the container).
// clippy mistakes the repeated `type_ = "string"` inside `printcolumn(...)` for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kaspire.dev",
    version = "v1alpha1",
    kind = "Container",
    namespaced,
    status = "ContainerStatus",
    shortname = "ctr",
    category = "kaspire",
    category = "all",
    derive = "PartialEq",
    doc = "Container runs a Docker container (one or more replicas) through the Docker Engine API, \
           like an Aspire container resource.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Health", type_ = "string", json_path = ".status.health"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.endpoints[0].url"),
    printcolumn(
        name = "Image",
        type_ = "string",
        json_path = ".spec.image",
        priority = 1
    ),
    printcolumn(
        name = "Restarts",
        type_ = "integer",
        json_path = ".status.restartCount",
        priority = 1
    ),
    printcolumn(
        name = "Age",
        type_ = "date",
        json_path = ".metadata.creationTimestamp"
    )
)]
#[serde(rename_all = "camelCase")]
pub struct ContainerSpec {
    /// Image reference `name:tag`, e.g. `docker.io/library/postgres:17`.
    pub image: String,

    /// When to pull the image: IfNotPresent (default), Always or Never.
    #[serde(default)]
    pub pull_policy: PullPolicy,

    /// Overrides the image's entrypoint, e.g. `/bin/sh`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<String>,

    /// Bind mounts and named volumes, e.g. `{type: volume, source: pgdata, target: /var/lib/postgresql/data}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<VolumeMount>,

    /// Extra create options the runtime understands, as `docker run` flags, e.g. `[--shm-size, 256m]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub runtime_args: Vec<String>,

    /// Name of the container in the runtime; default: derived from the resource name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_name: Option<String>,

    /// Network to attach to; default: one network per namespace, where containers reach each
    /// other as `NAME:TARGETPORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,

    /// Arguments, environment, endpoints, replicas, waits, health checks, restart policy,
    /// parent, lifetime, references and shutdown (shared with Executable).
    #[serde(flatten)]
    pub run: RunSpec,
}

/// The network `ctr` is attached to: `spec.network`, or the namespace's
/// (`kaspire-NAMESPACE`), where containers reach each other by resource name.
pub fn container_network(ctr: &Container) -> String {
    ctr.spec.network.clone().unwrap_or_else(|| {
        format!(
            "kaspire-{}",
            ctr.metadata.namespace.as_deref().unwrap_or("default")
        )
    })
}

/// Image pull policy: `IfNotPresent` (default), `Always` or `Never`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum PullPolicy {
    #[default]
    IfNotPresent,
    Always,
    Never,
}

/// A bind mount or named volume, e.g. `{type: bind, source: ./init, target: /docker-entrypoint-initdb.d, readOnly: true}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct VolumeMount {
    /// bind (a host path) or volume (a named runtime volume).
    #[serde(rename = "type")]
    pub type_: VolumeType,
    /// Host path (bind; relative paths are resolved against the working directory) or volume
    /// name (volume; absent means an anonymous volume).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// Absolute path inside the container.
    pub target: String,
    /// Mount read-only. Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub read_only: bool,
}

/// Volume type: `bind` (a host path) or `volume` (a named runtime volume).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum VolumeType {
    Bind,
    #[default]
    Volume,
}

/// Observed state of a Container: the shared status plus runtime identifiers.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ContainerStatus {
    /// Id of the runtime container (of replica 0 when there are several; see `replicas[]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container_id: Option<String>,
    /// Image actually run, as resolved by the runtime (e.g. with its digest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// State, health, conditions, replicas, endpoints and the rest (shared with Executable).
    #[serde(flatten)]
    pub run: RunStatus,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::ResourceState;

    #[test]
    fn container_round_trips_with_volumes_and_status() {
        let yaml = r#"
apiVersion: kaspire.dev/v1alpha1
kind: Container
metadata: {name: pg}
spec:
  image: docker.io/library/postgres:17
  env: [{name: POSTGRES_PASSWORD, value: "{pg-password.value}"}]
  endpoints: [{name: tcp, scheme: tcp, targetPort: 5432}]
  volumes:
    - {type: volume, source: pgdata, target: /var/lib/postgresql/data}
    - {type: bind, source: ./init, target: /docker-entrypoint-initdb.d, readOnly: true}
  runtimeArgs: [--shm-size, 256m]
  healthChecks: [{exec: {command: [pg_isready, -U, postgres]}}]
status:
  state: Running
  containerId: 3f2a
  image: postgres@sha256:abc
"#;
        let ctr: Container = serde_saphyr::from_str(yaml).unwrap();
        assert_eq!(ctr.spec.pull_policy, PullPolicy::IfNotPresent);
        assert_eq!(ctr.spec.volumes[0].type_, VolumeType::Volume);
        assert_eq!(ctr.spec.volumes[1].type_, VolumeType::Bind);
        assert!(ctr.spec.volumes[1].read_only);
        assert_eq!(ctr.spec.run.endpoints[0].target_port, Some(5432));
        let status = ctr.status.as_ref().unwrap();
        assert_eq!(status.container_id.as_deref(), Some("3f2a"));
        assert_eq!(status.run.state, ResourceState::Running);

        let json = serde_json::to_value(&ctr).unwrap();
        assert_eq!(json["spec"]["volumes"][1]["readOnly"], true);
        assert_eq!(json["spec"]["runtimeArgs"][0], "--shm-size");
        assert_eq!(json["status"]["containerId"], "3f2a");
        assert_eq!(json["status"]["state"], "Running");
        assert_eq!(serde_json::from_value::<Container>(json).unwrap(), ctr);
    }
}
