//! `kubectl delete exe` stops the whole process group before the object goes.

use crate::*;

#[test]
fn delete_stops_the_process_and_its_children() {
    let app = App::start();
    app.apply_exe(
        "tree",
        json!({"command": "sh", "args": ["-c", "sleep 300 & wait"]}),
    );
    let tree = app.wait("tree", "Running", |e| pid(e, 0).is_some());
    // The shell and its child sleep both carry the tags.
    let pids = app.wait_processes(&uid(&tree), 2);
    assert!(pids.contains(&pid(&tree, 0).unwrap()), "{pids:?}");

    app.kubectl.ok(&["delete", "exe", "tree", "--timeout=60s"]);
    assert!(app.exe_opt("tree").is_none());
    for pid in pids {
        wait_gone(pid);
    }
}
