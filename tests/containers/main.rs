//! End-to-end tests of Containers (issue 5): the real `kaspire serve` and `kaspire up`,
//! the real kubectl, and a real Docker Engine through its API. No image can be pulled
//! on the test machines, so every container runs the local busybox test image
//! (`support::docker::ensure_test_image`, built from Debian's busybox-static).
//!
//! Each test runs its own control plane on a private state dir; everything it creates
//! carries that instance's label, so [`App`]'s drop removes exactly its own containers
//! and networks. Tests need Docker: under `CI=true` they fail without it, elsewhere they
//! say they are skipped.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod cascades;
mod connectivity;
mod lifecycle;
mod lifetimes;
mod runtime_health;

pub use std::path::{Path, PathBuf};
pub use std::time::{Duration, Instant};

use bollard::query_parameters::{
    ListContainersOptions, ListNetworksOptions, RemoveContainerOptions,
};
pub use serde_json::{Value, json};
pub(crate) use support::docker::require_docker;
pub use support::docker::{block_on, connect, ensure_healthcheck_image, ensure_test_image};
use support::processes::{kill_group, tagged};
pub use support::{Kubectl, Server, eventually};

/// How long any state may take to be reached (the machine is shared and busy).
pub const WAIT: Duration = Duration::from_secs(60);
const POLL: Duration = Duration::from_millis(250);

/// One control plane on a private state dir, kubectl against it, a scratch dir.
pub struct App {
    server: Option<Server>,
    pub kubectl: Kubectl,
    pub state: PathBuf,
    pub instance: String,
    pub scratch: tempfile::TempDir,
    env: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl App {
    pub fn start() -> App {
        App::start_with_env(&[])
    }

    /// A control plane with extra environment (e.g. `DOCKER_HOST`).
    pub fn start_with_env(env: &[(&str, &str)]) -> App {
        let tmp = tempfile::tempdir().expect("temp dir");
        let state = tmp.path().join("state");
        let server = Server::start_in_with_env(&state, env);
        let kubectl = server.kubectl(Path::new("kubectl"));
        let instance = std::fs::read_to_string(state.join("instance-id"))
            .expect("the control plane wrote its instance id")
            .trim()
            .to_owned();
        App {
            server: Some(server),
            kubectl,
            state,
            instance,
            scratch: tempfile::tempdir().expect("scratch dir"),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            _tmp: tmp,
        }
    }

    /// SIGKILLs the control plane, as a crash would, and starts a new one.
    pub fn crash_and_restart(&mut self) {
        self.server.take().expect("a running server").kill9();
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let server = Server::start_in_with_env(&self.state, &env);
        self.kubectl = server.kubectl(Path::new("kubectl"));
        self.server = Some(server);
    }

    /// `kubectl apply` of a `kind` called `name` in `default` with `spec`.
    pub fn apply(&self, kind: &str, name: &str, spec: Value) {
        self.kubectl.ok_stdin(
            &["apply", "-f", "-"],
            &manifest(kind, name, spec).to_string(),
        );
    }

    pub fn apply_ctr(&self, name: &str, spec: Value) {
        self.apply("Container", name, spec);
    }

    /// The object as JSON.
    pub fn get(&self, kind: &str, name: &str) -> Value {
        let out = self.kubectl.ok(&["get", kind, name, "-o", "json"]);
        serde_json::from_str(&out).expect("kubectl printed JSON")
    }

    /// Polls `kind/name` until `pred` holds; panics with its last status otherwise.
    pub fn wait(&self, kind: &str, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let object = self.get(kind, name);
            if pred(&object) {
                return object;
            }
            assert!(
                Instant::now() < deadline,
                "{kind}/{name} did not become {what} within {WAIT:?}; last status:\n{:#}",
                object["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until the Container is Ready.
    pub fn wait_ready(&self, name: &str) -> Value {
        self.wait("ctr", name, "Ready", |c| is_true(c, "Ready"))
    }

    pub fn wait_state(&self, kind: &str, name: &str, state_name: &str) -> Value {
        self.wait(kind, name, state_name, |c| state(c) == state_name)
    }

    /// `kubectl patch KIND NAME --type=merge -p PATCH`.
    pub fn patch(&self, kind: &str, name: &str, patch: Value) {
        self.kubectl.ok(&[
            "patch",
            kind,
            name,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }

    /// Sets a request annotation to now; returns the value.
    pub fn request(&self, kind: &str, name: &str, annotation: &str) -> String {
        let value = jiff::Timestamp::now().to_string();
        self.kubectl.ok(&[
            "annotate",
            "--overwrite",
            kind,
            name,
            &format!("{annotation}={value}"),
        ]);
        value
    }

    /// The `log` subresource of Container `name` with `query`.
    pub fn log(&self, name: &str, query: &str) -> String {
        let path =
            format!("/apis/kaspire.dev/v1alpha1/namespaces/default/containers/{name}/log{query}");
        self.kubectl.ok(&["get", "--raw", &path])
    }

    /// Polls the log until it contains `needle`.
    pub fn wait_log(&self, name: &str, query: &str, needle: &str) -> String {
        let mut last = String::new();
        eventually(WAIT, || {
            last = self.log(name, query);
            let hit = last.contains(needle);
            if !hit {
                std::thread::sleep(POLL);
            }
            hit.then(|| last.clone())
        })
        .unwrap_or_else(|| panic!("log{query} of {name} never showed {needle:?}:\n{last}"))
    }

    /// Ids of this instance's containers (running or not).
    pub fn containers(&self) -> Vec<String> {
        containers_labelled(&format!("kaspire.dev/instance={}", self.instance))
    }

    /// Names of this instance's networks.
    pub fn networks(&self) -> Vec<String> {
        let label = format!("kaspire.dev/instance={}", self.instance);
        block_on(async move {
            let docker = connect().await.expect("docker");
            let options = ListNetworksOptions {
                filters: Some([("label".to_owned(), vec![label])].into()),
            };
            docker
                .list_networks(Some(options))
                .await
                .expect("list networks")
                .into_iter()
                .filter_map(|n| n.name)
                .collect()
        })
    }

    /// An absolute path in the scratch dir.
    pub fn path(&self, name: &str) -> String {
        self.scratch
            .path()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }
}

impl Drop for App {
    fn drop(&mut self) {
        drop(self.server.take());
        let instance = self.instance.clone();
        let ids = self.containers();
        let networks = self.networks();
        block_on(async move {
            let Ok(docker) = connect().await else { return };
            for id in ids {
                let options = RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(options)).await;
            }
            for network in networks {
                let _ = docker.remove_network(&network).await;
            }
            let _ = instance;
        });
        for pid in tagged("KASPIRE_INSTANCE", &self.instance) {
            kill_group(pid);
        }
    }
}

/// Ids of the containers (running or not) carrying `label` (`key=value`).
pub fn containers_labelled(label: &str) -> Vec<String> {
    let label = label.to_owned();
    block_on(async move {
        let docker = connect().await.expect("docker");
        let options = ListContainersOptions {
            all: true,
            filters: Some([("label".to_owned(), vec![label])].into()),
            ..Default::default()
        };
        docker
            .list_containers(Some(options))
            .await
            .expect("list containers")
            .into_iter()
            .filter_map(|c| c.id)
            .collect()
    })
}

/// A manifest in `default`.
pub fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    })
}

pub fn state(object: &Value) -> &str {
    object["status"]["state"].as_str().unwrap_or("")
}

pub fn message(object: &Value) -> &str {
    object["status"]["message"].as_str().unwrap_or("")
}

pub fn uid(object: &Value) -> String {
    object["metadata"]["uid"].as_str().expect("uid").to_owned()
}

pub fn is_true(object: &Value, type_: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == "True")
}

/// `status.containerId`.
pub fn container_id(object: &Value) -> String {
    object["status"]["containerId"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The URL of endpoint 0 in status.
pub fn url(object: &Value) -> String {
    object["status"]["endpoints"][0]["url"]
        .as_str()
        .unwrap_or_else(|| panic!("no endpoint URL in {:#}", object["status"]))
        .to_owned()
}

/// A busybox container spec running `script` with `sh -c`, stopping fast.
pub fn shell(script: &str) -> Value {
    json!({
        "image": ensure_test_image(),
        "pullPolicy": "Never",
        "args": ["sh", "-c", script],
        "shutdown": {"timeoutSeconds": 1},
    })
}

/// A busybox HTTP server on port 8080 serving `/www` (an index.html saying `body`),
/// with an http readiness check.
pub fn web(body: &str) -> Value {
    let mut spec = shell(&format!(
        "mkdir -p /www && echo {body} > /www/index.html && exec httpd -f -v -p 8080 -h /www"
    ));
    spec["endpoints"] = json!([{"name": "http", "scheme": "http", "targetPort": 8080}]);
    spec["healthChecks"] = json!([{"http": {"path": "/"}, "periodSeconds": 1}]);
    spec
}

/// GET `url` from the host; the body, or None when it fails.
pub fn http_get(url: &str) -> Option<String> {
    let out = std::process::Command::new("curl")
        .args(["-sf", "--max-time", "5", url])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}
