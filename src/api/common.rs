//! Spec and status pieces shared by the kaspire kinds.
//!
//! [`RunSpec`] and [`RunStatus`] hold everything an Executable and a Container
//! have in common; both kinds flatten them into their own spec and status, so
//! controllers can treat the lifecycle of either kind through one type. The status
//! pieces live in [`super::status`] and are re-exported here.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use super::status::*;

/// Serde/schemars default functions; each value is what product.md promises.
pub(crate) mod defaults {
    use super::*;

    pub fn replicas() -> i32 {
        1
    }
    pub fn period_seconds() -> i32 {
        5
    }
    pub fn failure_threshold() -> i32 {
        3
    }
    pub fn success_threshold() -> i32 {
        1
    }
    pub fn initial_backoff_seconds() -> i32 {
        1
    }
    pub fn max_backoff_seconds() -> i32 {
        60
    }
    pub fn shutdown_signal() -> String {
        "SIGTERM".to_owned()
    }
    pub fn shutdown_timeout_seconds() -> i32 {
        10
    }
    pub fn restart_backoff() -> RestartBackoff {
        RestartBackoff::default()
    }
    pub fn shutdown() -> Shutdown {
        Shutdown::default()
    }
    pub fn http_path() -> String {
        "/".to_owned()
    }
    pub fn expected_status() -> i32 {
        200
    }
    pub fn is_false(value: &bool) -> bool {
        !*value
    }
    pub fn truth() -> bool {
        true
    }
}

/// The lifecycle fields an Executable and a Container share (product.md §2–§5).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RunSpec {
    /// Arguments passed to the command (Executable) or to the image's entrypoint (Container).
    /// May hold expressions such as `{api.endpoints.http.url}` or `{pg.connectionString}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,

    /// Environment variables set for every replica, in order. Values may hold expressions,
    /// e.g. `{name: DB, value: "{pg.connectionString}"}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,

    /// Network endpoints the resource serves, e.g. `{name: http, scheme: http, targetPort: 8080}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub endpoints: Vec<EndpointSpec>,

    /// Number of identical replicas to run, at most 100. Default: 1.
    #[serde(default = "defaults::replicas")]
    #[schemars(range(min = 0, max = 100))]
    pub replicas: i32,

    /// Resources that must reach a condition before this one starts, e.g.
    /// `{name: pg, condition: Ready}`. Re-evaluated on every (re)start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub wait_for: Vec<WaitFor>,

    /// When true the resource stays NotStarted until a start request
    /// (annotation `kaspire.dev/start-requested-at`). Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub explicit_start: bool,

    /// Desired state: true stops the resource (state Exited) and keeps it stopped. Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub stopped: bool,

    /// Readiness and liveness checks run against every replica.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health_checks: Vec<HealthCheck>,

    /// What to do when a replica exits or fails liveness: Never (default), OnFailure or Always.
    #[serde(default)]
    pub restart_policy: RestartPolicy,

    /// Exponential delay between restarts. Default: {initialSeconds: 1, maxSeconds: 60}.
    #[serde(default = "defaults::restart_backoff")]
    pub restart_backoff: RestartBackoff,

    /// The resource this one is contained in: it starts after the parent started and is
    /// stopped and deleted with it, e.g. `{name: pg}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,

    /// Display-only links to other resources, e.g. `{name: pg, type: Reference}`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub relationships: Vec<Relationship>,

    /// Session (default): stopped and removed when the session ends. Persistent: kept
    /// running across sessions and adopted again.
    #[serde(default)]
    pub lifetime: Lifetime,

    /// Overrides the lifecycle key of a Persistent resource (by default a hash of its spec);
    /// the resource is recreated only when the key changes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifecycle_key: Option<String>,

    /// Names of resources whose connection strings and endpoints are injected as
    /// Aspire-style variables (`ConnectionStrings__pg`, `services__api__http__0`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,

    /// Connection string template this resource offers to others, e.g.
    /// `Host={pg.endpoints.tcp.host};Port={pg.endpoints.tcp.port};Password={pg-password.value}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_string: Option<String>,

    /// How replicas are stopped. Default: {signal: SIGTERM, timeoutSeconds: 10}.
    #[serde(default = "defaults::shutdown")]
    pub shutdown: Shutdown,

    /// When true the resource runs but is left out of default listings and the dashboard.
    /// Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub hidden: bool,
}

impl Default for RunSpec {
    fn default() -> Self {
        Self {
            args: Vec::new(),
            env: Vec::new(),
            endpoints: Vec::new(),
            replicas: defaults::replicas(),
            wait_for: Vec::new(),
            explicit_start: false,
            stopped: false,
            health_checks: Vec::new(),
            restart_policy: RestartPolicy::default(),
            restart_backoff: RestartBackoff::default(),
            parent: None,
            relationships: Vec::new(),
            lifetime: Lifetime::default(),
            lifecycle_key: None,
            references: Vec::new(),
            connection_string: None,
            shutdown: Shutdown::default(),
            hidden: false,
        }
    }
}

/// An environment variable, e.g. `{name: ASPNETCORE_ENVIRONMENT, value: Development}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Variable value; may hold expressions such as `{api.endpoints.http.url}`. Absent means empty.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A network endpoint of a resource (product.md §5).
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct EndpointSpec {
    /// Endpoint name, unique within the resource and used in expressions
    /// (`{api.endpoints.http.url}`), e.g. `http`.
    pub name: String,
    /// URL scheme and transport: http (default), https, tcp or udp.
    #[serde(default)]
    pub scheme: EndpointScheme,
    /// Stable port clients use; allocated when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub port: Option<i32>,
    /// Port each replica listens on; allocated per replica when absent. Required for containers
    /// (the port inside the container).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 65535))]
    pub target_port: Option<i32>,
    /// Name of an environment variable that receives the replica's target port, e.g. `PORT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// When true (default) a round-robin L4 proxy on `port` spreads connections over ready
    /// replicas; when false `port` equals `targetPort` and only one replica is allowed.
    #[serde(default = "defaults::truth")]
    pub proxied: bool,
    /// When true the proxy binds beyond loopback. Default: false.
    #[serde(default, skip_serializing_if = "defaults::is_false")]
    pub external: bool,
}

impl Default for EndpointSpec {
    fn default() -> Self {
        Self {
            name: String::new(),
            scheme: EndpointScheme::default(),
            port: None,
            target_port: None,
            env: None,
            proxied: true,
            external: false,
        }
    }
}

/// Endpoint scheme: `http` (default), `https`, `tcp` or `udp`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum EndpointScheme {
    #[default]
    Http,
    Https,
    Tcp,
    Udp,
}

impl EndpointScheme {
    /// The scheme as written in YAML and URLs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Tcp => "tcp",
            Self::Udp => "udp",
        }
    }
}

/// A dependency that must reach `condition` before this resource starts,
/// e.g. `{name: migrations, condition: Completed, exitCode: 0}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct WaitFor {
    /// Name of the resource waited for (any kaspire kind in the same namespace).
    pub name: String,
    /// Ready (default; Aspire WaitFor), Started (WaitForStart) or Completed (WaitForCompletion).
    #[serde(default)]
    pub condition: WaitCondition,
    /// Exit code expected when `condition` is Completed. Default: 0.
    #[serde(default)]
    pub exit_code: i32,
    /// What to do when the dependency fails: StopOnResourceUnavailable (default) fails this
    /// resource with FailedToStart; WaitOnResourceUnavailable keeps waiting until it is fixed.
    #[serde(default)]
    pub wait_behavior: WaitBehavior,
}

/// What a `waitFor` entry waits for: `Ready` (default), `Started` or `Completed`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WaitCondition {
    #[default]
    Ready,
    Started,
    Completed,
}

/// Reaction to a failed dependency: `StopOnResourceUnavailable` (default) or
/// `WaitOnResourceUnavailable`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum WaitBehavior {
    #[default]
    StopOnResourceUnavailable,
    WaitOnResourceUnavailable,
}

/// A readiness or liveness check; set exactly one of `http`, `tcp` or `exec`.
/// Until the first success it probes every 100 ms, then every `periodSeconds`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthCheck {
    /// readiness (default): gates Ready and proxy traffic; liveness: a failure counts as a crash.
    #[serde(default, rename = "type")]
    pub type_: HealthCheckType,
    /// HTTP GET probe, e.g. `{endpoint: http, path: /health}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpProbe>,
    /// TCP connect probe, e.g. `{endpoint: tcp}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpProbe>,
    /// Command probe (inside the container for Containers); exit code 0 is healthy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecAction>,
    /// Seconds to wait after start before the first probe. Default: 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub initial_delay_seconds: Option<i32>,
    /// Seconds between probes once the check has succeeded. Default: 5.
    #[serde(default = "defaults::period_seconds")]
    #[schemars(range(min = 1))]
    pub period_seconds: i32,
    /// Seconds before a single probe times out. Default: periodSeconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1))]
    pub timeout_seconds: Option<i32>,
    /// Consecutive failures before the check is failing. Default: 3.
    #[serde(default = "defaults::failure_threshold")]
    #[schemars(range(min = 1))]
    pub failure_threshold: i32,
    /// Consecutive successes before the check is passing. Default: 1.
    #[serde(default = "defaults::success_threshold")]
    #[schemars(range(min = 1))]
    pub success_threshold: i32,
}

impl Default for HealthCheck {
    fn default() -> Self {
        Self {
            type_: HealthCheckType::default(),
            http: None,
            tcp: None,
            exec: None,
            initial_delay_seconds: None,
            period_seconds: defaults::period_seconds(),
            timeout_seconds: None,
            failure_threshold: defaults::failure_threshold(),
            success_threshold: defaults::success_threshold(),
        }
    }
}

/// Health check type: `readiness` (default) or `liveness`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "lowercase")]
pub enum HealthCheckType {
    #[default]
    Readiness,
    Liveness,
}

/// An HTTP GET probe against one of the resource's endpoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HttpProbe {
    /// Endpoint name to probe; default: the first http or https endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Request path. Default: `/`.
    #[serde(default = "defaults::http_path")]
    pub path: String,
    /// Status code that counts as healthy. Default: 200.
    #[serde(default = "defaults::expected_status")]
    pub expected_status: i32,
}

impl Default for HttpProbe {
    fn default() -> Self {
        Self {
            endpoint: None,
            path: defaults::http_path(),
            expected_status: defaults::expected_status(),
        }
    }
}

/// A TCP connect probe against one of the resource's endpoints.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct TcpProbe {
    /// Endpoint name to probe; default: the first endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
}

/// A command to run, e.g. `{command: [pg_isready, -U, postgres]}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ExecAction {
    /// Program and arguments; no shell is involved.
    pub command: Vec<String>,
}

/// Restart policy: `Never` (default), `OnFailure` (non-zero exit or liveness failure) or `Always`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

/// Exponential restart delay: starts at `initialSeconds`, doubles up to `maxSeconds`,
/// and resets after 10 minutes of clean running.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct RestartBackoff {
    /// First delay in seconds. Default: 1.
    #[serde(default = "defaults::initial_backoff_seconds")]
    #[schemars(range(min = 0))]
    pub initial_seconds: i32,
    /// Largest delay in seconds. Default: 60.
    #[serde(default = "defaults::max_backoff_seconds")]
    #[schemars(range(min = 0))]
    pub max_seconds: i32,
}

impl Default for RestartBackoff {
    fn default() -> Self {
        Self {
            initial_seconds: defaults::initial_backoff_seconds(),
            max_seconds: defaults::max_backoff_seconds(),
        }
    }
}

/// Reference to the parent resource (any kaspire kind in the same namespace), e.g. `{name: pg}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    /// Name of the parent resource.
    pub name: String,
}

/// A display-only link to another resource, e.g. `{name: pg, type: Reference}`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, Default, PartialEq, Eq, Hash)]
#[serde(rename_all = "camelCase")]
pub struct Relationship {
    /// Name of the related resource.
    pub name: String,
    /// Kind of relationship as shown by the dashboard, e.g. `Reference` or `Parent`.
    #[serde(rename = "type")]
    pub type_: String,
}

/// Resource lifetime: `Session` (default) or `Persistent`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Lifetime {
    #[default]
    Session,
    Persistent,
}

/// How a replica is stopped: `signal` first, then a kill after `timeoutSeconds`.
#[derive(Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Shutdown {
    /// Signal sent first, e.g. SIGTERM (default), SIGINT, SIGQUIT.
    #[serde(default = "defaults::shutdown_signal")]
    pub signal: String,
    /// Seconds to wait after the signal before killing. Default: 10.
    #[serde(default = "defaults::shutdown_timeout_seconds")]
    #[schemars(range(min = 0))]
    pub timeout_seconds: i32,
}

impl Default for Shutdown {
    fn default() -> Self {
        Self {
            signal: defaults::shutdown_signal(),
            timeout_seconds: defaults::shutdown_timeout_seconds(),
        }
    }
}
