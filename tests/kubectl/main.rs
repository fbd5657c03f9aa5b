//! End-to-end tests through the real kubectl binaries (1.27, 1.33, the one on PATH and
//! 1.35) against a real `kaspire serve`. Every scenario runs once per binary, each in
//! its own namespace of one shared server, and reports every version that failed.
//!
//! This file holds the harness (the per-binary loop and helpers); the scenarios are
//! grouped by verb in the modules below.

#[path = "../support/mod.rs"]
mod support;

mod apply;
mod delete_and_wait;
mod discovery;
mod edits;
mod invalid_input;
mod reads;

use std::io::{BufRead, BufReader};
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::path::PathBuf;
use std::process::{Child, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

pub use support::{Kubectl, Server, eventually, kubectls};

pub const WAIT: Duration = Duration::from_secs(15);

/// One kubectl binary working in its own namespace.
pub struct Ctl {
    pub kubectl: Kubectl,
    /// A namespace private to this binary, so versions never see each other's objects.
    pub ns: String,
}

impl Ctl {
    pub fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["-n", self.ns.as_str()];
        all.extend_from_slice(args);
        all
    }

    /// Runs in the namespace; panics with the output unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        self.kubectl.ok(&self.args(args))
    }

    pub fn ok_stdin(&self, args: &[&str], stdin: &str) -> String {
        self.kubectl.ok_stdin(&self.args(args), stdin)
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.kubectl.run(&self.args(args))
    }

    pub fn run_stdin(&self, args: &[&str], stdin: &str) -> Output {
        self.kubectl.run_stdin(&self.args(args), stdin)
    }

    /// Runs expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        self.kubectl.fails(&self.args(args))
    }

    pub fn fails_stdin(&self, args: &[&str], stdin: &str) -> String {
        let out = self.run_stdin(args, stdin);
        assert!(
            !out.status.success(),
            "{:?} unexpectedly succeeded:\n{}",
            args,
            text(&out.stdout)
        );
        text(&out.stderr)
    }

    /// `kubectl apply -f -` of `yaml`; returns stdout.
    pub fn apply(&self, yaml: &str) -> String {
        self.ok_stdin(&["apply", "-f", "-"], yaml)
    }

    /// `get <target> -o jsonpath=<path>`.
    pub fn jsonpath(&self, target: &str, path: &str) -> String {
        self.ok(&["get", target, "-o", &format!("jsonpath={path}")])
    }

    /// Whether `get <target>` finds the object.
    pub fn exists(&self, target: &str) -> bool {
        let out = self.run(&["get", target, "-o", "name"]);
        if out.status.success() {
            return true;
        }
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("NotFound") || stderr.contains("not found"),
            "get {target} failed:\n{stderr}"
        );
        false
    }

    /// A long-running kubectl (watch, wait) with stdout and stderr piped.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.kubectl
            .command(&self.args(args))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn kubectl")
    }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs `scenario` with every kubectl binary against `server`, each in a fresh namespace
/// (created with `kubectl apply`), then fails listing every version that failed
/// (`KUBECTL_TESTS_FAIL_FAST=1` stops at the first failure instead).
pub fn for_each_kubectl(server: &Server, scenario: impl Fn(&Ctl)) {
    let binaries: Vec<PathBuf> = kubectls();
    assert!(!binaries.is_empty(), "no kubectl binary found");
    let mut failed = Vec::new();
    for binary in binaries {
        let kubectl = server.kubectl(&binary);
        let version = client_version(&kubectl);
        let label = format!("kubectl {version} ({})", binary.display());
        let ns = format!(
            "k{}",
            version.split('.').take(2).collect::<Vec<_>>().join("-")
        );
        kubectl.ok_stdin(
            &["apply", "-f", "-"],
            &format!("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n"),
        );
        let ctl = Ctl { kubectl, ns };
        eprintln!("--- {label}");
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| scenario(&ctl))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            eprintln!("FAILED with {label}: {message}");
            failed.push(label);
            if failed.len() == 1 && std::env::var_os("KUBECTL_TESTS_FAIL_FAST").is_some() {
                resume_unwind(panic);
            }
        }
    }
    assert!(
        failed.is_empty(),
        "scenario failed with: {}",
        failed.join(", ")
    );
}

/// `1.27.16` from `kubectl version --client`.
pub fn client_version(kubectl: &Kubectl) -> String {
    let out = kubectl.ok(&["version", "--client", "-o", "json"]);
    let json: serde_json::Value = serde_json::from_str(&out).expect("kubectl version json");
    let git = json
        .pointer("/clientVersion/gitVersion")
        .and_then(|v| v.as_str())
        .expect("gitVersion");
    git.trim_start_matches('v')
        .split(['-', '+'])
        .next()
        .unwrap()
        .to_string()
}

pub fn executable(name: &str, labels: &str, spec: &str) -> String {
    format!(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata:\n  name: {name}\n  labels: {{{labels}}}\nspec:\n{spec}"
    )
}

/// Sets `status.conditions` (and optionally `status.state`) through the status subresource.
pub fn set_status(ctl: &Ctl, target: &str, state: &str, ready: &str) {
    let patch = format!(
        r#"{{"status":{{"state":"{state}","conditions":[{{"type":"Ready","status":"{ready}","reason":"Test","message":"set by the test","lastTransitionTime":"2024-01-01T00:00:00Z"}}]}}}}"#
    );
    ctl.ok(&[
        "patch",
        target,
        "--subresource=status",
        "--type=merge",
        "-p",
        &patch,
    ]);
}

/// Reads a child's stdout lines on a thread.
pub fn lines_of(child: &mut Child) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for a line matching `pred`, returning every line seen so far.
pub fn expect_line(
    rx: &mpsc::Receiver<String>,
    seen: &mut Vec<String>,
    pred: impl Fn(&str) -> bool,
) -> bool {
    let deadline = std::time::Instant::now() + WAIT;
    while let Some(left) = deadline.checked_duration_since(std::time::Instant::now()) {
        match rx.recv_timeout(left) {
            Ok(line) => {
                let hit = pred(&line);
                seen.push(line);
                if hit {
                    return true;
                }
            }
            Err(_) => return false,
        }
    }
    false
}

/// Waits for a child to exit within `WAIT`; kills it and panics otherwise.
pub fn finish(mut child: Child, what: &str) -> Output {
    let exited = eventually(WAIT, || child.try_wait().unwrap());
    if exited.is_none() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    assert!(
        exited.is_some(),
        "{what} did not finish:\n{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    out
}

/// Whether a child is still running after `after`.
pub fn still_running(child: &mut Child, after: Duration) -> bool {
    std::thread::sleep(after);
    child.try_wait().unwrap().is_none()
}
