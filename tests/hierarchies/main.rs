//! End-to-end tests of resource hierarchies (issue 6): `spec.parent` containment for
//! Executables and Values, the Value kind (`onParentReady`, connection strings), the
//! three delete cascades, display-only relationships, the 422s for invalid hierarchies,
//! and the examples. Every test drives the real `kaspire serve` (or `kaspire up`) on its
//! own state dir with the real kubectl and real processes, and checks the process table
//! (by the `KASPIRE_INSTANCE` tag) so no cascade leaves a process behind.
//!
//! This file holds the harness; the scenarios are grouped by rule in the modules below.
//! Every wait is a poll with a generous deadline; nothing asserts a timing.

#[path = "../cli/support.rs"]
mod cli_support;
#[path = "../support/mod.rs"]
mod support;

mod cascades;
mod containment;
mod examples;
mod invalid;
mod relationships;
mod values;

pub use std::path::{Path, PathBuf};
pub use std::time::{Duration, Instant};

pub use serde_json::{Value, json};
use support::app::{TestApp, is_true, manifest, replica_pid};
pub use support::app::{WAIT, message, owner_uids, state, time, uid};
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

support::app::suite_app! {
    /// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir for
    /// marker files ([`TestApp`]); objects are named as kubectl does, `kind/name`
    /// (`exe/api`, `val/appdata`). Dropping it kills the server and every process tagged
    /// with its instance.
}

/// `kind/name` split in two.
fn split(object: &str) -> (&str, &str) {
    object
        .split_once('/')
        .unwrap_or_else(|| panic!("{object}: objects are named kind/name"))
}

impl App {
    pub fn start() -> App {
        App(TestApp::start())
    }

    /// The state directory, for `kaspire` subcommands.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// `kubectl apply` of each object.
    pub fn apply(&self, objects: &[Value]) {
        for object in objects {
            self.0.apply(object);
        }
    }

    /// `kind/name` as JSON, or None when it does not exist.
    pub fn get_opt(&self, object: &str) -> Option<Value> {
        let (kind, name) = split(object);
        self.0.get_opt(kind, name)
    }

    /// `kind/name` as JSON.
    pub fn get(&self, object: &str) -> Value {
        let (kind, name) = split(object);
        self.0.get(kind, name)
    }

    /// Polls `kind/name` until `pred` holds; panics naming `what` with its last status.
    pub fn wait(&self, object: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let (kind, name) = split(object);
        self.0.wait(kind, name, what, pred)
    }

    /// Waits for `status.state == state`.
    pub fn wait_state(&self, object: &str, state_name: &str) -> Value {
        self.wait(object, state_name, |o| state(o) == state_name)
    }

    /// Waits until `kind/name` no longer exists.
    pub fn wait_gone(&self, object: &str) {
        let (kind, name) = split(object);
        self.0.wait_gone(kind, name)
    }

    /// Checks for `for_` that `kind/name` stays as `pred` says.
    pub fn stays(&self, object: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        let (kind, name) = split(object);
        self.0.stays(kind, name, what, for_, pred)
    }

    /// `kubectl patch kind/name --type=merge -p PATCH`.
    pub fn patch(&self, object: &str, patch: Value) {
        let (kind, name) = split(object);
        self.0.patch(kind, name, &patch)
    }

    /// Sets request annotation `annotation` on Executable `name` to now.
    pub fn request(&self, name: &str, annotation: &str) {
        self.0.request("exe", name, annotation);
    }

    /// The `log` subresource of Value `name` with `query` (e.g. `?source=system`).
    pub fn value_log(&self, name: &str, query: &str) -> String {
        self.log("values", name, query)
    }

    /// The reasons of the Events recorded on `name`.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        self.events(name)
            .into_iter()
            .map(|(reason, _)| reason)
            .collect()
    }

    /// Polls until the instance's live processes are exactly those of `uids` (none when
    /// empty): nothing else was left behind.
    pub fn wait_only_processes_of(&self, uids: &[&str]) {
        let mut last = Vec::new();
        let settled = eventually(WAIT, || {
            let expected: Vec<i32> = {
                let mut pids: Vec<i32> = uids.iter().flat_map(|u| self.processes_of(u)).collect();
                pids.sort();
                pids
            };
            last = self.processes();
            (last == expected).then_some(())
        });
        assert!(
            settled.is_some(),
            "processes left behind: {last:?} (expected only those of {uids:?}):\n{}",
            describe(&last)
        );
    }
}

/// An Executable in `default`.
pub fn exe(name: &str, spec: Value) -> Value {
    manifest("Executable", name, spec)
}

/// A Value in `default`.
pub fn val(name: &str, spec: Value) -> Value {
    manifest("Value", name, spec)
}

/// A process that runs until stopped.
pub fn sleeper() -> Value {
    json!({"command": "sleep", "args": ["300"]})
}

/// `spec` with `parent: {name: parent}` added.
pub fn child_of(parent: &str, mut spec: Value) -> Value {
    spec["parent"] = json!({"name": parent});
    spec
}

/// Whether condition `Ready` is True.
pub fn ready(object: &Value) -> bool {
    is_true(object, "Ready")
}

/// The pid of replica 0, if it runs.
pub fn pid(object: &Value) -> Option<i32> {
    replica_pid(object, 0)
}

/// The lines of a marker file (0 when it does not exist).
pub fn lines(path: &str) -> usize {
    std::fs::read_to_string(path).map_or(0, |text| text.lines().count())
}

/// Polls until marker file `path` has `n` lines.
pub fn wait_lines(path: &str, n: usize) {
    assert!(
        eventually(WAIT, || (lines(path) == n).then_some(())).is_some(),
        "{path} has {} lines, expected {n}",
        lines(path)
    );
}

/// Polls until `pid` is gone.
pub fn wait_dead(pid: i32) {
    assert!(
        eventually(WAIT, || (!alive(pid)).then_some(())).is_some(),
        "process {pid} is still alive"
    );
}

/// `pid: command line` of each process, for failure messages.
fn describe(pids: &[i32]) -> String {
    pids.iter()
        .map(|pid| {
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            format!("  {pid}: {cmdline}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}
/// An HTTP server that becomes Ready (readiness check on `/`) once it listens.
pub fn http_server(name: &str) -> Value {
    json!({
        "command": python3(),
        "args": ["-m", "http.server", "--bind", "127.0.0.1",
                 format!("{{{name}.endpoints.http.targetPort}}")],
        "endpoints": [{"name": "http", "scheme": "http"}],
        "healthChecks": [{"http": {"endpoint": "http", "path": "/"}}],
    })
}
