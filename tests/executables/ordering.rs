//! Start ordering: a waiter starts only once its dependency reached the condition it
//! waits for, and its `startedAt` is never before that transition.

use crate::*;

#[test]
fn dependent_starts_only_after_its_dependency_is_ready() {
    let app = App::start();
    let marker = app.path("db-ready");
    app.apply_exe(
        "db",
        json!({
            "command": "sleep", "args": ["300"],
            "healthChecks": [{"exec": {"command": ["test", "-f", marker]}, "periodSeconds": 1}],
        }),
    );
    app.apply_exe(
        "api",
        json!({"command": "sleep", "args": ["300"], "waitFor": [{"name": "db"}]}),
    );

    app.wait("db", "Running but not Ready", |e| {
        state(e) == "Running" && !is_true(e, "Ready")
    });
    let api = app.wait_state("api", "Waiting");
    assert!(message(&api).contains("db"), "{:#}", api["status"]);
    app.stays(
        "api",
        "Waiting while db is not Ready",
        Duration::from_secs(1),
        |e| state(e) == "Waiting" && pid(e, 0).is_none(),
    );

    std::fs::write(&marker, "").unwrap();
    let db = app.wait("db", "Ready", |e| is_true(e, "Ready"));
    let api = app.wait("api", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let ready_at = time(&condition(&db, "Ready").unwrap()["lastTransitionTime"]);
    let started_at = time(&api["status"]["startedAt"]);
    assert!(
        started_at >= ready_at,
        "api started at {started_at}, before db became Ready at {ready_at}"
    );
}

#[test]
fn completion_waiter_starts_after_its_dependency_finished() {
    let app = App::start();
    app.apply_exe(
        "migrate",
        json!({"command": "sh", "args": ["-c", "sleep 2; echo migrated"]}),
    );
    app.apply_exe(
        "api",
        json!({
            "command": "sleep", "args": ["300"],
            "waitFor": [{"name": "migrate", "condition": "Completed"}],
        }),
    );

    let api = app.wait_state("api", "Waiting");
    assert!(message(&api).contains("migrate"), "{:#}", api["status"]);
    let api = app.wait_state("api", "Running");
    let migrate = app.exe("migrate");
    assert_eq!(state(&migrate), "Finished", "{:#}", migrate["status"]);
    assert_eq!(migrate["status"]["exitCode"], 0);
    let finished_at = time(&migrate["status"]["finishedAt"]);
    let started_at = time(&api["status"]["startedAt"]);
    assert!(
        started_at >= finished_at,
        "api started at {started_at}, before migrate finished at {finished_at}"
    );
}

#[test]
fn a_started_wait_needs_the_dependency_running_not_ready() {
    let app = App::start();
    // Never Ready: its readiness check always fails.
    app.apply_exe(
        "db",
        json!({
            "command": "sleep", "args": ["300"],
            "healthChecks": [{"exec": {"command": ["false"]}, "periodSeconds": 1}],
        }),
    );
    app.apply_exe(
        "api",
        json!({
            "command": "sleep", "args": ["300"],
            "waitFor": [{"name": "db", "condition": "Started"}],
        }),
    );
    let api = app.wait("api", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let db = app.exe("db");
    assert_eq!(state(&db), "Running");
    assert!(!is_true(&db, "Ready"), "{:#}", db["status"]);
    assert!(time(&api["status"]["startedAt"]) >= time(&db["status"]["startedAt"]));
}
