//! `kill -9` of the control plane: after a restart on the same state dir every object
//! is intact, no resource runs twice, the Persistent process was adopted and the
//! Session resource runs again.

use crate::*;

#[test]
fn a_killed_control_plane_comes_back_without_duplicate_processes() {
    let mut app = App::start();
    app.apply_exe("session", json!({"command": "sleep", "args": ["300"]}));
    app.apply_exe(
        "persistent",
        json!({"command": "sleep", "args": ["300"], "lifetime": "Persistent"}),
    );
    let session = app.wait("session", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let persistent = app.wait("persistent", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let kept_pid = pid(&persistent, 0).unwrap();

    app.crash_and_restart();

    let session_after = app.wait("session", "Running again", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    let persistent_after = app.wait("persistent", "Running", |e| {
        state(e) == "Running" && pid(e, 0).is_some()
    });
    for (before, after) in [(&session, &session_after), (&persistent, &persistent_after)] {
        assert_eq!(uid(before), uid(after), "the object was recreated");
        assert_eq!(before["spec"], after["spec"]);
    }
    // Let any late duplicate start, then count what runs per resource.
    pause(2.0);
    for exe in [&session_after, &persistent_after] {
        let pids = app.processes_of(&uid(exe));
        assert_eq!(pids.len(), 1, "{} runs {pids:?}", exe["metadata"]["name"]);
    }
    assert!(alive(kept_pid));
    assert_eq!(
        pid(&app.exe("persistent"), 0),
        Some(kept_pid),
        "the Persistent process is adopted, not replaced"
    );
}
