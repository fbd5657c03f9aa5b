//! Cascades with a Container parent (issue 6): deleting it in each propagation mode, and
//! its terminal failure. After each, `docker ps -a` (this instance's label) and the
//! process table hold exactly what the cascade should have left.

use crate::*;
use support::app::{owner_uids, replica_pid};
use support::processes::alive;

/// A Container parent with a Container child and an Executable child, all running.
struct Family {
    parent: String,
    child_container: String,
    child_process: i32,
}

/// Starts `{prefix}-db` (with `parent_spec`), `{prefix}-cache` (a Container child) and
/// `{prefix}-tool` (a process child); waits until both children run and are owned.
fn family(app: &App, prefix: &str, parent_spec: Value) -> Family {
    let parent = format!("{prefix}-db");
    app.apply_ctr(&parent, parent_spec);
    let mut cache = shell("exec sleep 600");
    cache["parent"] = json!({"name": parent});
    app.apply_ctr(&format!("{prefix}-cache"), cache);
    app.apply(
        "Executable",
        &format!("{prefix}-tool"),
        json!({"command": "sleep", "args": ["600"], "parent": {"name": parent}}),
    );
    let db = app.wait_state("ctr", &parent, "Running");
    let owned_by_db = |o: &Value| owner_uids(o) == [uid(&db)];
    let cache = app.wait(
        "ctr",
        &format!("{prefix}-cache"),
        "Running and owned",
        |c| state(c) == "Running" && owned_by_db(c),
    );
    let pid = |e: &Value| replica_pid(e, 0);
    let tool = app.wait("exe", &format!("{prefix}-tool"), "Running and owned", |e| {
        state(e) == "Running" && owned_by_db(e) && pid(e).is_some()
    });
    Family {
        parent: uid(&db),
        child_container: uid(&cache),
        child_process: pid(&tool).expect("pid"),
    }
}

/// The containers (running or not) made for the resource with `uid` (uids are unique,
/// so no other instance's can match).
fn containers_of(uid: &str) -> Vec<String> {
    containers_labelled(&format!("kaspire.dev/uid={uid}"))
}

fn wait_no_container_of(uid: &str, what: &str) {
    eventually(WAIT, || {
        let left = containers_of(uid);
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(250));
        }
        left.is_empty().then_some(())
    })
    .unwrap_or_else(|| panic!("docker ps -a still shows {what}"));
}

fn wait_dead(pid: i32, what: &str) {
    eventually(WAIT, || {
        if alive(pid) {
            std::thread::sleep(Duration::from_millis(100));
        }
        (!alive(pid)).then_some(())
    })
    .unwrap_or_else(|| panic!("{what} (pid {pid}) still runs"));
}

#[test]
fn deleting_a_container_parent_in_each_mode_leaves_nothing_behind_but_what_orphan_keeps() {
    require_docker!();
    let app = App::start();
    for mode in ["background", "foreground"] {
        let family = family(&app, mode, shell("exec sleep 600"));
        app.kubectl.ok(&[
            "delete",
            "ctr",
            &format!("{mode}-db"),
            &format!("--cascade={mode}"),
            "--timeout=90s",
        ]);
        app.wait_gone("ctr", &format!("{mode}-cache"));
        app.wait_gone("exe", &format!("{mode}-tool"));
        wait_no_container_of(&family.parent, &format!("{mode}: the parent's container"));
        wait_no_container_of(
            &family.child_container,
            &format!("{mode}: the child's container"),
        );
        wait_dead(family.child_process, &format!("{mode}: the child process"));
    }
    assert!(
        app.containers().is_empty(),
        "nothing of the deleted families is left"
    );

    let family = family(&app, "orphan", shell("exec sleep 600"));
    let cache_id = container_id(&app.get("ctr", "orphan-cache"));
    app.kubectl.ok(&[
        "delete",
        "ctr",
        "orphan-db",
        "--cascade=orphan",
        "--timeout=90s",
    ]);
    wait_no_container_of(&family.parent, "orphan: the parent's container");
    // The children are released and keep running: the same container, the same process.
    let cache = app.wait("ctr", "orphan-cache", "released", |c| {
        c["metadata"]["ownerReferences"].is_null()
    });
    assert_eq!(state(&cache), "Running", "{:#}", cache["status"]);
    assert_eq!(container_id(&cache), cache_id);
    assert_eq!(containers_of(&family.child_container).len(), 1);
    assert!(alive(family.child_process));
    // Deleting the released children leaves nothing either.
    app.kubectl
        .ok(&["delete", "ctr", "orphan-cache", "--timeout=90s"]);
    app.kubectl
        .ok(&["delete", "exe", "orphan-tool", "--timeout=90s"]);
    wait_dead(family.child_process, "orphan: the released process");
    assert!(app.containers().is_empty(), "docker ps -a shows a leftover");
}

#[test]
fn a_container_parent_that_fails_stops_its_children_and_leaves_no_child_container() {
    require_docker!();
    let app = App::start();
    let dir = app.path("trigger");
    std::fs::create_dir_all(&dir).unwrap();
    let mut parent = shell("while [ ! -e /trigger/now ]; do sleep 0.1; done; exit 3");
    parent["volumes"] = json!([{"type": "bind", "source": dir, "target": "/trigger"}]);
    let family = family(&app, "failing", parent);
    std::fs::write(format!("{dir}/now"), "").unwrap();

    let db = app.wait_state("ctr", "failing-db", "Exited");
    assert_eq!(db["status"]["exitCode"], 3, "{:#}", db["status"]);
    for (kind, name) in [("ctr", "failing-cache"), ("exe", "failing-tool")] {
        let child = app.wait(kind, name, "stopped", |c| state(c) == "Exited");
        assert!(
            message(&child).contains("parent failing-db"),
            "{kind}/{name}: {:#}",
            child["status"]
        );
    }
    wait_dead(family.child_process, "the child process");
    wait_no_container_of(&family.child_container, "the stopped child's container");
}
