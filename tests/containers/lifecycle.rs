//! The lifecycle a Container shares with Executables: Ready through its checks (http
//! from the host, exec inside, the image's own HEALTHCHECK), stop/start/restart requests,
//! waits in both directions, logs and events.

use crate::*;

#[test]
fn a_container_becomes_ready_serves_through_its_proxy_and_logs_its_output() {
    require_docker!();
    let app = App::start();
    app.apply_ctr("web", web("hello-from-web"));
    let ctr = app.wait_ready("web");
    assert_eq!(state(&ctr), "Running");
    assert_eq!(ctr["status"]["endpoints"][0]["targetPorts"], json!([8080]));
    assert!(container_id(&ctr).len() >= 12, "{:#}", ctr["status"]);
    assert_eq!(app.containers().len(), 1);
    // Host → container through the proxy on the stable port.
    let body = http_get(&url(&ctr)).expect("GET through the proxy");
    assert_eq!(body.trim(), "hello-from-web");
    // httpd -v logs each request to stderr; the system source says what kaspire did.
    app.wait_log("web", "?source=stderr", "response:200");
    app.wait_log("web", "?source=system", "started replica 0: container");
    let events = app.kubectl.ok(&["get", "events", "-o", "json"]);
    assert!(events.contains("\"Ready\""), "no Ready event: {events}");
}

#[test]
fn stop_start_and_restart_requests_replace_the_container() {
    require_docker!();
    let app = App::start();
    app.apply_ctr("svc", shell("echo up; exec sleep 600"));
    let first = app.wait_state("ctr", "svc", "Running");
    let first_id = container_id(&first);

    app.patch("ctr", "svc", json!({"spec": {"stopped": true}}));
    app.wait_state("ctr", "svc", "Exited");
    // A Session container is removed once stopped.
    eventually(WAIT, || app.containers().is_empty().then_some(()))
        .expect("the stopped container was removed");

    let request = app.request("ctr", "svc", "kaspire.dev/start-requested-at");
    let second = app.wait("ctr", "svc", "Running again", |c| {
        state(c) == "Running" && c["status"]["handledStartRequest"] == request.as_str()
    });
    assert_eq!(second["spec"]["stopped"], json!(false));
    let second_id = container_id(&second);
    assert_ne!(second_id, first_id);

    let request = app.request("ctr", "svc", "kaspire.dev/restart-requested-at");
    let third = app.wait("ctr", "svc", "restarted", |c| {
        state(c) == "Running"
            && c["status"]["handledRestartRequest"] == request.as_str()
            && container_id(c) != second_id
    });
    assert_eq!(
        app.containers(),
        vec![container_id(&third)],
        "exactly one container"
    );
}

#[test]
fn waits_work_between_a_container_and_a_process_in_both_directions() {
    require_docker!();
    let app = App::start();
    // process → container: the Executable starts only once the container is Ready.
    app.apply(
        "Executable",
        "after-ctr",
        json!({"command": "sh", "args": ["-c", "sleep 600"], "waitFor": [{"name": "db"}]}),
    );
    // container → process: the container waits for the Executable to complete.
    app.apply(
        "Executable",
        "migrate",
        json!({"command": "sh", "args": ["-c", "sleep 1; exit 0"]}),
    );
    let mut db = web("db");
    db["waitFor"] = json!([{"name": "migrate", "condition": "Completed"}]);
    app.apply_ctr("db", db);

    let waiting = app.wait_state("exe", "after-ctr", "Waiting");
    assert!(message(&waiting).contains("db"), "{:#}", waiting["status"]);
    let db = app.wait_ready("db");
    let migrate = app.get("exe", "migrate");
    assert_eq!(state(&migrate), "Finished");
    let after = app.wait_state("exe", "after-ctr", "Running");
    let started = |o: &Value| o["status"]["startedAt"].as_str().unwrap_or("").to_owned();
    assert!(started(&db).as_str() >= migrate["status"]["finishedAt"].as_str().unwrap());
    assert!(started(&after) >= started(&db));
}

#[test]
fn exec_checks_run_inside_and_the_image_healthcheck_counts() {
    require_docker!();
    let app = App::start();
    // Ready only once the file exists inside the container: the check runs there.
    let mut exec = shell("sleep 2; touch /tmp/ready; exec sleep 600");
    exec["healthChecks"] = json!([{"exec": {"command": ["test", "-f", "/tmp/ready"]}}]);
    app.apply_ctr("exec", exec);
    // The image's HEALTHCHECK (test -f /tmp/healthy) gates readiness with no check in the spec.
    app.apply_ctr(
        "imagecheck",
        json!({
            "image": ensure_healthcheck_image(),
            "pullPolicy": "Never",
            "args": ["sh", "-c", "sleep 2; touch /tmp/healthy; exec sleep 600"],
            "shutdown": {"timeoutSeconds": 1},
        }),
    );
    let early = app.wait_state("ctr", "imagecheck", "Running");
    assert!(
        !is_true(&early, "Ready"),
        "Ready before the HEALTHCHECK passed: {:#}",
        early["status"]
    );
    app.wait_ready("imagecheck");
    let exec = app.wait_ready("exec");
    assert_eq!(exec["status"]["health"], "Healthy");
}

#[test]
fn a_value_runs_its_command_inside_its_container_parent_and_children_stop_with_it() {
    require_docker!();
    let app = App::start();
    app.apply_ctr("server", shell("mkdir -p /tmp/dbs; exec sleep 600"));
    app.apply(
        "Value",
        "appdata",
        json!({
            "parent": {"name": "server"},
            "connectionString": "server=server;db=appdata",
            "onParentReady": {"exec": {"command": ["sh", "-c", "mkdir /tmp/dbs/appdata && echo created-inside"]}},
        }),
    );
    // A process child of the container: contained like any child.
    app.apply(
        "Executable",
        "sidecar",
        json!({"command": "sleep", "args": ["600"], "parent": {"name": "server"}}),
    );
    app.wait("val", "appdata", "Ready", |v| is_true(v, "Ready"));
    let log = app.kubectl.ok(&[
        "get",
        "--raw",
        "/apis/kaspire.dev/v1alpha1/namespaces/default/values/appdata/log",
    ]);
    assert!(
        log.contains("created-inside"),
        "the command's output is in the Value's log:\n{log}"
    );
    app.wait_state("exe", "sidecar", "Running");

    app.patch("ctr", "server", json!({"spec": {"stopped": true}}));
    let sidecar = app.wait_state("exe", "sidecar", "Exited");
    assert!(
        message(&sidecar).contains("server"),
        "{:#}",
        sidecar["status"]
    );
    eventually(WAIT, || app.containers().is_empty().then_some(()))
        .expect("the stopped parent container was removed");
}
