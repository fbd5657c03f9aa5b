//! `kaspire up` through the real binary: it applies the app files to a control plane
//! that kubectl can reach, rejects a bad file naming the resource and field without
//! applying anything, prunes what the files no longer hold, ends the session on Ctrl-C
//! or SIGTERM; `--detach` leaves it running for `kaspire down`, `--wait` returns once
//! the app is up or fails naming what did not come up.

#[path = "cli/support.rs"]
mod cli_support;
mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use cli_support::{App, kaspire, ok, run, stderr, stdout, tagged_processes};

#[test]
fn up_applies_the_example_app_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/app.yaml");
    let mut child = kaspire(&state)
        .args(["up", "-f", app])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut applied = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(what) = line.strip_prefix("applied ") {
            applied.push(what.to_string());
            if applied.len() == 5 {
                break;
            }
        }
    }
    assert_eq!(
        applied,
        [
            "parameter/api-key",
            "executable/migrate",
            "executable/api",
            "executable/worker",
            "executable/web"
        ]
    );

    let kubectl = Command::new("kubectl")
        .env("KUBECONFIG", state.join("kubeconfig"))
        .args(["get", "exe", "-o", "jsonpath={.items[*].metadata.name}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&kubectl.stdout),
        "api migrate web worker"
    );

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "kaspire up exited with {status} after Ctrl-C"
    );
}

#[test]
fn up_rejects_a_bad_file_naming_resource_and_field_and_applies_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = tmp.path().join("app.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: good}\nspec: {command: 'true'}\n---\n\
         apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: bad}\nspec: {command: 'true', replicas: two}\n",
    )
    .unwrap();
    let out = kaspire(&state)
        .args(["up", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("document 2")
            && stderr.contains("\"bad\"")
            && stderr.contains("spec.replicas"),
        "{stderr}"
    );

    // The good document was not applied either: the store holds no Executable.
    let server = support::Server::start_in(&state);
    let kubectl = server.kubectl(std::path::Path::new("kubectl"));
    assert_eq!(kubectl.ok(&["get", "exe", "-o", "name"]), "");
}

#[test]
fn up_prunes_objects_the_files_no_longer_hold() {
    let two = "\
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: keep}
spec: {command: sleep, args: ['300']}
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: old}
spec: {command: sleep, args: ['300']}
";
    let app = App::up(two);
    // Made by someone else (no applied-by label): never pruned.
    cli_support::kubectl_stdin(
        &app.state,
        &["apply", "-f", "-"],
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: mine}\nspec: {command: 'true'}\n",
    );

    let out = app.apply(&two.replace("name: old", "name: new"), &[]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(
        text.contains("applying to the control plane already running"),
        "{text}"
    );
    assert!(text.contains("applied executable/new"), "{text}");
    assert!(text.contains("pruned executable/old"), "{text}");
    assert!(!text.contains("pruned executable/keep"), "{text}");
    assert_eq!(
        cli_support::kubectl_stdin(
            &app.state,
            &["get", "exe", "-o", "jsonpath={.items[*].metadata.name}"],
            ""
        ),
        "keep mine new"
    );
}

#[test]
fn detach_returns_at_once_and_down_ends_the_control_plane() {
    let app = App::new();
    let out = app.apply(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: s}\nspec: {command: sleep, args: ['300']}\n",
        &[],
    );
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("control plane running in the background"),
        "{text}"
    );
    assert!(text.contains("applied executable/s"), "{text}");
    assert!(
        text.contains("get") && text.contains("logs NAME -f") && text.contains("down"),
        "{text}"
    );
    let pid: i32 = std::fs::read_to_string(app.state.join("control-plane.pid"))
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    assert!(std::path::Path::new(&format!("/proc/{pid}")).exists());
    assert!(ok(&app.state, &["get"]).contains(" s "));

    // A second foreground `up` on the same state dir is refused, naming the way out.
    let again = kaspire(&app.state)
        .args([
            "up",
            "-f",
            app.tmp.path().join("app.yaml").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(!again.status.success());
    assert!(
        stderr(&again).contains("already running"),
        "{}",
        stderr(&again)
    );

    let out = ok(&app.state, &["down"]);
    assert!(out.contains("session ended"), "{out}");
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists() || {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            stat.contains(") Z")
        }
    );
    assert!(!app.state.join("control-plane.pid").exists());
    assert_eq!(tagged_processes(&app.instance()), Vec::<u32>::new());
}

#[test]
fn sigterm_ends_the_session_of_a_foreground_up() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = tmp.path().join("app.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: s}\nspec: {command: sleep, args: ['300']}\n",
    )
    .unwrap();
    let mut child = kaspire(&state)
        .args(["up", "-f", file.to_str().unwrap()])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut seen = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        let running = line.starts_with("s ") && line.contains("Running");
        seen.push(line);
        if running {
            break;
        }
    }
    let instance = std::fs::read_to_string(state.join("instance-id")).unwrap();
    assert!(!tagged_processes(instance.trim()).is_empty(), "{seen:?}");
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = child.wait().unwrap();
    assert!(status.success(), "{status}: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("ending the session")),
        "{rest:?}"
    );
    assert_eq!(tagged_processes(instance.trim()), Vec::<u32>::new());
    assert!(!state.join("control-plane.pid").exists());
}

const WAITED: &str = "\
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: web}
spec:
  command: sh
  args: ['-c', 'exec python3 -m http.server --bind 127.0.0.1 $PORT']
  endpoints: [{name: http, scheme: http, env: PORT}]
  healthChecks: [{http: {endpoint: http, path: /}}]
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: job}
spec: {command: sh, args: ['-c', 'echo migrated']}
";

#[test]
fn wait_returns_once_every_resource_is_ready_or_finished() {
    let app = App::new();
    let out = app.apply(WAITED, &["--wait", "--timeout", "60"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(
        text.contains("all 2 resources are Ready or Finished"),
        "{text}"
    );
    let table = ok(&app.state, &["get"]);
    let web = cli_support::row(&table, "web").unwrap();
    assert_eq!(web["STATE"], "Running (Ready)", "{table}");
    assert!(web["URL"].starts_with("http://"), "{table}");
    let _ = run(&app.state, &["down"]);
}

#[test]
fn wait_fails_naming_each_resource_that_did_not_come_up() {
    let app = App::new();
    let broken = format!(
        "{WAITED}---\napiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {{name: crash}}\nspec: {{command: sh, args: ['-c', 'exit 7']}}\n\
         ---\napiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {{name: missing}}\nspec: {{command: no-such-program-kaspire}}\n"
    );
    let started = std::time::Instant::now();
    let out = app.apply(&broken, &["--wait", "--timeout", "60"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "did not fail fast"
    );
    let err = stderr(&out);
    assert!(
        err.contains("executable crash is Exited")
            || err.contains("executable missing is FailedToStart"),
        "{err}"
    );
    let _ = run(&app.state, &["down"]);
}
