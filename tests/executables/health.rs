//! Readiness through a real HTTP server, and replicas: each its own process and
//! `KASPIRE_REPLICA_INDEX`.

use crate::*;

use std::io::{Read, Write};

/// `GET /` on 127.0.0.1:`port`; the status line.
fn http_get(port: u16) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    response.lines().next().unwrap_or_default().to_owned()
}

#[test]
fn readiness_http_check_makes_it_ready_only_once_it_listens() {
    let app = App::start();
    let go = app.path("go");
    // The server listens only once the test creates `go`.
    let script = format!(
        "while [ ! -f \"$0\" ]; do sleep 0.1; done; exec {} -m http.server \"$PORT\" --bind 127.0.0.1",
        python3()
    );
    app.apply_exe(
        "web",
        json!({
            "command": "sh", "args": ["-c", script, go],
            "workingDir": app.path(""),
            "endpoints": [{"name": "http", "scheme": "http", "env": "PORT"}],
            "healthChecks": [{"http": {"endpoint": "http", "path": "/"}, "periodSeconds": 1}],
        }),
    );
    app.wait("web", "Running but not Ready", |e| {
        state(e) == "Running" && pid(e, 0).is_some() && !is_true(e, "Ready")
    });
    app.stays(
        "web",
        "not Ready before it listens",
        Duration::from_secs(1),
        |e| !is_true(e, "Ready") && e["status"]["health"] != "Healthy",
    );

    std::fs::write(&go, "").unwrap();
    let web = app.wait("web", "Ready", |e| is_true(e, "Ready"));
    assert_eq!(web["status"]["health"], "Healthy", "{:#}", web["status"]);
    assert_eq!(web["status"]["replicas"][0]["health"], "Healthy");
    let port = web["status"]["replicas"][0]["targetPorts"]["http"]
        .as_u64()
        .expect("the replica's target port") as u16;
    assert!(
        http_get(port).contains("200"),
        "the replica serves on {port}"
    );
}

#[test]
fn two_replicas_run_as_two_processes_with_their_own_index() {
    let app = App::start();
    app.apply_exe(
        "worker",
        json!({
            "command": "sh",
            "args": ["-c", "echo \"replica $KASPIRE_REPLICA_INDEX\"; exec sleep 300"],
            "replicas": 2,
        }),
    );
    let worker = app.wait("worker", "Ready with two processes", |e| {
        is_true(e, "Ready") && pid(e, 0).is_some() && pid(e, 1).is_some()
    });
    let (zero, one) = (pid(&worker, 0).unwrap(), pid(&worker, 1).unwrap());
    assert_ne!(zero, one);
    assert!(alive(zero) && alive(one));
    assert_eq!(app.processes_of(&uid(&worker)), {
        let mut both = vec![zero, one];
        both.sort();
        both
    });
    assert_eq!(
        app.wait_log("worker", "?replica=0", "replica"),
        "replica 0\n"
    );
    assert_eq!(
        app.wait_log("worker", "?replica=1", "replica"),
        "replica 1\n"
    );
}

#[test]
fn scaling_replicas_down_and_up_keeps_the_surviving_process() {
    let app = App::start();
    app.apply_exe(
        "worker",
        json!({"command": "sleep", "args": ["300"], "replicas": 2}),
    );
    let worker = app.wait("worker", "Ready with two processes", |e| {
        is_true(e, "Ready") && pid(e, 0).is_some() && pid(e, 1).is_some()
    });
    let (zero, one) = (pid(&worker, 0).unwrap(), pid(&worker, 1).unwrap());

    app.patch("worker", json!({"spec": {"replicas": 1}}));
    wait_gone(one);
    let worker = app.wait("worker", "Ready with one process", |e| {
        is_true(e, "Ready") && pid(e, 1).is_none()
    });
    assert_eq!(pid(&worker, 0), Some(zero), "replica 0 is left alone");

    app.patch("worker", json!({"spec": {"replicas": 2}}));
    let worker = app.wait("worker", "Ready with two processes again", |e| {
        is_true(e, "Ready") && pid(e, 1).is_some()
    });
    assert_eq!(pid(&worker, 0), Some(zero), "replica 0 is left alone");
    assert_eq!(app.processes_of(&uid(&worker)).len(), 2);
    assert_eq!(restart_count(&worker), 0);
}
