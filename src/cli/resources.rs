//! kaspire's kinds as the CLI sees them (untyped, so one code path reads all four) and
//! the summary of one object every command prints: state, health, URLs, what it waits on.

use futures::future::join_all;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, ListParams};
use serde_json::Value;

/// One kaspire kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kind {
    pub kind: &'static str,
    pub plural: &'static str,
    pub singular: &'static str,
    /// Whether it runs something (Executable, Container) and so can be started and stopped.
    pub runs: bool,
}

/// Every kaspire kind, in the order listings show them.
pub const KINDS: [Kind; 4] = [
    Kind {
        kind: "Executable",
        plural: "executables",
        singular: "executable",
        runs: true,
    },
    Kind {
        kind: "Container",
        plural: "containers",
        singular: "container",
        runs: true,
    },
    Kind {
        kind: "Parameter",
        plural: "parameters",
        singular: "parameter",
        runs: false,
    },
    Kind {
        kind: "Value",
        plural: "values",
        singular: "value",
        runs: false,
    },
];

impl Kind {
    pub fn resource(&self) -> ApiResource {
        let gvk = GroupVersionKind::gvk(crate::api::GROUP, crate::api::VERSION, self.kind);
        ApiResource::from_gvk_with_plural(&gvk, self.plural)
    }

    /// The API of this kind in `namespace`, or in all namespaces.
    pub fn api(&self, client: &kube::Client, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &self.resource()),
            None => Api::all_with(client.clone(), &self.resource()),
        }
    }

    pub fn by_name(kind: &str) -> Option<Kind> {
        KINDS.iter().copied().find(|k| k.kind == kind)
    }
}

/// Every kaspire object in `namespace` (None: all namespaces), kind by kind.
pub async fn list_all(
    client: &kube::Client,
    namespace: Option<&str>,
) -> kube::Result<Vec<(Kind, DynamicObject)>> {
    let lists = join_all(KINDS.iter().map(|kind| async move {
        let list = kind
            .api(client, namespace)
            .list(&ListParams::default())
            .await?;
        Ok::<_, kube::Error>(
            list.items
                .into_iter()
                .map(|o| (*kind, o))
                .collect::<Vec<_>>(),
        )
    }))
    .await;
    let mut all = Vec::new();
    for list in lists {
        all.extend(list?);
    }
    Ok(all)
}

/// Finds the object called `name` in `namespace`; names are unique across kaspire kinds.
pub async fn find(
    client: &kube::Client,
    namespace: &str,
    name: &str,
) -> anyhow::Result<(Kind, DynamicObject)> {
    let found = join_all(KINDS.iter().map(|kind| async move {
        kind.api(client, Some(namespace))
            .get_opt(name)
            .await
            .map(|o| o.map(|o| (*kind, o)))
    }))
    .await;
    for result in found {
        if let Some(hit) = result? {
            return Ok(hit);
        }
    }
    anyhow::bail!(
        "no kaspire resource is called {name:?} in namespace {namespace}; `kaspire get` lists them"
    )
}

/// What the CLI shows of one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub kind: Kind,
    pub namespace: String,
    pub name: String,
    pub state: String,
    /// Health, or "Ready"/"NotReady" from the Ready condition for kinds without checks.
    pub health: String,
    pub ready: bool,
    pub urls: Vec<String>,
    pub restarts: i64,
    pub message: String,
    pub parent: Option<String>,
    pub hidden: bool,
    pub created: Option<jiff::Timestamp>,
    /// Set while a restart policy backs off, so an Exited state is not the last word.
    pub restart_pending: bool,
    pub has_readiness_checks: bool,
    /// The status was written for an older spec (observedGeneration < generation), so it
    /// says nothing yet about the current one.
    pub stale: bool,
}

impl Summary {
    pub fn of(kind: Kind, object: &DynamicObject) -> Summary {
        let spec = object.data.get("spec");
        let status = object.data.get("status");
        let text = |root: Option<&Value>, field: &str| {
            root.and_then(|v| v.pointer(field))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let ready = status
            .and_then(|s| s.get("conditions"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| {
                c.get("type").and_then(Value::as_str) == Some(crate::api::conditions::READY)
                    && c.get("status").and_then(Value::as_str) == Some("True")
            });
        let urls = status
            .and_then(|s| s.get("endpoints"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|e| {
                e.get("url")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
                    .or_else(|| {
                        e.get("port")
                            .and_then(Value::as_i64)
                            .map(|p| format!("localhost:{p}"))
                    })
            })
            .collect();
        let has_readiness_checks = spec
            .and_then(|s| s.get("healthChecks"))
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|c| c.get("type").and_then(Value::as_str).unwrap_or("readiness") == "readiness");
        let parent = Some(text(spec, "/parent/name")).filter(|p| !p.is_empty());
        Summary {
            kind,
            namespace: object.metadata.namespace.clone().unwrap_or_default(),
            name: object.metadata.name.clone().unwrap_or_default(),
            state: Some(text(status, "/state"))
                .filter(|s| !s.is_empty())
                .unwrap_or_else(|| "Unknown".into()),
            health: text(status, "/health"),
            ready,
            urls,
            restarts: status
                .and_then(|s| s.get("restartCount"))
                .and_then(Value::as_i64)
                .unwrap_or(0),
            message: text(status, "/message"),
            parent,
            hidden: spec
                .and_then(|s| s.get("hidden"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
            created: object.metadata.creation_timestamp.as_ref().map(|t| t.0),
            restart_pending: status.and_then(|s| s.get("nextRestartAt")).is_some(),
            has_readiness_checks,
            stale: match (
                object.metadata.generation,
                status
                    .and_then(|s| s.get("observedGeneration"))
                    .and_then(Value::as_i64),
            ) {
                (Some(generation), Some(observed)) => observed < generation,
                _ => false,
            },
        }
    }

    /// `Running (Ready)`, `Running (not ready)`, or the plain state.
    pub fn state_text(&self) -> String {
        match (self.state.as_str(), self.ready) {
            ("Running", true) => "Running (Ready)".into(),
            ("Running", false) if self.has_readiness_checks => "Running (not ready)".into(),
            (state, _) => state.to_owned(),
        }
    }

    /// Reached a state it stays in: Finished, Exited (with no restart coming), FailedToStart.
    pub fn is_settled_failure(&self) -> bool {
        match self.state.as_str() {
            "FailedToStart" => true,
            "Exited" => !self.restart_pending,
            _ => false,
        }
    }

    /// Ready, or done successfully (Finished).
    pub fn is_ready_or_finished(&self) -> bool {
        self.ready || self.state == "Finished"
    }

    /// `name (state): message` for error reports.
    pub fn failure_line(&self) -> String {
        let mut line = format!("{} {} is {}", self.kind.singular, self.name, self.state);
        if !self.message.is_empty() {
            line.push_str(": ");
            line.push_str(&self.message);
        }
        line
    }
}

/// `5s`, `3m`, `2h`, `4d`, as kubectl prints ages.
pub fn age(since: Option<jiff::Timestamp>, now: jiff::Timestamp) -> String {
    let Some(since) = since else {
        return "-".into();
    };
    let seconds = now.as_second().saturating_sub(since.as_second()).max(0);
    match seconds {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(json: serde_json::Value) -> DynamicObject {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn summary_reads_state_ready_urls_parent_and_message() {
        let o = object(serde_json::json!({
            "apiVersion": "kaspire.dev/v1alpha1", "kind": "Executable",
            "metadata": {"name": "api", "namespace": "default"},
            "spec": {"command": "x", "parent": {"name": "pg"}, "healthChecks": [{"http": {"endpoint": "http"}}]},
            "status": {"state": "Running", "health": "Healthy", "restartCount": 2,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Running", "lastTransitionTime": "2024-01-01T00:00:00Z"}],
                       "endpoints": [{"name": "http", "url": "http://localhost:5080"}],
                       "message": "all good"}
        }));
        let s = Summary::of(KINDS[0], &o);
        assert_eq!(s.state_text(), "Running (Ready)");
        assert_eq!(s.urls, ["http://localhost:5080"]);
        assert_eq!(s.parent.as_deref(), Some("pg"));
        assert_eq!(s.restarts, 2);
        assert!(s.has_readiness_checks);
        assert!(s.is_ready_or_finished());
    }

    #[test]
    fn exited_with_a_restart_coming_is_not_a_settled_failure() {
        let o = object(serde_json::json!({
            "apiVersion": "kaspire.dev/v1alpha1", "kind": "Executable",
            "metadata": {"name": "w"},
            "status": {"state": "Exited", "nextRestartAt": "2024-01-01T00:00:00Z"}
        }));
        assert!(!Summary::of(KINDS[0], &o).is_settled_failure());
    }

    #[test]
    fn ages_read_like_kubectl() {
        let now = jiff::Timestamp::from_second(1_000_000).unwrap();
        let at = |s: i64| Some(jiff::Timestamp::from_second(1_000_000 - s).unwrap());
        assert_eq!(age(at(5), now), "5s");
        assert_eq!(age(at(600), now), "10m");
        assert_eq!(age(at(3 * 3600), now), "3h");
        assert_eq!(age(at(3 * 86400), now), "3d");
        assert_eq!(age(None, now), "-");
    }
}
