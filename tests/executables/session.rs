//! The end of a session (Ctrl-C on `kaspire serve`): Session resources are stopped
//! and removed, Persistent ones keep running and are adopted by the next session.

use crate::*;

#[test]
fn ending_the_session_stops_session_processes_and_keeps_persistent_ones() {
    let mut app = App::start();
    app.apply_exe(
        "session",
        json!({"command": "sh", "args": ["-c", "sleep 300 & wait"]}),
    );
    app.apply_exe(
        "persistent",
        json!({"command": "sleep", "args": ["300"], "lifetime": "Persistent"}),
    );
    let session = app.wait("session", "Running", |e| pid(e, 0).is_some());
    let persistent = app.wait("persistent", "Running", |e| pid(e, 0).is_some());
    let session_pids = app.wait_processes(&uid(&session), 2);
    let kept = pid(&persistent, 0).unwrap();

    let status = app.interrupt();
    assert!(status.success(), "kaspire serve exited with {status}");
    for pid in session_pids {
        wait_gone(pid);
    }
    assert!(alive(kept), "the Persistent process outlives the session");

    // The next session: the Session object is gone, the Persistent one adopted as it was.
    app.restart();
    assert!(
        app.exe_opt("session").is_none(),
        "Session objects are removed"
    );
    let persistent = app.wait("persistent", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    assert_eq!(pid(&persistent, 0), Some(kept), "adopted, not replaced");
    assert_eq!(app.processes_of(&uid(&persistent)), [kept]);
}
