//! Bad input: each mistake gets a message naming the field, and nothing else running
//! is disturbed (a bystander keeps its process).

use crate::*;

/// An App with a running bystander; `check` runs the scenario, then the bystander
/// must still run the same process.
fn with_bystander(scenario: impl FnOnce(&App)) {
    let app = App::start();
    app.apply_exe("bystander", json!({"command": "sleep", "args": ["300"]}));
    let before = app.wait("bystander", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let pid_before = pid(&before, 0).unwrap();
    scenario(&app);
    let after = app.exe("bystander");
    assert_eq!(state(&after), "Running", "{:#}", after["status"]);
    assert_eq!(
        pid(&after, 0),
        Some(pid_before),
        "the bystander was restarted"
    );
    assert!(alive(pid_before));
    assert_eq!(restart_count(&after), 0);
}

#[test]
fn a_missing_command_fails_to_start_naming_spec_command() {
    with_bystander(|app| {
        app.apply_exe("bad", json!({"command": "kaspire-no-such-program"}));
        let bad = app.wait_state("bad", "FailedToStart");
        let text = message(&bad);
        assert!(
            text.contains("spec.command") && text.contains("kaspire-no-such-program"),
            "{text}"
        );
        assert_eq!(condition(&bad, "Ready").unwrap()["status"], "False");
    });
}

#[test]
fn a_bad_working_dir_fails_to_start_naming_spec_working_dir() {
    with_bystander(|app| {
        app.apply_exe(
            "bad",
            json!({"command": "sleep", "args": ["300"], "workingDir": "/nonexistent/kaspire-e2e"}),
        );
        let bad = app.wait_state("bad", "FailedToStart");
        let text = message(&bad);
        assert!(
            text.contains("spec.workingDir") && text.contains("/nonexistent/kaspire-e2e"),
            "{text}"
        );
        assert!(app.processes_of(&uid(&bad)).is_empty());
    });
}

#[test]
fn a_wait_cycle_is_rejected_at_apply_naming_the_cycle() {
    with_bystander(|app| {
        app.apply_exe(
            "cyc-a",
            json!({"command": "sleep", "args": ["300"], "waitFor": [{"name": "cyc-b"}]}),
        );
        let stderr = app.apply_exe_fails(
            "cyc-b",
            json!({"command": "sleep", "args": ["300"], "waitFor": [{"name": "cyc-a"}]}),
        );
        assert!(
            stderr.contains("cycle") && stderr.contains("cyc-a") && stderr.contains("cyc-b"),
            "{stderr}"
        );
        assert!(
            stderr.contains("Invalid") || stderr.contains("422"),
            "a 422: {stderr}"
        );
        assert!(app.exe_opt("cyc-b").is_none());
        let a = app.wait_state("cyc-a", "Waiting");
        assert!(
            message(&a).contains("does not exist yet"),
            "{:#}",
            a["status"]
        );
    });
}

#[test]
fn an_unknown_dependency_is_waited_for_with_a_message() {
    with_bystander(|app| {
        app.apply_exe(
            "api",
            json!({"command": "sleep", "args": ["300"], "waitFor": [{"name": "ghost"}]}),
        );
        let api = app.wait_state("api", "Waiting");
        let text = message(&api);
        assert!(
            text.contains("ghost") && text.contains("does not exist yet"),
            "{text}"
        );
        app.stays("api", "Waiting", Duration::from_secs(1), |e| {
            state(e) == "Waiting"
        });
    });
}

#[test]
fn a_health_check_on_a_missing_endpoint_fails_to_start_naming_the_check() {
    with_bystander(|app| {
        app.apply_exe(
            "bad",
            json!({
                "command": "sleep", "args": ["300"],
                "healthChecks": [{"http": {"endpoint": "nope", "path": "/"}}],
            }),
        );
        let bad = app.wait_state("bad", "FailedToStart");
        let text = message(&bad);
        assert!(
            text.contains("spec.healthChecks[0]") && text.contains("nope"),
            "{text}"
        );
        // Nothing was left running for it.
        pause(1.0);
        assert_eq!(app.processes_of(&uid(&bad)), Vec::<i32>::new());
    });
}

#[test]
fn a_thousand_replicas_are_rejected_at_apply_naming_spec_replicas() {
    with_bystander(|app| {
        // explicitStart: should the server accept it, nothing gets spawned.
        let out = app.kubectl.run_stdin(
            &["apply", "-f", "-"],
            &manifest(
                "Executable",
                "many",
                json!({"command": "sleep", "args": ["300"], "replicas": 1000, "explicitStart": true}),
            )
            .to_string(),
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            !out.status.success() && stderr.contains("spec.replicas"),
            "replicas: 1000 was not rejected naming spec.replicas:\n{}{stderr}",
            String::from_utf8_lossy(&out.stdout)
        );
    });
}
