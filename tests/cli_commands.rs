//! `kaspire get`, `logs`, `start`/`stop`/`restart` and `down` through the real binary,
//! against a control plane started with `kaspire up --detach` that runs real processes.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use support::eventually;

fn kaspire(state: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaspire"));
    cmd.arg("--state-dir").arg(state);
    cmd
}

fn run(state: &Path, args: &[&str]) -> Output {
    kaspire(state).args(args).output().expect("run kaspire")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs kaspire, panicking with its output unless it succeeds; returns stdout.
fn ok(state: &Path, args: &[&str]) -> String {
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
struct App {
    state: PathBuf,
    _tmp: tempfile::TempDir,
}

impl App {
    fn up(yaml: &str) -> App {
        let tmp = tempfile::tempdir().unwrap();
        let state = tmp.path().join("state");
        let file = tmp.path().join("app.yaml");
        std::fs::write(&file, yaml).unwrap();
        ok(&state, &["up", "--detach", "-f", file.to_str().unwrap()]);
        App { state, _tmp: tmp }
    }

    fn get(&self, args: &[&str]) -> String {
        ok(&self.state, &[&["get"], args].concat())
    }

    /// The STATE column of `name` in `kaspire get`.
    fn state_of(&self, name: &str) -> Option<String> {
        let table = self.get(&["--all"]);
        row(&table, name).map(|r| r["STATE"].clone())
    }

    /// Polls until `name`'s state column is `state`.
    fn wait_state(&self, name: &str, state: &str) {
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
fn row(table: &str, name: &str) -> Option<std::collections::HashMap<String, String>> {
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
fn tagged_processes(instance: &str) -> Vec<u32> {
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

const APP: &str = "\
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: sleeper}
spec: {command: sleep, args: ['300']}
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: talker}
spec:
  command: sh
  args: ['-c', 'echo hello from talker; echo oops >&2; sleep 300']
  parent: {name: sleeper}
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: secret-helper}
spec: {command: sleep, args: ['300'], hidden: true}
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: crasher}
spec: {command: sh, args: ['-c', 'echo bye; exit 3'], explicitStart: true}
---
apiVersion: kaspire.dev/v1alpha1
kind: Parameter
metadata: {name: greeting}
spec: {value: hi}
";

#[test]
fn commands_without_a_control_plane_say_how_to_start_one() {
    let tmp = tempfile::tempdir().unwrap();
    for args in [&["get"][..], &["logs", "x"], &["restart", "x"]] {
        let out = run(tmp.path(), args);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            stderr(&out).contains("no control plane is running for state dir")
                && stderr(&out).contains("kaspire up -f app.yaml"),
            "{args:?}: {}",
            stderr(&out)
        );
    }
    let out = run(tmp.path(), &["down"]);
    assert!(out.status.success());
    assert!(
        stdout(&out).contains("no control plane is running"),
        "{}",
        stdout(&out)
    );
}

#[test]
fn get_lists_every_resource_hides_hidden_ones_and_nests_children_in_the_tree() {
    let app = App::up(APP);
    app.wait_state("sleeper", "Running");
    let table = app.get(&[]);
    assert!(table.starts_with("KIND"), "{table}");
    for name in ["sleeper", "talker", "crasher", "greeting"] {
        assert!(row(&table, name).is_some(), "{name} missing:\n{table}");
    }
    assert!(
        row(&table, "secret-helper").is_none(),
        "hidden shown:\n{table}"
    );
    assert_eq!(row(&table, "greeting").unwrap()["KIND"], "Parameter");
    assert_eq!(row(&table, "crasher").unwrap()["STATE"], "NotStarted");
    assert!(row(&app.get(&["--all"]), "secret-helper").is_some());

    let tree = app.get(&["--tree"]);
    let lines: Vec<&str> = tree.lines().collect();
    let parent = lines.iter().position(|l| l.contains(" sleeper ")).unwrap();
    assert!(
        lines[parent + 1].contains("└─ talker"),
        "talker is not nested under sleeper:\n{tree}"
    );
    let all_namespaces = app.get(&["-A"]);
    assert!(all_namespaces.starts_with("NAMESPACE"), "{all_namespaces}");
}

#[test]
fn logs_stream_the_output_of_a_resource_and_name_an_unknown_one() {
    let app = App::up(APP);
    app.wait_state("talker", "Running");
    let text = eventually(Duration::from_secs(10), || {
        let out = ok(&app.state, &["logs", "talker"]);
        out.contains("hello from talker").then_some(out)
    })
    .expect("talker's output never showed");
    assert!(text.contains("oops"), "{text}");
    let only_stdout = ok(&app.state, &["logs", "talker", "--source", "stdout"]);
    assert!(!only_stdout.contains("oops"), "{only_stdout}");
    let stamped = ok(
        &app.state,
        &["logs", "talker", "--timestamps", "--tail", "1"],
    );
    assert_eq!(stamped.lines().count(), 1, "{stamped}");
    assert!(stamped.starts_with("20"), "{stamped}");

    let out = run(&app.state, &["logs", "nobody"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("\"nobody\"") && stderr(&out).contains("kaspire get"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn start_stop_and_restart_report_the_state_reached() {
    let app = App::up(APP);
    app.wait_state("sleeper", "Running");

    let out = ok(&app.state, &["stop", "sleeper"]);
    assert!(out.starts_with("sleeper: Exited after "), "{out}");
    assert_eq!(app.state_of("sleeper").as_deref(), Some("Exited"));

    let out = ok(&app.state, &["start", "sleeper"]);
    assert!(out.starts_with("sleeper: Running after "), "{out}");

    let out = ok(&app.state, &["restart", "sleeper"]);
    assert!(out.starts_with("sleeper: Running after "), "{out}");
    assert_eq!(app.state_of("sleeper").as_deref(), Some("Running"));

    // A start that ends badly is a failure naming the state and the message.
    let out = run(&app.state, &["start", "crasher"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with("crasher: Exited after "),
        "{}",
        stderr(&out)
    );

    let out = run(&app.state, &["restart", "greeting"]);
    assert!(!out.status.success());
    assert!(
        stderr(&out).contains("no process to restart"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn down_ends_the_session_and_leaves_no_process_behind() {
    let app = App::up(APP);
    app.wait_state("talker", "Running");
    let instance = std::fs::read_to_string(app.state.join("instance-id")).unwrap();
    assert!(
        !tagged_processes(instance.trim()).is_empty(),
        "no tagged processes while running"
    );
    let out = ok(&app.state, &["down"]);
    assert!(out.contains("session ended"), "{out}");
    assert_eq!(tagged_processes(instance.trim()), Vec::<u32>::new());
    assert!(!app.state.join("control-plane.pid").exists());
    let out = ok(&app.state, &["down"]);
    assert!(out.contains("nothing to do"), "{out}");
}
