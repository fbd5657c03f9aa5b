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
use support::app::{POLL, TestApp, replica_pid};
pub use support::app::{WAIT, is_true, manifest as object, message, state};
pub use support::processes::{alive, kill_group, python3, tagged};
pub use support::{Kubectl, Server, eventually};

support::app::suite_app! {
    /// One `kaspire serve` on a private state dir, kubectl against it, and a scratch dir
    /// for scripts and flag files ([`TestApp`]), with shorthands for Executables and
    /// Parameters in `default`. Dropping it kills the server and every process it started.
}

impl App {
    pub fn start() -> App {
        App(TestApp::start())
    }

    /// `kubectl apply` of an Executable `name` with `spec`.
    pub fn apply_exe(&self, name: &str, spec: Value) {
        self.apply(&object("Executable", name, spec));
    }

    /// `kubectl apply` of a Parameter `name` with `spec`.
    pub fn apply_param(&self, name: &str, spec: Value) {
        self.apply(&object("Parameter", name, spec));
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
        self.0.wait(kind, name, what, pred)
    }

    /// Polls Executable `name` until `pred` holds.
    pub fn wait(&self, name: &str, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        self.0.wait("exe", name, what, pred)
    }

    /// Checks for `for_` that the Executable stays as `pred` says (for "still waiting").
    pub fn stays(&self, name: &str, what: &str, for_: Duration, pred: impl Fn(&Value) -> bool) {
        self.0.stays("exe", name, what, for_, pred)
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
}

/// The pid of replica `index`, if it runs.
pub fn pid(exe: &Value, index: i64) -> Option<i32> {
    replica_pid(exe, index)
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
