//! `spec.parent`: the child starts only once its parent started, is stopped when the
//! parent stops, and is deleted with it.

use crate::*;

fn child() -> Value {
    json!({"command": "sleep", "args": ["300"], "parent": {"name": "host"}})
}

#[test]
fn a_child_waits_for_its_parent_and_stops_with_it() {
    let app = App::start();
    app.apply_exe("plugin", child());
    let plugin = app.wait_state("plugin", "Waiting");
    assert!(message(&plugin).contains("host"), "{:#}", plugin["status"]);

    app.apply_exe("host", json!({"command": "sleep", "args": ["300"]}));
    let plugin = app.wait("plugin", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let host = app.exe("host");
    assert!(time(&plugin["status"]["startedAt"]) >= time(&host["status"]["startedAt"]));
    let plugin_pid = pid(&plugin, 0).unwrap();

    app.patch("host", json!({"spec": {"stopped": true}}));
    app.wait_state("host", "Exited");
    let plugin = app.wait("plugin", "stopped with its parent", |e| {
        state(e) == "Exited" && pid(e, 0).is_none()
    });
    assert!(message(&plugin).contains("host"), "{:#}", plugin["status"]);
    wait_gone(plugin_pid);
}

/// A running host with a running child; deletes the host. Returns the child's pid.
fn delete_a_parent_with_a_running_child(app: &App) -> i32 {
    app.apply_exe("host", json!({"command": "sleep", "args": ["300"]}));
    app.apply_exe("plugin", child());
    let plugin = app.wait("plugin", "Running", |e| pid(e, 0).is_some());
    app.kubectl.ok(&["delete", "exe", "host", "--timeout=60s"]);
    pid(&plugin, 0).unwrap()
}

#[test]
fn deleting_the_parent_stops_the_child() {
    let app = App::start();
    let plugin_pid = delete_a_parent_with_a_running_child(&app);
    wait_gone(plugin_pid);
    if let Some(plugin) = app.exe_opt("plugin") {
        assert_ne!(state(&plugin), "Running", "{:#}", plugin["status"]);
    }
}

#[test]
fn deleting_the_parent_deletes_the_child() {
    let app = App::start();
    delete_a_parent_with_a_running_child(&app);
    assert!(
        eventually(WAIT, || app.exe_opt("plugin").is_none().then_some(())).is_some(),
        "the child outlived its deleted parent: {:#}",
        app.exe("plugin")["status"]
    );
}
