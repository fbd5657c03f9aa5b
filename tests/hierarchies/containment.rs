//! Lifecycle containment (product.md §3 `parent`): a child starts only after its parent
//! started (whatever the parent's readiness), is stopped when the parent stops or fails
//! — with a message naming the parent — and comes back when the parent runs again. The
//! children here are an Executable and a Value.

use crate::*;

#[test]
fn children_start_only_after_their_parent_started_whatever_its_readiness() {
    let app = App::start();
    // Started on request only, and never Ready: its readiness check probes a port
    // nothing listens on.
    let mut host = sleeper();
    host["explicitStart"] = json!(true);
    host["endpoints"] = json!([{"name": "tcp", "scheme": "tcp"}]);
    host["healthChecks"] = json!([{"tcp": {"endpoint": "tcp"}}]);
    app.apply(&[
        exe("host", host),
        exe("plugin", child_of("host", sleeper())),
        val("appdata", child_of("host", json!({}))),
    ]);
    app.wait_state("exe/host", "NotStarted");
    let plugin = app.wait_state("exe/plugin", "Waiting");
    assert!(message(&plugin).contains("host"), "{:#}", plugin["status"]);
    // A Value mirrors its parent's state.
    let appdata = app.wait_state("val/appdata", "NotStarted");
    assert!(
        message(&appdata).contains("parent host"),
        "{:#}",
        appdata["status"]
    );
    app.stays("exe/plugin", "Waiting", Duration::from_secs(2), |e| {
        state(e) == "Waiting" && pid(e).is_none()
    });

    app.request("host", "kaspire.dev/start-requested-at");
    let plugin = app.wait("exe/plugin", "Running", |e| {
        state(e) == "Running" && pid(e).is_some()
    });
    let host = app.get("exe/host");
    assert_eq!(state(&host), "Running");
    assert!(!ready(&host), "the host never becomes Ready");
    assert!(
        time(&plugin["status"]["startedAt"]) >= time(&host["status"]["startedAt"]),
        "child started before its parent"
    );
    // The Value mirrors the parent's state; Ready waits for the parent's readiness.
    let appdata = app.wait_state("val/appdata", "Running");
    assert!(!ready(&appdata), "{:#}", appdata["status"]);
    assert!(
        message(&appdata).contains("parent host to become Ready"),
        "{:#}",
        appdata["status"]
    );
}

#[test]
fn stopping_a_parent_stops_its_children_and_running_it_again_brings_them_back() {
    let app = App::start();
    app.apply(&[
        exe("host", sleeper()),
        exe("plugin", child_of("host", sleeper())),
        val("appdata", child_of("host", json!({}))),
    ]);
    let plugin = app.wait("exe/plugin", "Running", |e| pid(e).is_some());
    app.wait("val/appdata", "Ready", ready);
    let old_pid = pid(&plugin).unwrap();

    app.patch("exe/host", json!({"spec": {"stopped": true}}));
    app.wait_state("exe/host", "Exited");
    let plugin = app.wait("exe/plugin", "stopped with its parent", |e| {
        state(e) == "Exited" && pid(e).is_none()
    });
    assert!(message(&plugin).contains("host"), "{:#}", plugin["status"]);
    wait_dead(old_pid);
    let appdata = app.wait("val/appdata", "stopped with its parent", |v| {
        state(v) == "Exited" && !ready(v)
    });
    assert!(
        message(&appdata).contains("parent host"),
        "{:#}",
        appdata["status"]
    );
    app.wait_only_processes_of(&[]);

    app.patch("exe/host", json!({"spec": {"stopped": false}}));
    let plugin = app.wait("exe/plugin", "Running again", |e| {
        state(e) == "Running" && pid(e).is_some()
    });
    assert_ne!(pid(&plugin), Some(old_pid));
    app.wait("val/appdata", "Ready again", ready);
}

#[test]
fn a_parent_that_fails_stops_its_children_naming_it() {
    let app = App::start();
    let trigger = app.path("fail-now");
    app.apply(&[
        exe(
            "host",
            json!({"command": "sh", "args": ["-c",
                format!("while [ ! -e {trigger} ]; do sleep 0.1; done; exit 3")]}),
        ),
        exe("plugin", child_of("host", sleeper())),
        val("appdata", child_of("host", json!({}))),
    ]);
    let plugin = app.wait("exe/plugin", "Running", |e| pid(e).is_some());
    app.wait("val/appdata", "Ready", ready);

    std::fs::write(&trigger, "").unwrap();
    let host = app.wait_state("exe/host", "Exited");
    assert_eq!(host["status"]["exitCode"], 3);
    let stopped = app.wait("exe/plugin", "stopped", |e| {
        state(e) == "Exited" && pid(e).is_none()
    });
    assert!(
        message(&stopped).contains("parent host"),
        "{:#}",
        stopped["status"]
    );
    wait_dead(pid(&plugin).unwrap());
    let appdata = app.wait_state("val/appdata", "Exited");
    assert!(!ready(&appdata));
    assert!(
        message(&appdata).contains("parent host is Exited") && message(&appdata).contains('3'),
        "{:#}",
        appdata["status"]
    );
    app.stays("exe/plugin", "stopped", Duration::from_secs(2), |e| {
        state(e) == "Exited"
    });
    app.wait_only_processes_of(&[]);
}
