//! `Executable` (short name `exe`): a process on the developer's machine — what Aspire
//! calls an executable or a project.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{RunSpec, RunStatus};

/// Desired state of an Executable: the command to run plus the shared lifecycle fields.
// clippy mistakes the repeated `type_ = "string"` inside `printcolumn(...)` for duplicates.
#[allow(clippy::duplicated_attributes)]
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "kaspire.dev",
    version = "v1alpha1",
    kind = "Executable",
    namespaced,
    status = "ExecutableStatus",
    shortname = "exe",
    category = "kaspire",
    category = "all",
    derive = "PartialEq",
    doc = "Executable runs a process (one or more replicas) on the developer's machine, \
           like an Aspire executable or project.",
    printcolumn(name = "State", type_ = "string", json_path = ".status.state"),
    printcolumn(name = "Health", type_ = "string", json_path = ".status.health"),
    printcolumn(name = "URL", type_ = "string", json_path = ".status.endpoints[0].url"),
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
pub struct ExecutableSpec {
    /// Program to run, looked up on PATH unless it contains a slash, e.g. `dotnet` or `./bin/api`.
    pub command: String,

    /// Working directory of the process; default: the directory kaspire runs in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,

    /// Path of a dotenv file whose variables are set before `env`, e.g. `.env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env_file: Option<String>,

    /// Arguments, environment, endpoints, replicas, waits, health checks, restart policy,
    /// parent, lifetime, references and shutdown (shared with Container).
    #[serde(flatten)]
    pub run: RunSpec,
}

/// Observed state of an Executable.
pub type ExecutableStatus = RunStatus;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::common::*;

    const API_YAML: &str = r#"
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata:
  name: api
  namespace: default
spec:
  command: dotnet
  args: [run, --project, src/Api, --no-launch-profile]
  workingDir: ./services
  env:
    - name: ConnectionStrings__db
      value: "{appdata.connectionString}"
    - name: EMPTY
  endpoints:
    - name: http
      scheme: http
      env: PORT
    - name: metrics
      scheme: tcp
      port: 9464
      targetPort: 9464
      proxied: false
  replicas: 2
  waitFor:
    - name: pg
    - name: migrations
      condition: Completed
      exitCode: 0
      waitBehavior: WaitOnResourceUnavailable
  healthChecks:
    - http:
        endpoint: http
        path: /health
    - type: liveness
      tcp: {endpoint: http}
      periodSeconds: 10
  restartPolicy: OnFailure
  references: [pg, cache]
  lifetime: Persistent
  shutdown:
    signal: SIGINT
  hidden: true
"#;

    #[test]
    fn realistic_executable_round_trips() {
        let exe: Executable = serde_saphyr::from_str(API_YAML).unwrap();
        let spec = &exe.spec;
        assert_eq!(spec.command, "dotnet");
        assert_eq!(spec.working_dir.as_deref(), Some("./services"));
        assert_eq!(spec.run.args.len(), 4);
        assert_eq!(
            spec.run.env[1],
            EnvVar {
                name: "EMPTY".into(),
                value: None
            }
        );
        assert_eq!(spec.run.replicas, 2);
        assert_eq!(spec.run.endpoints[0].port, None);
        assert!(spec.run.endpoints[0].proxied, "proxied defaults to true");
        assert!(!spec.run.endpoints[1].proxied);
        assert_eq!(spec.run.wait_for[0].condition, WaitCondition::Ready);
        assert_eq!(
            spec.run.wait_for[0].wait_behavior,
            WaitBehavior::StopOnResourceUnavailable
        );
        assert_eq!(spec.run.wait_for[1].condition, WaitCondition::Completed);
        assert_eq!(
            spec.run.wait_for[1].wait_behavior,
            WaitBehavior::WaitOnResourceUnavailable
        );
        let http = &spec.run.health_checks[0];
        assert_eq!(http.type_, HealthCheckType::Readiness);
        assert_eq!(
            http.http
                .as_ref()
                .map(|h| (h.path.as_str(), h.expected_status)),
            Some(("/health", 200))
        );
        assert_eq!(
            (
                http.period_seconds,
                http.failure_threshold,
                http.success_threshold
            ),
            (5, 3, 1)
        );
        assert_eq!(spec.run.health_checks[1].type_, HealthCheckType::Liveness);
        assert_eq!(spec.run.restart_policy, RestartPolicy::OnFailure);
        assert_eq!(
            spec.run.restart_backoff,
            RestartBackoff {
                initial_seconds: 1,
                max_seconds: 60
            }
        );
        assert_eq!(spec.run.lifetime, Lifetime::Persistent);
        assert_eq!(
            spec.run.shutdown,
            Shutdown {
                signal: "SIGINT".into(),
                timeout_seconds: 10
            }
        );
        assert!(spec.run.hidden && !spec.run.stopped && !spec.run.explicit_start);

        let json = serde_json::to_value(&exe).unwrap();
        assert_eq!(json["spec"]["workingDir"], "./services");
        assert_eq!(
            json["spec"]["waitFor"][1]["waitBehavior"],
            "WaitOnResourceUnavailable"
        );
        assert_eq!(json["spec"]["healthChecks"][1]["type"], "liveness");
        assert!(
            json["spec"].get("stopped").is_none(),
            "false flags are omitted"
        );
        let back: Executable = serde_json::from_value(json).unwrap();
        assert_eq!(back, exe);
        let yaml = serde_saphyr::to_string(&exe).unwrap();
        assert_eq!(serde_saphyr::from_str::<Executable>(&yaml).unwrap(), exe);
    }

    #[test]
    fn minimal_executable_gets_the_documented_defaults() {
        let exe: Executable =
            serde_saphyr::from_str("apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: w}\nspec: {command: ./worker}\n")
                .unwrap();
        assert_eq!(exe.spec.run, RunSpec::default());
        assert_eq!(exe.spec.run.replicas, 1);
        assert_eq!(exe.spec.run.restart_policy, RestartPolicy::Never);
        assert_eq!(exe.spec.run.lifetime, Lifetime::Session);
    }

    #[test]
    fn status_serializes_camel_case_with_time_strings() {
        let started = jiff::Timestamp::from_second(1_700_000_000).unwrap();
        let status = ExecutableStatus {
            state: ResourceState::Running,
            health: Some(Health::Healthy),
            started_at: Some(started.into()),
            restart_count: 2,
            replicas: vec![ReplicaStatus {
                index: 0,
                pid: Some(4242),
                state: ResourceState::Running,
                target_ports: [("http".to_owned(), 53124)].into(),
                ..Default::default()
            }],
            endpoints: vec![EndpointStatus {
                name: "http".into(),
                url: Some("http://localhost:5080".into()),
                host: Some("localhost".into()),
                port: Some(5080),
                target_ports: vec![53124],
            }],
            observed_generation: Some(3),
            ..Default::default()
        };
        let json = serde_json::to_value(&status).unwrap();
        assert_eq!(json["state"], "Running");
        assert_eq!(json["health"], "Healthy");
        assert_eq!(json["startedAt"], "2023-11-14T22:13:20Z");
        assert_eq!(json["restartCount"], 2);
        assert_eq!(json["replicas"][0]["targetPorts"]["http"], 53124);
        assert_eq!(json["endpoints"][0]["url"], "http://localhost:5080");
        assert_eq!(json["observedGeneration"], 3);
        assert!(json.get("exitCode").is_none());
        assert_eq!(
            serde_json::from_value::<ExecutableStatus>(json).unwrap(),
            status
        );
    }
}
