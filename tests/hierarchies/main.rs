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
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

/// How long any state may take to be reached (the machine is shared and busy).
pub const WAIT: Duration = Duration::from_secs(45);
/// Pause between two kubectl reads while polling (each read is a process start).
const POLL: Duration = Duration::from_millis(200);

/// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir for
/// marker files. Dropping it kills the server and every process tagged with its instance.
pub struct App {
    server: Option<Server>,
    pub kubectl: Kubectl,
    state: PathBuf,
    pub instance: String,
    scratch: tempfile::TempDir,
    _tmp: tempfile::TempDir,
}

impl App {
    pub fn start() -> App {
        let tmp = tempfile::tempdir().expect("temp dir");
        let state = tmp.path().join("state");
        let server = Server::start_in(&state);
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
            _tmp: tmp,
        }
    }

    /// SIGKILLs the server, as a crash would, and starts a new one on the same state dir.
    pub fn crash_and_restart(&mut self) {
        self.server.take().expect("a running server").kill9();
        let server = Server::start_in(&self.state);
        self.kubectl = server.kubectl(Path::new("kubectl"));
        self.server = Some(server);
    }

    /// The state directory, for `kaspire` subcommands.
    pub fn state_dir(&self) -> &Path {
        &self.state
    }

    /// An absolute path in the scratch dir.
    pub fn path(&self, name: &str) -> String {
        self.scratch
            .path()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// `kubectl apply` of each object.
    pub fn apply(&self, objects: &[Value]) {
        for object in objects {
            self.kubectl
                .ok_stdin(&["apply", "-f", "-"], &object.to_string());
        }
    }

    /// `kubectl apply` of an object expected to be rejected; returns stderr.
    pub fn apply_fails(&self, object: &Value) -> String {
        let out = self
            .kubectl
            .run_stdin(&["apply", "-f", "-"], &object.to_string());
        assert!(
            !out.status.success(),
            "apply of {} unexpectedly succeeded:\n{}",
            object["metadata"]["name"],
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kind/name` (`exe/api`, `val/appdata`) as JSON, or None when it does not exist.
    pub fn get_opt(&self, what: &str) -> Option<Value> {
        let out = self.kubectl.run(&["get", what, "-o", "json"]);
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("kubectl printed JSON"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "get {what}: {stderr}");
        None
    }

    /// Every object of `kind`, read in one list (one consistent snapshot).
    pub fn list(&self, kind: &str) -> Vec<Value> {
        let list: Value = serde_json::from_str(&self.kubectl.ok(&["get", kind, "-o", "json"]))
            .expect("kubectl printed JSON");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// `kind/name` as JSON.
    pub fn get(&self, what: &str) -> Value {
        self.get_opt(what)
            .unwrap_or_else(|| panic!("{what} does not exist"))
    }

    /// Polls `kind/name` until `pred` holds; panics naming `what` with its last status.
    pub fn wait(&self, object: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let current = self.get_opt(object);
            if let Some(current) = current.as_ref().filter(|o| pred(o)) {
                return current.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{object} did not become {what} within {WAIT:?}; last seen:\n{:#}",
                current.map(|o| o["status"].clone()).unwrap_or_default()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for `status.state == state`.
    pub fn wait_state(&self, object: &str, state_name: &str) -> Value {
        self.wait(object, state_name, |o| state(o) == state_name)
    }

    /// Waits until `kind/name` no longer exists.
    pub fn wait_gone(&self, object: &str) {
        let gone = eventually(WAIT, || {
            let hit = self.get_opt(object).is_none();
            if !hit {
                std::thread::sleep(POLL);
            }
            hit.then_some(())
        });
        assert!(gone.is_some(), "{object} still exists after {WAIT:?}");
    }

    /// Checks for `for_` that `kind/name` stays as `pred` says.
    pub fn stays(&self, object: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + for_;
        while Instant::now() < deadline {
            let current = self.get(object);
            assert!(
                pred(&current),
                "{object} is no longer {what}:\n{:#}",
                current["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// `kubectl patch kind/name --type=merge -p PATCH`.
    pub fn patch(&self, object: &str, patch: Value) {
        self.kubectl
            .ok(&["patch", object, "--type=merge", "-p", &patch.to_string()]);
    }

    /// Sets request annotation `annotation` on Executable `name` to now.
    pub fn request(&self, name: &str, annotation: &str) {
        let value = jiff::Timestamp::now().to_string();
        self.kubectl.ok(&[
            "annotate",
            "--overwrite",
            &format!("exe/{name}"),
            &format!("{annotation}={value}"),
        ]);
    }

    /// The `log` subresource of Value `name` with `query` (e.g. `?source=system`).
    pub fn value_log(&self, name: &str, query: &str) -> String {
        self.kubectl.ok(&[
            "get",
            "--raw",
            &format!("/apis/kaspire.dev/v1alpha1/namespaces/default/values/{name}/log{query}"),
        ])
    }

    /// The reasons of the Events recorded on `name`.
    pub fn event_reasons(&self, name: &str) -> Vec<String> {
        let out = self.kubectl.ok(&[
            "get",
            "events",
            "--field-selector",
            &format!("involvedObject.name={name}"),
            "-o",
            "jsonpath={.items[*].reason}",
        ]);
        out.split_whitespace().map(str::to_owned).collect()
    }

    /// Live processes tagged with this control plane's instance.
    pub fn processes(&self) -> Vec<i32> {
        tagged("KASPIRE_INSTANCE", &self.instance)
    }

    /// Live processes started for object `uid`.
    pub fn processes_of(&self, uid: &str) -> Vec<i32> {
        tagged("KASPIRE_RESOURCE", uid)
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

impl Drop for App {
    fn drop(&mut self) {
        drop(self.server.take());
        // Session processes outlive a SIGKILLed server; nothing may outlive the test.
        for pid in tagged("KASPIRE_INSTANCE", &self.instance) {
            kill_group(pid);
        }
    }
}

/// An Executable in `default`.
pub fn exe(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": "Executable",
        "metadata": {"name": name},
        "spec": spec,
    })
}

/// A Value in `default`.
pub fn val(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": "Value",
        "metadata": {"name": name},
        "spec": spec,
    })
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

/// `status.state`.
pub fn state(object: &Value) -> &str {
    object["status"]["state"].as_str().unwrap_or("")
}

/// `status.message`.
pub fn message(object: &Value) -> &str {
    object["status"]["message"].as_str().unwrap_or("")
}

/// `metadata.uid`.
pub fn uid(object: &Value) -> String {
    object["metadata"]["uid"].as_str().expect("uid").to_owned()
}

/// Whether condition `Ready` is True.
pub fn ready(object: &Value) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == "Ready" && c["status"] == "True")
}

/// The pid of replica 0, if it runs.
pub fn pid(object: &Value) -> Option<i32> {
    object["status"]["replicas"]
        .as_array()?
        .iter()
        .find(|r| r["index"] == 0)?["pid"]
        .as_i64()
        .map(|p| p as i32)
}

/// The uids in `metadata.ownerReferences`.
pub fn owner_uids(object: &Value) -> Vec<String> {
    object["metadata"]["ownerReferences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["uid"].as_str().map(str::to_owned))
        .collect()
}

/// A timestamp field.
pub fn time(value: &Value) -> jiff::Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .expect("RFC3339 timestamp")
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
