//! `kaspire get`, `logs`, `start`/`stop`/`restart` and `down` through the real binary,
//! against a control plane started with `kaspire up --detach` that runs real processes.

#[path = "cli/support.rs"]
mod cli_support;
mod support;

use std::time::Duration;

use cli_support::{App, ok, row, run, stderr, stdout, tagged_processes};
use support::eventually;

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
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: unready}
spec:
  command: sleep
  args: ['300']
  endpoints: [{name: http, scheme: http}]
  healthChecks: [{tcp: {endpoint: http}}]
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
    app.wait_state("sleeper", "Running (Ready)");
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
    app.wait_state("talker", "Running (Ready)");
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
    app.wait_state("sleeper", "Running (Ready)");

    let out = ok(&app.state, &["stop", "sleeper"]);
    assert!(out.starts_with("sleeper: Exited after "), "{out}");
    assert_eq!(app.state_of("sleeper").as_deref(), Some("Exited"));

    let out = ok(&app.state, &["start", "sleeper"]);
    assert!(out.starts_with("sleeper: Running (Ready) after "), "{out}");

    let out = ok(&app.state, &["restart", "sleeper"]);
    assert!(out.starts_with("sleeper: Running (Ready) after "), "{out}");
    assert_eq!(app.state_of("sleeper").as_deref(), Some("Running (Ready)"));

    // Starting what already runs asks for nothing and reports where it is.
    let out = ok(&app.state, &["start", "sleeper"]);
    assert!(out.starts_with("sleeper: Running (Ready) after "), "{out}");

    // A start that ends badly is a failure naming the state and the message.
    let out = run(&app.state, &["start", "crasher"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).starts_with("crasher: Exited after "),
        "{}",
        stderr(&out)
    );

    // A timeout is a failure that says where the resource is and why.
    let out = run(&app.state, &["restart", "unready", "--timeout", "1"]);
    assert!(!out.status.success(), "{}", stdout(&out));
    assert!(
        stderr(&out).contains("unready: did not restart within 1 s; it is Running (not ready) — "),
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
    app.wait_state("talker", "Running (Ready)");
    let instance = app.instance();
    assert!(
        !tagged_processes(&instance).is_empty(),
        "no tagged processes while running"
    );
    let out = ok(&app.state, &["down"]);
    assert!(out.contains("session ended"), "{out}");
    assert_eq!(tagged_processes(&instance), Vec::<u32>::new());
    assert!(!app.state.join("control-plane.pid").exists());
    let out = ok(&app.state, &["down"]);
    assert!(out.contains("nothing to do"), "{out}");
}
