//! The Value kind: `onParentReady` runs once per parent run after the parent is Ready
//! (counted by a file the command appends to) — again when the parent restarts or is
//! recreated, never again for the same run, also across a control-plane crash — with its
//! output in the Value's log; a failure names the command and exit code and is retried;
//! the connection string is resolved into status with secrets masked, and consumers
//! waiting for the Value get the real one once it is Ready.

use crate::*;

/// A Value under `parent` whose `onParentReady` appends a line to `runs`.
fn counted(parent: &str, runs: &str) -> Value {
    val(
        "appdata",
        child_of(
            parent,
            json!({"onParentReady": {"exec": {"command":
                ["sh", "-c", format!("echo ran >> {runs}; echo created appdata in $PWD")]}}}),
        ),
    )
}

fn on_parent_ready(value: &Value) -> &Value {
    &value["status"]["onParentReady"]
}

#[test]
fn on_parent_ready_runs_once_per_parent_run() {
    let app = App::start();
    let runs = app.path("runs");
    let mut db = http_server("db");
    db["workingDir"] = json!(app.path(""));
    app.apply(&[exe("db", db), counted("db", &runs)]);
    let appdata = app.wait("val/appdata", "Ready", ready);
    assert_eq!(lines(&runs), 1);
    assert_eq!(state(&appdata), "Running");
    assert_eq!(on_parent_ready(&appdata)["succeeded"], true);
    // It ran like the parent: in the parent's working directory, output in the log.
    let log = app.value_log("appdata", "");
    assert!(
        log.contains(format!("created appdata in {}", app.path("")).trim_end_matches('/')),
        "{log}"
    );
    let reasons = app.event_reasons("appdata");
    for reason in ["Starting", "OnParentReadySucceeded", "Ready"] {
        assert!(reasons.iter().any(|r| r == reason), "{reasons:?}");
    }

    // Changes that are not a new parent run leave it alone.
    app.kubectl.ok(&["label", "val/appdata", "touched=1"]);
    app.kubectl.ok(&["label", "exe/db", "touched=1"]);
    app.stays("val/appdata", "Ready", Duration::from_secs(2), ready);
    assert_eq!(lines(&runs), 1);

    // A restarted parent is a new run.
    let first_start = app.get("exe/db")["status"]["startedAt"].clone();
    app.request("db", "kaspire.dev/restart-requested-at");
    wait_lines(&runs, 2);
    let db = app.wait("exe/db", "Ready again", |e| {
        ready(e) && e["status"]["startedAt"] != first_start
    });
    let appdata = app.wait("val/appdata", "Ready again", |v| {
        ready(v) && on_parent_ready(v)["parentStartedAt"] == db["status"]["startedAt"]
    });
    assert_eq!(on_parent_ready(&appdata)["parentUid"], uid(&db).as_str());

    // A recreated parent (another uid) too: deleted without its children, applied again.
    app.kubectl
        .ok(&["delete", "exe", "db", "--cascade=orphan", "--timeout=60s"]);
    let mut db = http_server("db");
    db["workingDir"] = json!(app.path(""));
    app.apply(&[exe("db", db)]);
    let db = app.wait("exe/db", "Ready", ready);
    wait_lines(&runs, 3);
    app.wait("val/appdata", "owned by the new parent and Ready", |v| {
        ready(v)
            && owner_uids(v) == [uid(&db)]
            && on_parent_ready(v)["parentUid"] == uid(&db).as_str()
    });
    app.stays("val/appdata", "Ready", Duration::from_secs(2), ready);
    assert_eq!(lines(&runs), 3);
}

#[test]
fn on_parent_ready_is_not_rerun_after_a_control_plane_crash() {
    let mut app = App::start();
    let runs = app.path("runs");
    // Persistent: the parent keeps running through the crash and is adopted, so its run
    // is the same one.
    let mut db = http_server("db");
    db["lifetime"] = json!("Persistent");
    app.apply(&[exe("db", db), counted("db", &runs)]);
    app.wait("val/appdata", "Ready", ready);
    let db = app.get("exe/db");
    assert_eq!(lines(&runs), 1);

    app.crash_and_restart();
    let adopted = app.wait("exe/db", "Ready", ready);
    assert_eq!(
        pid(&adopted),
        pid(&db),
        "the parent was adopted, not restarted"
    );
    app.wait("val/appdata", "Ready", ready);
    app.stays("val/appdata", "Ready", Duration::from_secs(3), ready);
    assert_eq!(lines(&runs), 1, "ran again for the same parent run");
}

#[test]
fn a_failing_on_parent_ready_names_command_and_exit_code_and_is_retried() {
    let app = App::start();
    let attempts = app.path("attempts");
    let fixed = app.path("fixed");
    app.apply(&[
        exe("db", sleeper()),
        val(
            "appdata",
            child_of(
                "db",
                json!({"onParentReady": {"exec": {"command": ["sh", "-c",
                    format!("echo attempt >> {attempts}; echo 'role missing' >&2; test -e {fixed}")]}}}),
            ),
        ),
    ]);
    let failed = app.wait("val/appdata", "failed", |v| {
        message(v).contains("exited with code 1")
    });
    let text = message(&failed);
    assert!(
        text.contains("onParentReady `sh -c")
            && text.contains("in db")
            && text.contains("role missing")
            && text.contains("retrying"),
        "{text}"
    );
    assert!(!ready(&failed));
    assert_eq!(state(&failed), "Running", "the state mirrors the parent");
    assert!(
        eventually(WAIT, || (lines(&attempts) >= 2).then_some(())).is_some(),
        "not retried"
    );
    assert!(
        app.event_reasons("appdata")
            .iter()
            .any(|r| r == "OnParentReadyFailed")
    );
    assert!(app.value_log("appdata", "").contains("role missing"));

    std::fs::write(&fixed, "").unwrap();
    let appdata = app.wait("val/appdata", "Ready", ready);
    assert_eq!(on_parent_ready(&appdata)["failures"], Value::Null);
}

#[test]
fn the_connection_string_is_resolved_masked_and_consumers_wait_for_the_value() {
    let app = App::start();
    let gate = app.path("gate");
    let seen = app.path("seen");
    let mut db = sleeper();
    db["endpoints"] = json!([{"name": "tcp", "scheme": "tcp"}]);
    db["connectionString"] =
        json!("Host={db.endpoints.tcp.host};Port={db.endpoints.tcp.port};Password={pw.value}");
    let api = json!({
        "command": "sh",
        "args": ["-c", format!("echo \"$ConnectionStrings__appdata\" > {seen}; sleep 300")],
        "references": ["appdata"],
        "waitFor": [{"name": "appdata"}],
    });
    app.apply(&[
        json!({"apiVersion": "kaspire.dev/v1alpha1", "kind": "Parameter",
               "metadata": {"name": "pw"}, "spec": {"value": "hunter2", "secret": true}}),
        exe("db", db),
        val(
            "appdata",
            child_of(
                "db",
                json!({"connectionString": "{db.connectionString};Database=appdata",
                       "onParentReady": {"exec": {"command": ["test", "-e", gate]}}}),
            ),
        ),
        exe("api", api),
    ]);
    let appdata = app.wait("val/appdata", "resolved", |v| {
        v["status"]["connectionString"].is_string()
    });
    let resolved = appdata["status"]["connectionString"].as_str().unwrap();
    assert!(
        resolved.starts_with("Host=localhost;Port=")
            && resolved.ends_with("Password=*****;Database=appdata"),
        "{resolved}"
    );
    assert!(!resolved.contains("hunter2"));
    // The consumer waits for the Value to be Ready (onParentReady has not succeeded yet).
    let api = app.wait_state("exe/api", "Waiting");
    assert!(message(&api).contains("appdata"), "{:#}", api["status"]);
    app.stays("exe/api", "Waiting", Duration::from_secs(2), |e| {
        state(e) == "Waiting"
    });

    std::fs::write(&gate, "").unwrap();
    app.wait("val/appdata", "Ready", ready);
    app.wait("exe/api", "Running", |e| pid(e).is_some());
    assert!(
        eventually(WAIT, || {
            let text = std::fs::read_to_string(&seen).unwrap_or_default();
            text.contains("Password=hunter2;Database=appdata")
                .then_some(())
        })
        .is_some(),
        "the consumer did not get the connection string: {:?}",
        std::fs::read_to_string(&seen)
    );
}
