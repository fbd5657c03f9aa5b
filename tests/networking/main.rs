//! End-to-end tests of networking (issue 4): the real `kaspire serve` binary, the real
//! kubectl and `kaspire` CLI, and real processes (small python3 HTTP services) behind
//! kaspire's endpoint proxies. Every test starts its own control plane on a temporary
//! state dir, so tests run in parallel.
//!
//! This file holds the harness ([`App`], HTTP through a proxy, reading objects); the
//! scenarios are in the modules below. Nothing asserts a timing: every wait is a poll
//! with a generous deadline, and counts are only compared once the state they depend
//! on is visible in status.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod balancing;
mod ipv6;
mod values;

pub use std::path::{Path, PathBuf};
pub use std::time::{Duration, Instant};

pub use serde_json::{Value, json};
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

/// How long any state may take to be reached (the machine is shared and busy).
pub const WAIT: Duration = Duration::from_secs(60);
/// Pause between two kubectl reads while polling (each read is a process start).
const POLL: Duration = Duration::from_millis(200);

/// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir
/// for scripts and flag files. Dropping it kills the server and every process it started.
pub struct App {
    server: Option<Server>,
    pub kubectl: Kubectl,
    pub state: PathBuf,
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

    /// `kubectl apply` of any object in `default`.
    pub fn apply(&self, object: Value) {
        self.kubectl
            .ok_stdin(&["apply", "-f", "-"], &object.to_string());
    }

    /// `kubectl apply` expected to be rejected; returns stderr.
    pub fn apply_fails(&self, object: Value) -> String {
        let out = self
            .kubectl
            .run_stdin(&["apply", "-f", "-"], &object.to_string());
        assert!(
            !out.status.success(),
            "apply unexpectedly succeeded:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// `kubectl apply` of an Executable `name` with `spec`.
    pub fn apply_exe(&self, name: &str, spec: Value) {
        self.apply(object("Executable", name, spec));
    }

    /// `kubectl apply` of a Parameter `name` with `spec`.
    pub fn apply_param(&self, name: &str, spec: Value) {
        self.apply(object("Parameter", name, spec));
    }

    /// An object as JSON (`kubectl get KIND NAME -o json`).
    pub fn get(&self, kind: &str, name: &str) -> Value {
        let out = self.kubectl.ok(&["get", kind, name, "-o", "json"]);
        serde_json::from_str(&out).expect("kubectl printed JSON")
    }

    /// Polls object `kind/name` until `pred` holds; panics naming `what` with its last
    /// status otherwise.
    pub fn wait_for(
        &self,
        kind: &str,
        name: &str,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let object = self.get(kind, name);
            if pred(&object) {
                return object;
            }
            assert!(
                Instant::now() < deadline,
                "{kind} {name} did not become {what} within {WAIT:?}; last status:\n{:#}",
                object["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// Polls Executable `name` until `pred` holds.
    pub fn wait(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.wait_for("exe", name, what, pred)
    }

    /// Checks for `for_` that the Executable stays as `pred` says (for "still waiting").
    pub fn stays(&self, name: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        let deadline = Instant::now() + for_;
        while Instant::now() < deadline {
            let exe = self.get("exe", name);
            assert!(
                pred(&exe),
                "{name} is no longer {what}:\n{:#}",
                exe["status"]
            );
            std::thread::sleep(POLL);
        }
    }

    /// The events recorded about `name` (any kind), as `(reason, message)`, oldest first.
    pub fn events(&self, name: &str) -> Vec<(String, String)> {
        let out = self.kubectl.ok(&["get", "events", "-o", "json"]);
        let list: Value = serde_json::from_str(&out).expect("kubectl printed JSON");
        list["items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|e| e["involvedObject"]["name"] == name || e["regarding"]["name"] == name)
            .map(|e| {
                let text = |key: &str| e[key].as_str().unwrap_or_default().to_owned();
                (text("reason"), text("message").to_owned() + &text("note"))
            })
            .collect()
    }

    /// Polls until an event about `name` with `reason` exists; returns its message.
    pub fn wait_event(&self, name: &str, reason: &str) -> String {
        let mut last = Vec::new();
        eventually(WAIT, || {
            last = self.events(name);
            let found = last
                .iter()
                .find(|(r, _)| r == reason)
                .map(|(_, m)| m.clone());
            if found.is_none() {
                std::thread::sleep(POLL);
            }
            found
        })
        .unwrap_or_else(|| panic!("no {reason} event about {name}; events: {last:#?}"))
    }

    /// Runs the `kaspire` CLI against this control plane; returns stdout and stderr.
    pub fn kaspire(&self, args: &[&str]) -> String {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_kaspire"))
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .output()
            .expect("run kaspire");
        assert!(
            out.status.success(),
            "kaspire {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    }
}

impl Drop for App {
    fn drop(&mut self) {
        drop(self.server.take());
        // Session processes outlive a SIGKILLed server; nothing may outlive the test.
        for pid in tagged("KASPIRE_INSTANCE", &self.instance) {
            kill(pid, true);
        }
    }
}

/// An object of a kaspire kind in `default`.
pub fn object(kind: &str, name: &str, spec: Value) -> Value {
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

/// Whether condition `type_` is True.
pub fn is_true(object: &Value, type_: &str) -> bool {
    object["status"]["conditions"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|c| c["type"] == type_ && c["status"] == "True")
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

/// The `port` of endpoint `name` in status.
pub fn endpoint_port(exe: &Value, name: &str) -> u16 {
    exe["status"]["endpoints"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|e| e["name"] == name)
        .and_then(|e| e["port"].as_u64())
        .unwrap_or_else(|| panic!("no port for endpoint {name}:\n{:#}", exe["status"])) as u16
}

/// SIGKILL to `pid` (and its process group when `group`).
pub fn kill(pid: i32, group: bool) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid) {
        if group {
            let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        }
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
    }
}

/// One HTTP/1.0 `GET path` to `addr` on a fresh connection; the response body, or why
/// there was none. The read timeout is generous: a held connection may wait a while.
pub fn http_get(addr: std::net::SocketAddr, path: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut stream =
        std::net::TcpStream::connect_timeout(&addr, WAIT).map_err(|e| format!("connect: {e}"))?;
    stream
        .set_read_timeout(Some(WAIT))
        .map_err(|e| e.to_string())?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").as_bytes())
        .map_err(|e| format!("send: {e}"))?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .map_err(|e| format!("receive: {e}"))?;
    match response.split_once("\r\n\r\n") {
        Some((head, body)) if head.starts_with("HTTP/1.0 200") => Ok(body.to_owned()),
        _ => Err(format!("unexpected response: {response:?}")),
    }
}

/// `127.0.0.1:port`.
pub fn v4(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, port))
}
