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
use support::app::TestApp;
pub use support::app::{WAIT, is_true, manifest, message, state, uid};
pub(crate) use support::docker::require_docker;
pub use support::docker::{block_on, connect, ensure_healthcheck_image, ensure_test_image};
pub use support::{Kubectl, Server, eventually};

support::app::suite_app! {
    /// One control plane on a private state dir, kubectl against it, a scratch dir
    /// ([`TestApp`]), with shorthands for Containers in `default`. Dropping it also removes
    /// the containers and networks carrying its instance label.
}

impl App {
    pub fn start() -> App {
        App::start_with_env(&[])
    }

    /// A control plane with extra environment (e.g. `DOCKER_HOST`).
    pub fn start_with_env(env: &[(&str, &str)]) -> App {
        App(TestApp::start_with_env(env))
    }

    /// `kubectl apply` of a `kind` called `name` in `default` with `spec`.
    pub fn apply(&self, kind: &str, name: &str, spec: Value) {
        self.0.apply(&manifest(kind, name, spec));
    }

    pub fn apply_ctr(&self, name: &str, spec: Value) {
        self.apply("Container", name, spec);
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
        self.0.patch(kind, name, &patch);
    }

    /// The `log` subresource of Container `name` with `query`.
    pub fn log(&self, name: &str, query: &str) -> String {
        self.0.log("containers", name, query)
    }

    /// Polls the log until it contains `needle`.
    pub fn wait_log(&self, name: &str, query: &str, needle: &str) -> String {
        self.0.wait_log("containers", name, query, needle)
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
}

impl Drop for App {
    fn drop(&mut self) {
        // The server first, so it creates nothing more; the processes go with TestApp.
        self.0.stop_server();
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
        });
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
