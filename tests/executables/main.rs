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
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

/// How long any state may take to be reached (the machine is shared and busy).
pub const WAIT: Duration = Duration::from_secs(30);
/// Pause between two kubectl reads while polling (each read is a process start).
const POLL: Duration = Duration::from_millis(200);

/// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir
/// for marker files. Dropping it kills the server and every process it started.
pub struct App {
    server: Option<Server>,
    pub kubectl: Kubectl,
    state: PathBuf,
    instance: String,
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
        self.restart();
    }

    /// Starts a server on the state dir (after [`App::interrupt`] or a crash).
    pub fn restart(&mut self) {
        let server = Server::start_in(&self.state);
        self.kubectl = server.kubectl(Path::new("kubectl"));
        self.server = Some(server);
    }

    /// Ends the session as Ctrl-C does (SIGINT) and waits for the server to exit.
    pub fn interrupt(&mut self) -> std::process::ExitStatus {
        let mut server = self.server.take().expect("a running server");
        let pid = rustix::process::Pid::from_raw(server.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
        let exited = eventually(WAIT, || server.child.try_wait().unwrap());
        exited.unwrap_or_else(|| panic!("kaspire serve did not exit within {WAIT:?} of SIGINT"))
    }

    /// An absolute path in the scratch dir.
    pub fn path(&self, name: &str) -> String {
        self.scratch
            .path()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// `kubectl apply` of an Executable `name` in `default` with `spec` (JSON).
    pub fn apply_exe(&self, name: &str, spec: Value) {
        self.kubectl
            .ok_stdin(&["apply", "-f", "-"], &manifest(name, spec).to_string());
    }

    /// `kubectl apply` of an Executable expected to be rejected; returns stderr.
    pub fn apply_exe_fails(&self, name: &str, spec: Value) -> String {
        let out = self
            .kubectl
            .run_stdin(&["apply", "-f", "-"], &manifest(name, spec).to_string());
        assert!(
            !out.status.success(),
            "apply of {name} unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// The Executable as JSON (`kubectl get exe NAME -o json`).
    pub fn exe(&self, name: &str) -> Value {
        let out = self.kubectl.ok(&["get", "exe", name, "-o", "json"]);
        serde_json::from_str(&out).expect("kubectl printed JSON")
    }

    /// The Executable, or None when it does not exist.
    pub fn exe_opt(&self, name: &str) -> Option<Value> {
        let out = self.kubectl.run(&["get", "exe", name, "-o", "json"]);
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("kubectl printed JSON"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "get exe {name}: {stderr}");
        None
    }

    /// Polls the Executable until `pred` holds; panics naming `what` with its last
    /// status otherwise.
    pub fn wait(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let exe = self.exe(name);
            if pred(&exe) {
                return exe;
            }
            assert!(
                Instant::now() < deadline,
                "{name} did not become {what} within {WAIT:?}; last status:\n{:#}",
                exe["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits for `status.state == state`.
    pub fn wait_state(&self, name: &str, state_name: &str) -> Value {
        self.wait(name, state_name, |e| state(e) == state_name)
    }

    /// Checks for `for_` that the Executable stays as `pred` says (for "still waiting").
    pub fn stays(&self, name: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + for_;
        while Instant::now() < deadline {
            let exe = self.exe(name);
            assert!(
                pred(&exe),
                "{name} is no longer {what}:\n{:#}",
                exe["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// `kubectl patch exe NAME --type=merge -p PATCH`.
    pub fn patch(&self, name: &str, patch: Value) {
        self.kubectl.ok(&[
            "patch",
            "exe",
            name,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }

    /// Sets a request annotation (`kaspire.dev/start-requested-at`, …) to now; returns
    /// the value written.
    pub fn request(&self, name: &str, annotation: &str) -> String {
        let value = jiff::Timestamp::now().to_string();
        self.kubectl.ok(&[
            "annotate",
            "--overwrite",
            "exe",
            name,
            &format!("{annotation}={value}"),
        ]);
        value
    }

    /// The `log` subresource of `name` with `query` (e.g. `?replica=1`), via
    /// `kubectl get --raw`.
    pub fn log(&self, name: &str, query: &str) -> String {
        self.kubectl.ok(&["get", "--raw", &log_path(name, query)])
    }

    /// Polls the log until it contains `needle`; returns it.
    pub fn wait_log(&self, name: &str, query: &str, needle: &str) -> String {
        let mut last = String::new();
        let found = eventually(WAIT, || {
            last = self.log(name, query);
            let hit = last.contains(needle);
            if !hit {
                std::thread::sleep(POLL);
            }
            hit.then(|| last.clone())
        });
        found.unwrap_or_else(|| panic!("log{query} of {name} never showed {needle:?}:\n{last}"))
    }

    /// Live processes started for object `uid` (by their `KASPIRE_RESOURCE` tag).
    pub fn processes_of(&self, uid: &str) -> Vec<i32> {
        tagged("KASPIRE_RESOURCE", uid)
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

impl Drop for App {
    fn drop(&mut self) {
        drop(self.server.take());
        // Session processes outlive a SIGKILLed server; nothing may outlive the test.
        for pid in tagged("KASPIRE_INSTANCE", &self.instance) {
            kill_group(pid);
        }
    }
}

/// The manifest of an Executable in `default`.
pub fn manifest(name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": "Executable",
        "metadata": {"name": name},
        "spec": spec,
    })
}

pub fn log_path(name: &str, query: &str) -> String {
    format!("/apis/kaspire.dev/v1alpha1/namespaces/default/executables/{name}/log{query}")
}

/// `status.state`.
pub fn state(exe: &Value) -> &str {
    exe["status"]["state"].as_str().unwrap_or("")
}

/// `status.message`.
pub fn message(exe: &Value) -> &str {
    exe["status"]["message"].as_str().unwrap_or("")
}

/// `metadata.uid`.
pub fn uid(exe: &Value) -> String {
    exe["metadata"]["uid"].as_str().expect("uid").to_owned()
}

/// The condition of `type_`.
pub fn condition<'a>(exe: &'a Value, type_: &str) -> Option<&'a Value> {
    exe["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether condition `type_` is True.
pub fn is_true(exe: &Value, type_: &str) -> bool {
    condition(exe, type_).is_some_and(|c| c["status"] == "True")
}

/// The pid of replica `index`, if it runs.
pub fn pid(exe: &Value, index: i64) -> Option<i32> {
    exe["status"]["replicas"]
        .as_array()?
        .iter()
        .find(|r| r["index"].as_i64() == Some(index))?["pid"]
        .as_i64()
        .map(|p| p as i32)
}

/// `status.restartCount` (0 when absent).
pub fn restart_count(exe: &Value) -> i64 {
    exe["status"]["restartCount"].as_i64().unwrap_or(0)
}

/// A timestamp field (`startedAt`, `lastTransitionTime`, …).
pub fn time(value: &Value) -> jiff::Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .expect("RFC3339 timestamp")
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
