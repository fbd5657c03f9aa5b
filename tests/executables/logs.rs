//! The `log` subresource read with `kubectl get --raw`: stdout and stderr captured,
//! follow streams new lines, the controller's own lines under `source=system`, and
//! history kept across a restart.

use crate::*;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

#[test]
fn stdout_and_stderr_are_captured_and_selectable() {
    let app = App::start();
    app.apply_exe(
        "svc",
        json!({
            "command": "sh",
            "args": ["-c", "echo to-stdout; echo to-stderr >&2; exec sleep 300"],
        }),
    );
    let both = app.wait_log("svc", "", "to-stderr");
    assert!(both.contains("to-stdout"), "{both}");
    assert_eq!(app.log("svc", "?source=stdout"), "to-stdout\n");
    assert_eq!(app.log("svc", "?source=stderr"), "to-stderr\n");
}

#[test]
fn follow_streams_lines_written_after_it_started() {
    let app = App::start();
    app.apply_exe(
        "ticker",
        json!({
            "command": "sh",
            "args": ["-c", "i=0; while true; do i=$((i+1)); echo \"tick $i\"; sleep 0.3; done"],
        }),
    );
    app.wait_log("ticker", "", "tick 1\n");
    let mut follow = app
        .kubectl
        .command(&["get", "--raw", &log_path("ticker", "?follow=true")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = follow.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Whatever the history held when following began, newer ticks must arrive.
    let first: u64 = tick(&rx.recv_timeout(WAIT).expect("a first line"));
    let newer = std::iter::from_fn(|| rx.recv_timeout(WAIT).ok())
        .map(|l| tick(&l))
        .find(|n| *n >= first + 5);
    let _ = follow.kill();
    let _ = follow.wait();
    assert!(newer.is_some(), "follow stopped after tick {first}");
}

fn tick(line: &str) -> u64 {
    line.strip_prefix("tick ")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected line {line:?}"))
}

#[test]
fn the_system_source_holds_the_controllers_lines() {
    let app = App::start();
    app.apply_exe("svc", json!({"command": "sleep", "args": ["300"]}));
    let svc = app.wait("svc", "Running", |e| pid(e, 0).is_some());
    let system = app.wait_log("svc", "?source=system", "started replica 0");
    assert!(
        system.contains(&pid(&svc, 0).unwrap().to_string()),
        "the system log names the pid: {system}"
    );
    assert!(
        !app.log("svc", "").contains("started replica"),
        "system lines stay out of the default log"
    );
}

#[test]
fn log_history_is_kept_across_a_restart() {
    let app = App::start();
    app.apply_exe(
        "svc",
        json!({"command": "sh", "args": ["-c", "echo \"run $$\"; exec sleep 300"]}),
    );
    let svc = app.wait("svc", "Running", |e| pid(e, 0).is_some());
    let first = pid(&svc, 0).unwrap();
    app.wait_log("svc", "", &format!("run {first}\n"));

    app.request("svc", "kaspire.dev/restart-requested-at");
    let svc = app.wait("svc", "restarted", |e| {
        pid(e, 0).is_some_and(|p| p != first)
    });
    let second = pid(&svc, 0).unwrap();
    let log = app.wait_log("svc", "", &format!("run {second}\n"));
    assert_eq!(log, format!("run {first}\nrun {second}\n"));
}
