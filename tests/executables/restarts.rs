//! Restart policies: Never keeps the exit, OnFailure retries a failing command with
//! growing delays, Always restarts even a clean exit, and a failing liveness check
//! counts as a crash.

use crate::*;

fn backoff() -> Value {
    json!({"initialSeconds": 1, "maxSeconds": 2})
}

#[test]
fn never_leaves_a_failed_process_exited_with_its_code() {
    let app = App::start();
    app.apply_exe("job", json!({"command": "sh", "args": ["-c", "exit 4"]}));
    let job = app.wait_state("job", "Exited");
    assert_eq!(job["status"]["exitCode"], 4);
    assert!(is_true(&job, "Completed"), "{:#}", job["status"]);
    app.stays(
        "job",
        "Exited without restarts",
        Duration::from_secs(2),
        |e| state(e) == "Exited" && restart_count(e) == 0,
    );
}

#[test]
fn on_failure_restarts_a_failing_command_with_growing_delays() {
    let app = App::start();
    app.apply_exe(
        "flaky",
        json!({
            "command": "sh", "args": ["-c", "echo attempt; exit 1"],
            "restartPolicy": "OnFailure", "restartBackoff": backoff(),
        }),
    );
    let flaky = app.wait("flaky", "waiting to restart", |e| {
        e["status"]["nextRestartAt"].is_string()
    });
    assert_eq!(flaky["status"]["exitCode"], 1, "{:#}", flaky["status"]);
    app.wait("flaky", "restarted twice", |e| restart_count(e) >= 2);
    let attempts = app.wait_log("flaky", "", "attempt\nattempt\n");
    assert!(attempts.lines().all(|l| l == "attempt"), "{attempts}");
    // The controller's own account of the delays: 1 s, then doubled to the 2 s cap.
    let system = app.wait_log("flaky", "?source=system", "restarting in 2.0 s");
    assert!(system.contains("restarting in 1.0 s"), "{system}");
}

#[test]
fn on_failure_leaves_a_clean_exit_finished() {
    let app = App::start();
    app.apply_exe(
        "job",
        json!({"command": "true", "restartPolicy": "OnFailure", "restartBackoff": backoff()}),
    );
    app.wait_state("job", "Finished");
    app.stays("job", "Finished", Duration::from_secs(2), |e| {
        state(e) == "Finished" && restart_count(e) == 0
    });
}

#[test]
fn always_restarts_even_a_clean_exit() {
    let app = App::start();
    app.apply_exe(
        "ticker",
        json!({
            "command": "sh", "args": ["-c", "echo tick"],
            "restartPolicy": "Always", "restartBackoff": backoff(),
        }),
    );
    app.wait("ticker", "restarted", |e| restart_count(e) >= 1);
    app.wait_log("ticker", "", "tick\ntick\n");
}

#[test]
fn a_failing_liveness_check_kills_and_restarts_the_replica() {
    let app = App::start();
    let alive_file = app.path("alive");
    app.apply_exe(
        "svc",
        json!({
            "command": "sh", "args": ["-c", "touch \"$0\"; exec sleep 300", alive_file],
            "restartPolicy": "OnFailure", "restartBackoff": backoff(),
            "healthChecks": [{
                "type": "liveness", "exec": {"command": ["test", "-f", alive_file]},
                "periodSeconds": 1, "failureThreshold": 1,
            }],
        }),
    );
    let svc = app.wait("svc", "Running and Healthy", |e| {
        state(e) == "Running" && e["status"]["health"] == "Healthy" && pid(e, 0).is_some()
    });
    let first = pid(&svc, 0).unwrap();

    std::fs::remove_file(&alive_file).unwrap();
    let svc = app.wait("svc", "restarted with a new process", |e| {
        state(e) == "Running" && restart_count(e) >= 1 && pid(e, 0).is_some_and(|p| p != first)
    });
    wait_gone(first);
    assert!(alive(pid(&svc, 0).unwrap()));
    app.wait("svc", "Healthy again", |e| {
        e["status"]["health"] == "Healthy"
    });
}
