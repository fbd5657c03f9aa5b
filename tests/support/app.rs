//! One control plane per test, for the end-to-end suites (executables, hierarchies,
//! networking, containers): `kaspire serve` on a private state dir, kubectl against it,
//! a scratch dir, and the reads and polls every suite makes. Each suite wraps it in its
//! own `App` (through `Deref`) with the shorthands its scenarios read best with.
//!
//! Dropping it stops the server and kills every process tagged with its instance:
//! session processes outlive a SIGKILLed server, and nothing may outlive a test.
//! Nothing here asserts a timing: every wait is a poll with a generous deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::processes::{kill_group, tagged};
use super::{Kubectl, Server, eventually};

/// How long any state may take to be reached (the machine is shared and busy).
pub const WAIT: Duration = Duration::from_secs(60);
/// Pause between two kubectl reads while polling (each read is a process start).
pub const POLL: Duration = Duration::from_millis(200);

/// `kaspire serve` on a private state dir, kubectl against it, a scratch dir.
pub struct TestApp {
    server: Option<Server>,
    pub kubectl: Kubectl,
    pub state: PathBuf,
    pub instance: String,
    scratch: tempfile::TempDir,
    env: Vec<(String, String)>,
    _tmp: tempfile::TempDir,
}

impl TestApp {
    pub fn start() -> TestApp {
        TestApp::start_with_env(&[])
    }

    /// A control plane with extra environment (e.g. `DOCKER_HOST`), kept across restarts.
    pub fn start_with_env(env: &[(&str, &str)]) -> TestApp {
        let tmp = tempfile::tempdir().expect("temp dir");
        let state = tmp.path().join("state");
        let server = Server::start_in_with_env(&state, env);
        let kubectl = server.kubectl(Path::new("kubectl"));
        let instance = std::fs::read_to_string(state.join("instance-id"))
            .expect("the control plane wrote its instance id")
            .trim()
            .to_owned();
        TestApp {
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

    /// SIGKILLs the server, as a crash would, and starts a new one on the same state dir.
    pub fn crash_and_restart(&mut self) {
        self.server.take().expect("a running server").kill9();
        self.restart();
    }

    /// Starts a server on the state dir (after [`TestApp::interrupt`] or a crash).
    pub fn restart(&mut self) {
        let env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let server = Server::start_in_with_env(&self.state, &env);
        self.kubectl = server.kubectl(Path::new("kubectl"));
        self.server = Some(server);
    }

    /// Ends the session as Ctrl-C does (SIGINT) and waits for the server to exit.
    pub fn interrupt(&mut self) -> ExitStatus {
        let mut server = self.server.take().expect("a running server");
        let pid = rustix::process::Pid::from_raw(server.child.id() as i32).expect("pid");
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("SIGINT");
        let exited = eventually(WAIT, || server.child.try_wait().unwrap());
        exited.unwrap_or_else(|| panic!("kaspire serve did not exit within {WAIT:?} of SIGINT"))
    }

    /// Stops the server now (SIGKILL), before a suite's own cleanup runs.
    pub fn stop_server(&mut self) {
        drop(self.server.take());
    }

    /// An absolute path in the scratch dir.
    pub fn path(&self, name: &str) -> String {
        self.scratch
            .path()
            .join(name)
            .to_string_lossy()
            .into_owned()
    }

    /// Writes `text` to `name` in the scratch dir and returns its path.
    pub fn write(&self, name: &str, text: &str) -> String {
        let path = self.path(name);
        std::fs::write(&path, text).expect("write scratch file");
        path
    }

    /// `kubectl apply` of an object.
    pub fn apply(&self, object: &Value) {
        self.kubectl
            .ok_stdin(&["apply", "-f", "-"], &object.to_string());
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

    /// `kind` `name` as JSON, or None when it does not exist.
    pub fn get_opt(&self, kind: &str, name: &str) -> Option<Value> {
        let out = self.kubectl.run(&["get", kind, name, "-o", "json"]);
        if out.status.success() {
            return Some(serde_json::from_slice(&out.stdout).expect("kubectl printed JSON"));
        }
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("NotFound"), "get {kind} {name}: {stderr}");
        None
    }

    /// `kind` `name` as JSON.
    pub fn get(&self, kind: &str, name: &str) -> Value {
        self.get_opt(kind, name)
            .unwrap_or_else(|| panic!("{kind} {name} does not exist"))
    }

    /// Every object of `kind`, read in one list (one consistent snapshot of the store).
    pub fn list(&self, kind: &str) -> Vec<Value> {
        let list: Value = serde_json::from_str(&self.kubectl.ok(&["get", kind, "-o", "json"]))
            .expect("kubectl printed JSON");
        list["items"].as_array().cloned().unwrap_or_default()
    }

    /// Polls `kind` `name` until it exists and `pred` holds; panics naming `what` with
    /// its last status otherwise.
    pub fn wait(&self, kind: &str, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let current = self.get_opt(kind, name);
            if let Some(current) = current.as_ref().filter(|o| pred(o)) {
                return current.clone();
            }
            assert!(
                Instant::now() < deadline,
                "{kind} {name} did not become {what} within {WAIT:?}; last status:\n{:#}",
                current.map(|o| o["status"].clone()).unwrap_or_default()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Waits until `kind` `name` no longer exists.
    pub fn wait_gone(&self, kind: &str, name: &str) {
        let gone = eventually(WAIT, || {
            let hit = self.get_opt(kind, name).is_none();
            if !hit {
                std::thread::sleep(POLL);
            }
            hit.then_some(())
        });
        assert!(gone.is_some(), "{kind} {name} still exists after {WAIT:?}");
    }

    /// Checks for `for_` that `kind` `name` stays as `pred` says (for "still waiting").
    pub fn stays(
        &self,
        kind: &str,
        name: &str,
        what: &str,
        for_: Duration,
        pred: impl Fn(&Value) -> bool,
    ) {
        let deadline = Instant::now() + for_;
        while Instant::now() < deadline {
            let current = self.get(kind, name);
            assert!(
                pred(&current),
                "{kind} {name} is no longer {what}:\n{:#}",
                current["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// `kubectl patch KIND NAME --type=merge -p PATCH`.
    pub fn patch(&self, kind: &str, name: &str, patch: &Value) {
        self.kubectl.ok(&[
            "patch",
            kind,
            name,
            "--type=merge",
            "-p",
            &patch.to_string(),
        ]);
    }

    /// Sets a request annotation (`kaspire.dev/start-requested-at`, …) to now; returns
    /// the value written.
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

    /// The `log` subresource of `plural` (`executables`, `containers`, `values`) `name`
    /// with `query` (e.g. `?replica=1`), via `kubectl get --raw`.
    pub fn log(&self, plural: &str, name: &str, query: &str) -> String {
        let path =
            format!("/apis/kaspire.dev/v1alpha1/namespaces/default/{plural}/{name}/log{query}");
        self.kubectl.ok(&["get", "--raw", &path])
    }

    /// Polls the log until it contains `needle`; returns it.
    pub fn wait_log(&self, plural: &str, name: &str, query: &str, needle: &str) -> String {
        let mut last = String::new();
        eventually(WAIT, || {
            last = self.log(plural, name, query);
            let hit = last.contains(needle);
            if !hit {
                std::thread::sleep(POLL);
            }
            hit.then(|| last.clone())
        })
        .unwrap_or_else(|| panic!("log{query} of {name} never showed {needle:?}:\n{last}"))
    }

    /// The events recorded about `name` (any kind), as `(reason, message)`, oldest first.
    pub fn events(&self, name: &str) -> Vec<(String, String)> {
        self.list("events")
            .iter()
            .filter(|e| e["involvedObject"]["name"] == name || e["regarding"]["name"] == name)
            .map(|e| {
                let text = |key: &str| e[key].as_str().unwrap_or_default().to_owned();
                (text("reason"), text("message") + &text("note"))
            })
            .collect()
    }

    /// Live processes tagged with this control plane's instance.
    pub fn processes(&self) -> Vec<i32> {
        tagged("KASPIRE_INSTANCE", &self.instance)
    }

    /// Live processes started for object `uid`.
    pub fn processes_of(&self, uid: &str) -> Vec<i32> {
        tagged("KASPIRE_RESOURCE", uid)
    }

    /// Runs the `kaspire` CLI against this control plane; returns stdout and stderr.
    pub fn kaspire(&self, args: &[&str]) -> String {
        let out = kaspire_ok(&self.state, args);
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

/// Runs the `kaspire` CLI with `--state-dir state`; panics with its output if it fails.
pub fn kaspire_ok(state: &Path, args: &[&str]) -> std::process::Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kaspire"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .expect("run kaspire");
    assert!(
        out.status.success(),
        "kaspire {args:?} failed:\n{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

impl Drop for TestApp {
    fn drop(&mut self) {
        drop(self.server.take());
        for pid in tagged("KASPIRE_INSTANCE", &self.instance) {
            kill_group(pid);
        }
    }
}

/// An object of a kaspire kind in `default`.
pub fn manifest(kind: &str, name: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": kind,
        "metadata": {"name": name},
        "spec": spec,
    })
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

/// The condition of `type_`.
pub fn condition<'a>(object: &'a Value, type_: &str) -> Option<&'a Value> {
    object["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == type_)
}

/// Whether condition `type_` is True.
pub fn is_true(object: &Value, type_: &str) -> bool {
    condition(object, type_).is_some_and(|c| c["status"] == "True")
}

/// The pid of replica `index`, if it runs.
pub fn replica_pid(object: &Value, index: i64) -> Option<i32> {
    object["status"]["replicas"]
        .as_array()?
        .iter()
        .find(|r| r["index"].as_i64() == Some(index))?["pid"]
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

/// A timestamp field (`startedAt`, `lastTransitionTime`, …).
pub fn time(value: &Value) -> jiff::Timestamp {
    value
        .as_str()
        .unwrap_or_else(|| panic!("not a timestamp: {value}"))
        .parse()
        .expect("RFC3339 timestamp")
}

/// Declares a suite's `pub struct App(TestApp)`, which derefs to the shared harness so
/// the suite only adds its shorthands (`app.kubectl`, `app.path(…)` … come through).
#[allow(unused_macros)]
macro_rules! suite_app {
    ($(#[$doc:meta])*) => {
        $(#[$doc])*
        pub struct App($crate::support::app::TestApp);

        impl std::ops::Deref for App {
            type Target = $crate::support::app::TestApp;
            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }

        impl std::ops::DerefMut for App {
            fn deref_mut(&mut self) -> &mut Self::Target {
                &mut self.0
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use suite_app;
