//! `kaspire up` through the real binary: it applies the app files to an embedded
//! control plane that kubectl can reach, rejects a bad file naming the resource and
//! field without applying anything, and exits cleanly on Ctrl-C.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn kaspire(state: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaspire"));
    cmd.arg("--state-dir").arg(state);
    cmd
}

#[test]
fn up_applies_the_example_app_and_stops_on_ctrl_c() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let app = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/app.yaml");
    let mut child = kaspire(&state)
        .args(["up", "-f", app])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut applied = Vec::new();
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(what) = line.strip_prefix("applied ") {
            applied.push(what.to_string());
            if applied.len() == 5 {
                break;
            }
        }
    }
    assert_eq!(
        applied,
        [
            "parameter/api-key",
            "executable/migrate",
            "executable/api",
            "executable/worker",
            "executable/web"
        ]
    );

    let kubectl = Command::new("kubectl")
        .env("KUBECONFIG", state.join("kubeconfig"))
        .args(["get", "exe", "-o", "jsonpath={.items[*].metadata.name}"])
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&kubectl.stdout),
        "api migrate web worker"
    );

    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success(),
        "kaspire up exited with {status} after Ctrl-C"
    );
}

#[test]
fn up_rejects_a_bad_file_naming_resource_and_field_and_applies_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    let file = tmp.path().join("app.yaml");
    std::fs::write(
        &file,
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: good}\nspec: {command: 'true'}\n---\n\
         apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: bad}\nspec: {command: 'true', replicas: two}\n",
    )
    .unwrap();
    let out = kaspire(&state)
        .args(["up", "-f", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("document 2")
            && stderr.contains("\"bad\"")
            && stderr.contains("spec.replicas"),
        "{stderr}"
    );

    // The good document was not applied either: the store holds no Executable.
    let server = support::Server::start_in(&state);
    let kubectl = server.kubectl(std::path::Path::new("kubectl"));
    assert_eq!(kubectl.ok(&["get", "exe", "-o", "name"]), "");
}
