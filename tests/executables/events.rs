//! Lifecycle transitions recorded as events.k8s.io Events, as `kubectl describe` shows them.

use crate::*;

#[test]
fn describe_shows_the_lifecycle_events() {
    let app = App::start();
    app.apply_exe(
        "flaky",
        json!({
            "command": "sh", "args": ["-c", "sleep 1; exit 1"],
            "restartPolicy": "OnFailure",
            "restartBackoff": {"initialSeconds": 1, "maxSeconds": 2},
        }),
    );
    app.wait("flaky", "restarted", |e| restart_count(e) >= 1);
    let wanted = ["Starting", "Ready", "Exited", "Restarting"];
    let mut last = String::new();
    let all_shown = eventually(WAIT, || {
        last = app.kubectl.ok(&["describe", "exe", "flaky"]);
        let events = last.split("Events:").nth(1).unwrap_or_default();
        let reasons: Vec<&str> = events
            .lines()
            .filter_map(|l| l.split_whitespace().nth(1))
            .collect();
        wanted.iter().all(|w| reasons.contains(w)).then_some(())
    });
    assert!(
        all_shown.is_some(),
        "describe lacks one of {wanted:?}:\n{last}"
    );
}
