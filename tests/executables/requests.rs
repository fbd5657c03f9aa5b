//! Requests written into the object: explicit start, a start that bypasses waits,
//! `spec.stopped`, and restart — each acknowledged in status (handled*Request).

use crate::*;

const START: &str = "kaspire.dev/start-requested-at";
const RESTART: &str = "kaspire.dev/restart-requested-at";

fn sleeper() -> Value {
    json!({"command": "sleep", "args": ["300"]})
}

#[test]
fn explicit_start_stays_not_started_until_a_start_request() {
    let app = App::start();
    app.apply_exe(
        "job",
        json!({"command": "sleep", "args": ["300"], "explicitStart": true}),
    );
    let job = app.wait_state("job", "NotStarted");
    app.stays("job", "NotStarted", Duration::from_secs(1), |e| {
        state(e) == "NotStarted"
    });
    assert!(app.processes_of(&uid(&job)).is_empty());

    let request = app.request("job", START);
    let job = app.wait("job", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    assert_eq!(job["status"]["handledStartRequest"], request.as_str());
    assert_eq!(app.processes_of(&uid(&job)), [pid(&job, 0).unwrap()]);
}

#[test]
fn a_start_request_on_a_waiting_resource_bypasses_its_waits() {
    let app = App::start();
    app.apply_exe(
        "api",
        json!({"command": "sleep", "args": ["300"], "waitFor": [{"name": "ghost"}]}),
    );
    app.wait_state("api", "Waiting");
    let request = app.request("api", START);
    let api = app.wait("api", "Running despite its wait", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    assert_eq!(api["status"]["handledStartRequest"], request.as_str());
}

#[test]
fn stopped_stops_the_process_and_a_start_request_starts_it_again() {
    let app = App::start();
    app.apply_exe("svc", sleeper());
    let svc = app.wait("svc", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let first = pid(&svc, 0).unwrap();
    assert!(alive(first));

    app.patch("svc", json!({"spec": {"stopped": true}}));
    let svc = app.wait_state("svc", "Exited");
    assert_eq!(pid(&svc, 0), None, "{:#}", svc["status"]);
    wait_gone(first);
    assert!(app.processes_of(&uid(&svc)).is_empty());

    let request = app.request("svc", START);
    let svc = app.wait("svc", "Running again", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let second = pid(&svc, 0).unwrap();
    assert_ne!(second, first);
    assert!(alive(second));
    assert_ne!(
        svc["spec"]["stopped"], true,
        "the start request clears spec.stopped"
    );
    assert_eq!(svc["status"]["handledStartRequest"], request.as_str());
}

#[test]
fn a_restart_request_replaces_the_process_without_counting_a_restart() {
    let app = App::start();
    app.apply_exe("svc", sleeper());
    let svc = app.wait("svc", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let first = pid(&svc, 0).unwrap();

    let request = app.request("svc", RESTART);
    let svc = app.wait("svc", "Running with a new process", |e| {
        state(e) == "Running"
            && e["status"]["handledRestartRequest"] == request.as_str()
            && pid(e, 0).is_some_and(|p| p != first)
    });
    wait_gone(first);
    assert_eq!(restart_count(&svc), 0, "a requested restart is not a crash");
    assert_eq!(app.processes_of(&uid(&svc)), [pid(&svc, 0).unwrap()]);
}

#[test]
fn each_restart_request_starts_exactly_one_new_process() {
    let app = App::start();
    app.apply_exe("svc", sleeper());
    let mut current = app.wait("svc", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    for _ in 0..3 {
        let before = pid(&current, 0).unwrap();
        let request = app.request("svc", RESTART);
        current = app.wait("svc", "restarted", |e| {
            state(e) == "Running"
                && e["status"]["handledRestartRequest"] == request.as_str()
                && pid(e, 0).is_some_and(|p| p != before)
        });
        // Room for a second, unwanted start to show.
        pause(1.0);
    }
    let system = app.log("svc", "?source=system");
    let starts = system
        .lines()
        .filter(|l| l.starts_with("started replica 0"))
        .count();
    assert_eq!(starts, 4, "one start, then one per request:\n{system}");
    assert_eq!(app.processes_of(&uid(&current)).len(), 1);
}
