//! Invalid hierarchies are rejected at admission with a 422 naming the field and the
//! problem, and nothing is stored: a second parent, a parent cycle (also through a
//! Value), being one's own parent, waiting on one's own parent or child, a cycle that
//! closes only because waiting on a child implies waiting on its parent, a Parameter as
//! a parent, and an `onParentReady` that cannot run.

use crate::*;

/// Asserts `stderr` is a 422 (kubectl says "is invalid") naming every `needle`.
fn rejected(stderr: &str, needles: &[&str]) {
    assert!(stderr.contains("is invalid"), "not a 422:\n{stderr}");
    for needle in needles {
        assert!(stderr.contains(needle), "{needle:?} not in:\n{stderr}");
    }
}

#[test]
fn a_resource_has_one_parent_at_most() {
    let app = App::start();
    let mut two = sleeper();
    two["parent"] = json!([{"name": "a"}, {"name": "b"}]);
    rejected(&app.apply_fails(&exe("plugin", two)), &["spec.parent"]);
    assert!(app.get_opt("exe/plugin").is_none());
}

#[test]
fn parent_cycles_are_rejected_naming_the_cycle() {
    let app = App::start();
    rejected(
        &app.apply_fails(&exe("narcissus", child_of("narcissus", sleeper()))),
        &["spec.parent.name", "itself"],
    );
    // a → b → c → a, closed by a Value.
    app.apply(&[
        exe("a", child_of("b", sleeper())),
        exe("b", child_of("c", sleeper())),
    ]);
    let err = app.apply_fails(&val("c", child_of("a", json!({}))));
    rejected(&err, &["spec.parent.name", "c → a → b → c"]);
    assert!(app.get_opt("val/c").is_none());
    // Changing an existing object to close the cycle is rejected the same way.
    app.apply(&[val("c", json!({}))]);
    let err = app.apply_fails(&val("c", child_of("a", json!({}))));
    rejected(&err, &["cycle"]);
    assert!(app.get("val/c")["spec"]["parent"].is_null());
}

#[test]
fn waiting_on_ones_own_parent_or_child_is_rejected() {
    let app = App::start();
    app.apply(&[exe("host", sleeper())]);
    let mut own_parent = child_of("host", sleeper());
    own_parent["waitFor"] = json!([{"name": "host"}]);
    rejected(
        &app.apply_fails(&exe("plugin", own_parent)),
        &["spec.waitFor[0].name", "own parent"],
    );

    app.apply(&[exe("plugin", child_of("host", sleeper()))]);
    let mut waits_on_child = sleeper();
    waits_on_child["waitFor"] = json!([{"name": "plugin"}]);
    rejected(
        &app.apply_fails(&exe("host", waits_on_child)),
        &["spec.waitFor[0].name", "host → plugin → host"],
    );
}

#[test]
fn waiting_on_a_child_implies_waiting_on_its_parent() {
    let app = App::start();
    // api waits for appdata, a child of db: so api waits for db too, and db waiting
    // for api would be a cycle through appdata's parent.
    let mut api = sleeper();
    api["waitFor"] = json!([{"name": "appdata"}]);
    app.apply(&[
        exe("db", sleeper()),
        val("appdata", child_of("db", json!({}))),
        exe("api", api),
    ]);
    let mut db = sleeper();
    db["waitFor"] = json!([{"name": "api"}]);
    rejected(
        &app.apply_fails(&exe("db", db)),
        &["spec.waitFor[0].name", "db → api → appdata → db"],
    );
}

#[test]
fn a_parameter_cannot_be_a_parent() {
    let app = App::start();
    app.apply(&[
        json!({"apiVersion": "kaspire.dev/v1alpha1", "kind": "Parameter",
                       "metadata": {"name": "pw"}, "spec": {"value": "x"}}),
    ]);
    for object in [
        exe("plugin", child_of("pw", sleeper())),
        val("appdata", child_of("pw", json!({}))),
    ] {
        rejected(
            &app.apply_fails(&object),
            &["spec.parent.name", "Parameter"],
        );
    }
}

#[test]
fn on_parent_ready_needs_a_parent_and_a_command() {
    let app = App::start();
    let exec = json!({"onParentReady": {"exec": {"command": ["true"]}}});
    rejected(
        &app.apply_fails(&val("appdata", exec)),
        &["spec.parent", "onParentReady"],
    );
    let empty = child_of("db", json!({"onParentReady": {"exec": {"command": []}}}));
    rejected(
        &app.apply_fails(&val("appdata", empty)),
        &["spec.onParentReady.exec.command"],
    );
    assert!(app.get_opt("val/appdata").is_none());
}
