//! `relationships` are display only: a resource related to another (even one that does
//! not exist, even with type `Parent`) starts at once, and the other stopping or being
//! deleted leaves it alone. Waits, references and parents show up as relationships in
//! status, so the dashboard and `kaspire get --tree` can draw the graph.

use crate::*;

fn relationship(object: &Value, name: &str, type_: &str) -> bool {
    object["status"]["relationships"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["name"] == name && r["type"] == type_)
}

#[test]
fn relationships_are_display_only() {
    let app = App::start();
    let mut related = sleeper();
    related["relationships"] = json!([
        {"name": "other", "type": "Reference"},
        {"name": "ghost", "type": "Parent"},
    ]);
    app.apply(&[exe("other", sleeper()), exe("related", related)]);
    // Starts although `ghost` does not exist.
    let related = app.wait("exe/related", "Running", |e| pid(e).is_some());
    let related_pid = pid(&related).unwrap();
    assert!(relationship(&related, "other", "Reference"));
    assert!(relationship(&related, "ghost", "Parent"));
    assert!(
        owner_uids(&related).is_empty(),
        "a relationship owns nothing"
    );
    let unchanged = |e: &Value| state(e) == "Running" && pid(e) == Some(related_pid);

    app.patch("exe/other", json!({"spec": {"stopped": true}}));
    app.wait_state("exe/other", "Exited");
    app.stays("exe/related", "Running", Duration::from_secs(2), unchanged);

    app.kubectl.ok(&["delete", "exe", "other", "--timeout=60s"]);
    app.stays("exe/related", "Running", Duration::from_secs(2), unchanged);
}

#[test]
fn waits_references_and_parents_show_as_relationships() {
    let app = App::start();
    let mut api = sleeper();
    api["waitFor"] = json!([{"name": "db"}]);
    api["references"] = json!(["appdata"]);
    app.apply(&[
        exe("db", sleeper()),
        val(
            "appdata",
            child_of(
                "db",
                json!({"connectionString": "Host=localhost;Database=appdata"}),
            ),
        ),
        exe("api", api),
    ]);
    let api = app.wait("exe/api", "Running", |e| state(e) == "Running");
    assert!(relationship(&api, "db", "WaitFor"), "{:#}", api["status"]);
    assert!(relationship(&api, "appdata", "Reference"));
    let appdata = app.wait("val/appdata", "Ready", ready);
    assert!(
        relationship(&appdata, "db", "Parent"),
        "{:#}",
        appdata["status"]
    );

    // `kaspire get --tree` nests the Value under its parent.
    let tree = crate::cli_support::ok(app.state_dir(), &["get", "--tree"]);
    let rows: Vec<&str> = tree.lines().collect();
    let db = rows
        .iter()
        .position(|l| l.split_whitespace().nth(1) == Some("db"))
        .unwrap_or_else(|| panic!("db is not listed:\n{tree}"));
    assert!(
        rows.get(db + 1).is_some_and(|l| l.contains("└─ appdata")),
        "appdata is not nested under db:\n{tree}"
    );
}
