//! `kubectl delete --cascade=background|foreground|orphan` of a parent with children:
//! an Executable child that has a child of its own, and a Value with `onParentReady`.
//! Background and Foreground delete the whole family (Foreground keeps the parent
//! until the children are gone); Orphan keeps the children, released from the parent.
//! Every scenario ends with the process table holding nothing the cascade should have
//! stopped.

use crate::*;

/// The uids of a running family: host → plugin → leaf, and host → appdata.
struct Family {
    host: String,
    plugin: String,
    leaf: String,
    appdata: String,
}

/// Starts the family; `plugin` runs `plugin_spec` (a sleeper unless a test needs more).
fn family(app: &App, plugin_spec: Value) -> Family {
    let runs = app.path("runs");
    app.apply(&[
        exe("host", sleeper()),
        exe("plugin", child_of("host", plugin_spec)),
        exe("leaf", child_of("plugin", sleeper())),
        val(
            "appdata",
            child_of(
                "host",
                json!({"onParentReady": {"exec": {"command":
                    ["sh", "-c", format!("echo ran >> {runs}")]}}}),
            ),
        ),
    ]);
    let host = app.wait("exe/host", "Running", |e| pid(e).is_some());
    let plugin = app.wait("exe/plugin", "Running and owned", |e| {
        pid(e).is_some() && owner_uids(e) == [uid(&host)]
    });
    let leaf = app.wait("exe/leaf", "Running and owned", |e| {
        pid(e).is_some() && owner_uids(e) == [uid(&plugin)]
    });
    let appdata = app.wait("val/appdata", "Ready and owned", |v| {
        ready(v) && owner_uids(v) == [uid(&host)]
    });
    Family {
        host: uid(&host),
        plugin: uid(&plugin),
        leaf: uid(&leaf),
        appdata: uid(&appdata),
    }
}

#[test]
fn background_deletes_the_children_after_the_parent() {
    let app = App::start();
    let family = family(&app, sleeper());
    assert!(!app.processes_of(&family.leaf).is_empty());
    app.kubectl.ok(&[
        "delete",
        "exe",
        "host",
        "--cascade=background",
        "--timeout=60s",
    ]);
    assert!(app.get_opt("exe/host").is_none());
    for child in ["exe/plugin", "exe/leaf", "val/appdata"] {
        app.wait_gone(child);
    }
    app.wait_only_processes_of(&[]);
}

#[test]
fn foreground_keeps_the_parent_until_the_children_are_gone() {
    let app = App::start();
    // The plugin takes a while to stop, so the order is observable.
    let lingering = json!({"command": "sh", "args": ["-c",
        "trap 'sleep 2; exit 0' TERM; while true; do sleep 0.1; done"]});
    family(&app, lingering);
    app.kubectl.ok(&[
        "delete",
        "exe",
        "host",
        "--cascade=foreground",
        "--wait=false",
    ]);
    let mut saw_host_waiting = false;
    let deadline = Instant::now() + WAIT;
    loop {
        // One list is one snapshot of the store: two separate reads would let the
        // plugin and then the host go in between and look like a wrong order.
        let executables = app.list("exe");
        let named = |name: &str| {
            executables
                .iter()
                .find(|e| e["metadata"]["name"] == name)
                .cloned()
        };
        let Some(plugin) = named("plugin") else { break };
        let host = named("host").unwrap_or_else(|| {
            panic!(
                "the host is gone while its child still exists:\n{:#}",
                plugin["metadata"]
            )
        });
        let finalizers = host["metadata"]["finalizers"].to_string();
        assert!(
            finalizers.contains("foregroundDeletion"),
            "{:#}",
            host["metadata"]
        );
        saw_host_waiting |= plugin["metadata"]["deletionTimestamp"].is_string();
        assert!(Instant::now() < deadline, "the plugin was never deleted");
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        saw_host_waiting,
        "never saw the host waiting for its deleting child"
    );
    for object in ["exe/host", "exe/leaf", "val/appdata"] {
        app.wait_gone(object);
    }
    app.wait_only_processes_of(&[]);
}

#[test]
fn orphan_keeps_the_children_released_from_the_parent() {
    let app = App::start();
    let family = family(&app, sleeper());
    app.kubectl
        .ok(&["delete", "exe", "host", "--cascade=orphan", "--timeout=60s"]);
    assert!(app.get_opt("exe/host").is_none());
    for child in ["exe/plugin", "val/appdata"] {
        app.wait(child, "released", |o| owner_uids(o).is_empty());
    }
    // The Value keeps the state it had, saying why.
    let appdata = app.wait("val/appdata", "orphaned", |v| message(v).contains("orphan"));
    assert!(ready(&appdata) && state(&appdata) == "Running");
    assert_eq!(uid(&appdata), family.appdata);
    app.stays("val/appdata", "Ready", Duration::from_secs(2), ready);
    // The grandchild still belongs to the plugin.
    assert_eq!(owner_uids(&app.get("exe/leaf")), [family.plugin.as_str()]);
    // Nothing of the host is left; the children's own processes may run.
    assert!(app.processes_of(&family.host).is_empty());
    app.wait_only_processes_of(&[&family.plugin, &family.leaf]);
}

#[test]
fn orphaned_child_executables_keep_running() {
    let app = App::start();
    family(&app, sleeper());
    let plugin = app.get("exe/plugin");
    let plugin_pid = pid(&plugin).unwrap();
    app.kubectl
        .ok(&["delete", "exe", "host", "--cascade=orphan", "--timeout=60s"]);
    app.wait("exe/plugin", "released", |o| owner_uids(o).is_empty());
    app.stays("exe/plugin", "Running", Duration::from_secs(3), |e| {
        state(e) == "Running" && pid(e) == Some(plugin_pid)
    });
    assert!(alive(plugin_pid));
}
