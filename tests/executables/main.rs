//! End-to-end tests of the Executable lifecycle (issue 3): the real `kaspire serve`
//! binary running its controllers, the real kubectl on PATH, and real processes
//! (`sh`, `sleep`, `python3`). Every test starts its own server on a temporary state
//! dir, so tests run in parallel; processes are found in /proc by the tags kaspire puts
//! in their environment, never by trusting a pid alone.
//!
//! This file holds the harness ([`App`], polling, /proc helpers); the scenarios are
//! grouped by area in the modules below. Tests assert behaviour, never tight timings:
//! every wait is a poll with a generous deadline.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod crash;
mod deletion;
mod events;
mod health;
mod logs;
mod ordering;
mod parent;
mod requests;
mod restarts;
mod session;
mod waits;

pub use std::path::{Path, PathBuf};
pub use std::time::{Duration, Instant};

pub use serde_json::{Value, json};
use support::app::{TestApp, replica_pid};
pub use support::app::{WAIT, condition, is_true, manifest, message, state, time, uid};
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

support::app::suite_app! {
    /// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir
    /// for marker files ([`TestApp`]), with shorthands for Executables in `default`.
    /// Dropping it kills the server and every process it started.
}

impl App {
    pub fn start() -> App {
        App(TestApp::start())
    }

    /// `kubectl apply` of an Executable `name` in `default` with `spec` (JSON).
    pub fn apply_exe(&self, name: &str, spec: Value) {
        self.apply(&manifest("Executable", name, spec));
    }

    /// `kubectl apply` of an Executable expected to be rejected; returns stderr.
    pub fn apply_exe_fails(&self, name: &str, spec: Value) -> String {
        self.apply_fails(&manifest("Executable", name, spec))
    }

    /// The Executable as JSON (`kubectl get exe NAME -o json`).
    pub fn exe(&self, name: &str) -> Value {
        self.get("exe", name)
    }

    /// The Executable, or None when it does not exist.
    pub fn exe_opt(&self, name: &str) -> Option<Value> {
        self.get_opt("exe", name)
    }

    /// Polls the Executable until `pred` holds; panics naming `what` with its last
    /// status otherwise.
    pub fn wait(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.0.wait("exe", name, what, pred)
    }

    /// Waits for `status.state == state`.
    pub fn wait_state(&self, name: &str, state_name: &str) -> Value {
        self.wait(name, state_name, |e| state(e) == state_name)
    }

    /// Checks for `for_` that the Executable stays as `pred` says (for "still waiting").
    pub fn stays(&self, name: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        self.0.stays("exe", name, what, for_, pred)
    }

    /// `kubectl patch exe NAME --type=merge -p PATCH`.
    pub fn patch(&self, name: &str, patch: Value) {
        self.0.patch("exe", name, &patch)
    }

    /// Sets a request annotation (`kaspire.dev/start-requested-at`, …) to now; returns
    /// the value written.
    pub fn request(&self, name: &str, annotation: &str) -> String {
        self.0.request("exe", name, annotation)
    }

    /// The `log` subresource of `name` with `query` (e.g. `?replica=1`).
    pub fn log(&self, name: &str, query: &str) -> String {
        self.0.log("executables", name, query)
    }

    /// Polls the log until it contains `needle`; returns it.
    pub fn wait_log(&self, name: &str, query: &str, needle: &str) -> String {
        self.0.wait_log("executables", name, query, needle)
    }

    /// Polls until exactly `n` tagged processes of `uid` are alive; returns their pids.
    pub fn wait_processes(&self, uid: &str, n: usize) -> Vec<i32> {
        let mut last = Vec::new();
        eventually(WAIT, || {
            last = self.processes_of(uid);
            (last.len() == n).then(|| last.clone())
        })
        .unwrap_or_else(|| panic!("expected {n} processes of {uid}, found {last:?}"))
    }
}

pub fn log_path(name: &str, query: &str) -> String {
    format!("/apis/kaspire.dev/v1alpha1/namespaces/default/executables/{name}/log{query}")
}

/// The pid of replica `index`, if it runs.
pub fn pid(exe: &Value, index: i64) -> Option<i32> {
    replica_pid(exe, index)
}

/// `status.restartCount` (0 when absent).
pub fn restart_count(exe: &Value) -> i64 {
    exe["status"]["restartCount"].as_i64().unwrap_or(0)
}

/// Polls until `pid` is gone.
pub fn wait_gone(pid: i32) {
    assert!(
        eventually(WAIT, || (!alive(pid)).then_some(())).is_some(),
        "process {pid} is still alive"
    );
}
/// A unique RFC3339 value for request annotations.
pub fn now() -> String {
    jiff::Timestamp::now().to_string()
}

/// Sleeps; a named pause reads better in scenarios than a bare thread::sleep.
pub fn pause(seconds: f64) {
    std::thread::sleep(Duration::from_secs_f64(seconds));
}
