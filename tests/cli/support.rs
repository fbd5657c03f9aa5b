//! Helpers for the CLI end-to-end tests: run the real binary on a state dir, a detached
//! app ended by `kaspire down` when dropped, `kaspire get` table parsing, and finding the
//! processes kaspire tagged with a state dir's instance id.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use super::support::eventually;

pub fn kaspire(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaspire"));
    cmd.arg("--state-dir").arg(state);
    cmd
}

pub fn run(state: &Path, args: &[&str]) -> Output {
    kaspire(state).args(args).output().expect("run kaspire")
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs kaspire, panicking with its output unless it succeeds; returns stdout.
pub fn ok(state: &Path, args: &[&str]) -> String {
    let out = run(state, args);
    assert!(
        out.status.success(),
        "kaspire {args:?} failed ({}):\n{}{}",
        out.status,
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// A state dir with an app running in a detached control plane; `kaspire down` (and, as a
/// safety net, SIGKILL of the control plane) when dropped.
pub struct App {
    pub state: PathBuf,
    pub tmp: tempfile::TempDir,
}

impl App {
    /// A fresh state dir with nothing running yet.
    pub fn new() -> App {
        let tmp = tempfile::tempdir().unwrap();
        App {
            state: tmp.path().join("state"),
            tmp,
        }
    }

    /// `kaspire up --detach` of `yaml` (plus `extra` flags), whatever the outcome.
    pub fn apply(&self, yaml: &str, extra: &[&str]) -> Output {
        let file = self.tmp.path().join("app.yaml");
        std::fs::write(&file, yaml).unwrap();
        run(
            &self.state,
            &[&["up", "--detach", "-f", file.to_str().unwrap()], extra].concat(),
        )
    }

    /// A detached app running `yaml`.
    pub fn up(yaml: &str) -> App {
        let app = App::new();
        let out = app.apply(yaml, &[]);
        assert!(
            out.status.success(),
            "kaspire up --detach failed:\n{}{}",
            stdout(&out),
            stderr(&out)
        );
        app
    }

    /// The instance id tagging this state dir's processes.
    pub fn instance(&self) -> String {
        std::fs::read_to_string(self.state.join("instance-id"))
            .unwrap()
            .trim()
            .to_owned()
    }

    pub fn get(&self, args: &[&str]) -> String {
        ok(&self.state, &[&["get"], args].concat())
    }

    /// The STATE column of `name` in `kaspire get`.
    pub fn state_of(&self, name: &str) -> Option<String> {
        let table = self.get(&["--all"]);
        row(&table, name).map(|r| r["STATE"].clone())
    }

    /// Polls until `name`'s state column is `state`.
    pub fn wait_state(&self, name: &str, state: &str) {
        let reached = eventually(Duration::from_secs(20), || {
            (self.state_of(name).as_deref() == Some(state)).then_some(())
        });
        assert!(
            reached.is_some(),
            "{name} never reached {state}:\n{}",
            self.get(&["--all"])
        );
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = run(&self.state, &["down"]);
    }
}

/// The row of `name` in a `kaspire get` table, keyed by column header.
pub fn row(table: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
    let mut lines = table.lines();
    let header = lines.next()?;
    let mut starts: Vec<(usize, &str)> = Vec::new();
    let mut offset = 0;
    for h in header.split_whitespace() {
        let start = offset + header[offset..].find(h).unwrap();
        starts.push((start, h));
        offset = start + h.len();
    }
    lines
        .map(|line| {
            // Columns are aligned in characters (the tree uses multi-byte box drawing).
            let chars: Vec<char> = line.chars().collect();
            starts
                .iter()
                .enumerate()
                .map(|(i, (start, h))| {
                    let end = starts.get(i + 1).map_or(chars.len(), |s| s.0);
                    let cell: String = chars[(*start).min(chars.len())..end.min(chars.len())]
                        .iter()
                        .collect();
                    (h.to_string(), cell.trim().to_string())
                })
                .collect::<std::collections::HashMap<_, _>>()
        })
        .find(|r| r.get("NAME").map(|n| n.trim_start_matches(['└', '─', ' '])) == Some(name))
}

/// Processes whose environment carries `KASPIRE_INSTANCE=<id>`.
pub fn tagged_processes(instance: &str) -> Vec<u32> {
    let tag = format!("KASPIRE_INSTANCE={instance}");
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|v| v == tag.as_bytes()))
                .unwrap_or(false)
        })
        .filter(|pid| {
            // A zombie has exited already; its parent just did not reap it yet.
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| {
                    !s.rsplit_once(')')
                        .is_some_and(|(_, r)| r.trim_start().starts_with('Z'))
                })
                .unwrap_or(false)
        })
        .collect()
}

/// Runs kubectl against the state dir's control plane with `stdin`; returns stdout,
/// panicking with stderr unless it succeeds.
pub fn kubectl_stdin(state: &Path, args: &[&str], stdin: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("kubectl")
        .env("KUBECONFIG", state.join("kubeconfig"))
        .arg("--cache-dir")
        .arg(state.join("kubectl-cache"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run kubectl");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "kubectl {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
