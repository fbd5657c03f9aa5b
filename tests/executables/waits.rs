//! WaitForCompletion and failed dependencies under both wait behaviours: a dependency
//! that exits with the wrong code, or crashes before it was ever Ready, fails its
//! waiter (StopOnResourceUnavailable) or keeps it waiting until it is fixed
//! (WaitOnResourceUnavailable).

use crate::*;

fn waiter(behavior: &str, condition: &str) -> Value {
    json!({
        "command": "sleep", "args": ["300"],
        "waitFor": [{"name": "migrate", "condition": condition, "waitBehavior": behavior}],
    })
}

#[test]
fn completion_waiter_fails_when_the_dependency_exits_3() {
    let app = App::start();
    app.apply_exe(
        "migrate",
        json!({"command": "sh", "args": ["-c", "exit 3"]}),
    );
    app.apply_exe("api", waiter("StopOnResourceUnavailable", "Completed"));

    let api = app.wait_state("api", "FailedToStart");
    let text = message(&api);
    assert!(text.contains("migrate") && text.contains('3'), "{text}");
    assert_eq!(state(&app.exe("migrate")), "Exited");
    assert!(app.processes_of(&uid(&api)).is_empty(), "api never runs");
}

#[test]
fn completion_waiter_keeps_waiting_until_the_dependency_is_fixed_and_restarted() {
    let app = App::start();
    app.apply_exe(
        "migrate",
        json!({"command": "sh", "args": ["-c", "exit 3"]}),
    );
    app.apply_exe("api", waiter("WaitOnResourceUnavailable", "Completed"));

    app.wait_state("migrate", "Exited");
    let api = app.wait("api", "Waiting on the failed migrate", |e| {
        state(e) == "Waiting" && message(e).contains("migrate") && message(e).contains('3')
    });
    app.stays("api", "Waiting", Duration::from_secs(1), |e| {
        state(e) == "Waiting"
    });
    assert!(app.processes_of(&uid(&api)).is_empty());

    // The fix: a good command, then a restart request.
    app.patch("migrate", json!({"spec": {"args": ["-c", "exit 0"]}}));
    app.request("migrate", "kaspire.dev/restart-requested-at");
    app.wait_state("migrate", "Finished");
    app.wait_state("api", "Running");
}

#[test]
fn completion_wait_for_exit_code_3_proceeds_when_it_exits_3() {
    let app = App::start();
    app.apply_exe(
        "migrate",
        json!({"command": "sh", "args": ["-c", "exit 3"]}),
    );
    app.apply_exe(
        "api",
        json!({
            "command": "sleep", "args": ["300"],
            "waitFor": [{"name": "migrate", "condition": "Completed", "exitCode": 3}],
        }),
    );
    app.wait_state("api", "Running");
    assert_eq!(app.exe("migrate")["status"]["exitCode"], 3);
}

#[test]
fn a_crash_after_running_but_before_ready_fails_the_waiter() {
    let app = App::start();
    app.apply_exe(
        "migrate",
        json!({
            "command": "sh", "args": ["-c", "sleep 2; exit 1"],
            "healthChecks": [{"exec": {"command": ["false"]}, "periodSeconds": 1}],
        }),
    );
    app.apply_exe("api", waiter("StopOnResourceUnavailable", "Ready"));

    app.wait("migrate", "Running but not Ready", |e| {
        state(e) == "Running" && !is_true(e, "Ready")
    });
    assert_eq!(state(&app.exe("api")), "Waiting");
    let api = app.wait_state("api", "FailedToStart");
    assert!(message(&api).contains("migrate"), "{:#}", api["status"]);
    assert!(app.processes_of(&uid(&api)).is_empty(), "api never runs");
}
