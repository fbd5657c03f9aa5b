//! Lifetimes: a Session's containers and network are gone when `kaspire down` ends it;
//! a Persistent container is reused by the next `kaspire up` (same id, same port) and
//! recreated when its spec changes; a control plane killed with SIGKILL adopts its
//! containers instead of starting them twice.

use std::process::Command;

use crate::*;

/// `kaspire up --detach --wait` / `kaspire down` on one state dir.
struct Sessions {
    state: PathBuf,
    app_file: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Sessions {
    fn new() -> Sessions {
        let tmp = tempfile::tempdir().unwrap();
        Sessions {
            state: tmp.path().join("state"),
            app_file: tmp.path().join("app.yaml"),
            _tmp: tmp,
        }
    }

    fn kaspire(&self, args: &[&str]) -> std::process::Output {
        support::app::kaspire_ok(&self.state, args)
    }

    /// Writes `documents` as the app file and brings it up.
    fn up(&self, documents: &[Value]) {
        let yaml: Vec<String> = documents.iter().map(|d| d.to_string()).collect();
        std::fs::write(&self.app_file, yaml.join("\n---\n")).unwrap();
        let file = self.app_file.to_string_lossy().into_owned();
        self.kaspire(&["up", "-f", &file, "--detach", "--wait"]);
    }

    fn down(&self) {
        self.kaspire(&["down"]);
    }

    fn get(&self, name: &str) -> Value {
        let out = Command::new("kubectl")
            .env("KUBECONFIG", self.state.join("kubeconfig"))
            .args(["get", "ctr", name, "-o", "json"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).unwrap()
    }

    fn instance(&self) -> String {
        std::fs::read_to_string(self.state.join("instance-id"))
            .unwrap()
            .trim()
            .to_owned()
    }

    fn containers(&self) -> Vec<String> {
        containers_labelled(&format!("kaspire.dev/instance={}", self.instance()))
    }
}

impl Drop for Sessions {
    fn drop(&mut self) {
        let _ = Command::new(env!("CARGO_BIN_EXE_kaspire"))
            .arg("--state-dir")
            .arg(&self.state)
            .arg("down")
            .output();
        let ids = self.containers();
        block_on(async move {
            let Ok(docker) = connect().await else { return };
            for id in ids {
                let options = bollard::query_parameters::RemoveContainerOptions {
                    force: true,
                    ..Default::default()
                };
                let _ = docker.remove_container(&id, Some(options)).await;
            }
        });
    }
}

#[test]
fn ending_the_session_leaves_no_container_and_no_network() {
    require_docker!();
    let sessions = Sessions::new();
    sessions.up(&[
        manifest("Container", "web", web("x")),
        manifest("Container", "worker", shell("exec sleep 600")),
    ]);
    assert_eq!(sessions.containers().len(), 2);
    let network = format!("label=kaspire.dev/instance={}", sessions.instance());
    sessions.down();
    assert_eq!(
        sessions.containers(),
        Vec::<String>::new(),
        "containers left after down"
    );
    let networks = Command::new("docker")
        .args(["network", "ls", "-q", "--filter", &network])
        .output()
        .unwrap();
    assert!(
        networks.stdout.is_empty(),
        "networks left after down: {}",
        String::from_utf8_lossy(&networks.stdout)
    );
}

#[test]
fn a_persistent_container_is_reused_across_sessions_and_recreated_when_its_spec_changes() {
    require_docker!();
    let sessions = Sessions::new();
    let mut spec = web("v1");
    spec["lifetime"] = json!("Persistent");
    sessions.up(&[manifest("Container", "cache", spec.clone())]);
    let first = sessions.get("cache");
    let (id, port) = (container_id(&first), url(&first));

    sessions.down();
    assert_eq!(
        sessions.containers(),
        vec![id.clone()],
        "a Persistent container outlives the session"
    );

    sessions.up(&[manifest("Container", "cache", spec.clone())]);
    let second = sessions.get("cache");
    assert_eq!(container_id(&second), id, "the same container was reused");
    assert_eq!(url(&second), port, "with the same port");
    assert_eq!(http_get(&url(&second)).unwrap().trim(), "v1");

    spec["args"][2] = json!(spec["args"][2].as_str().unwrap().replace("v1", "v2"));
    sessions.up(&[manifest("Container", "cache", spec)]);
    let third = sessions.get("cache");
    assert_ne!(
        container_id(&third),
        id,
        "a changed spec recreates the container"
    );
    assert_eq!(http_get(&url(&third)).unwrap().trim(), "v2");
    assert_eq!(sessions.containers().len(), 1, "the old container is gone");
}

#[test]
fn after_kill_9_the_control_plane_adopts_its_containers() {
    require_docker!();
    let mut app = App::start();
    app.apply_ctr("web", web("adopted"));
    let mut replicas = shell("exec sleep 600");
    replicas["replicas"] = json!(2);
    app.apply_ctr("pair", replicas);
    let before = app.wait_ready("web");
    app.wait_ready("pair");
    let mut ids = app.containers();
    ids.sort();
    assert_eq!(ids.len(), 3);

    app.crash_and_restart();
    app.wait("ctr", "web", "adopted", |c| {
        is_true(c, "Ready") && container_id(c) == container_id(&before)
    });
    app.wait_log("web", "?source=system", "adopted replica 0");
    app.wait_ready("pair");
    let mut after = app.containers();
    after.sort();
    assert_eq!(after, ids, "containers were adopted, none created twice");
    assert_eq!(
        http_get(&url(&app.get("ctr", "web"))).unwrap().trim(),
        "adopted"
    );
}
