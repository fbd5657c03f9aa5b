//! kaspire's admission rules through the real binary and kubectl: a write that would
//! close a waitFor/parent cycle is rejected with 422 naming the cycle, and changes nothing.

mod support;

use std::path::Path;

fn executable(name: &str, waits: &[&str]) -> String {
    let waits: Vec<String> = waits.iter().map(|w| format!("{{name: {w}}}")).collect();
    format!(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {{name: {name}}}\nspec:\n  command: 'true'\n  waitFor: [{}]\n",
        waits.join(", ")
    )
}

#[test]
fn a_wait_for_cycle_is_rejected_naming_the_cycle_and_nothing_changes() {
    let server = support::Server::start();
    let kubectl = server.kubectl(Path::new("kubectl"));
    kubectl.ok_stdin(&["apply", "-f", "-"], &executable("db", &[]));
    kubectl.ok_stdin(&["apply", "-f", "-"], &executable("api", &["db"]));
    kubectl.ok_stdin(&["apply", "-f", "-"], &executable("web", &["api"]));

    let out = kubectl.run_stdin(&["apply", "-f", "-"], &executable("db", &["web"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the cycle was accepted");
    assert!(stderr.contains("db → web → api → db"), "{stderr}");
    assert!(stderr.contains("spec.waitFor[0].name"), "{stderr}");
    let db_waits = kubectl.ok(&["get", "exe", "db", "-o", "jsonpath={.spec.waitFor}"]);
    assert!(
        !db_waits.contains("web"),
        "the rejected write changed db: {db_waits}"
    );

    let out = kubectl.run_stdin(&["apply", "-f", "-"], &executable("solo", &["solo"]));
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("itself"));
    assert!(
        !kubectl.run(&["get", "exe", "solo"]).status.success(),
        "a rejected object must not exist"
    );
}
