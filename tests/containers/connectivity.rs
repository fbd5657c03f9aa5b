//! Reaching things through the values kaspire resolves: container → container by name
//! on the namespace's network, container → a host process on loopback through
//! `host.docker.internal`, host process → container through the proxy; and a bind
//! mount seen inside.

use crate::*;

#[test]
fn containers_processes_and_the_host_reach_each_other_through_resolved_values() {
    require_docker!();
    let app = App::start();
    app.apply_ctr("web", web("from-container"));
    // A host process listening on loopback only.
    let site = app.path("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(format!("{site}/index.html"), "from-host\n").unwrap();
    app.apply(
        "Executable",
        "hostweb",
        json!({
            "command": "python3",
            "args": ["-m", "http.server", "{hostweb.endpoints.http.targetPort}", "--bind", "127.0.0.1", "--directory", site],
            "endpoints": [{"name": "http", "scheme": "http"}],
            "healthChecks": [{"http": {"path": "/"}}],
        }),
    );
    // The container sees both through its own context.
    let mut client = shell(
        "echo \"c2c=$(wget -qO- $WEB_URL)\"; echo \"c2h=$(wget -qO- {hostweb.endpoints.http.url})\"; echo \"args=$0\"; exec sleep 600",
    );
    client["args"] = json!([
        "sh",
        "-c",
        client["args"][2],
        "{web.endpoints.http.hostAndPort}"
    ]);
    client["env"] = json!([{"name": "WEB_URL", "value": "{web.endpoints.http.url}"}]);
    client["waitFor"] = json!([{"name": "web"}, {"name": "hostweb"}]);
    app.apply_ctr("client", client);
    // A host process sees the container through the proxy on localhost.
    app.apply(
        "Executable",
        "hostclient",
        json!({
            "command": "sh",
            "args": ["-c", "curl -sf \"$WEB\"; sleep 600"],
            "env": [{"name": "WEB", "value": "{web.endpoints.http.url}"}],
            "waitFor": [{"name": "web"}],
        }),
    );

    let log = app.wait_log("client", "?source=stdout", "args=");
    assert!(
        log.contains("c2c=from-container"),
        "container → container failed:\n{log}"
    );
    assert!(
        log.contains("c2h=from-host"),
        "container → host failed:\n{log}"
    );
    assert!(
        log.contains("args=web:8080"),
        "args resolved in the container context:\n{log}"
    );
    let path =
        "/apis/kaspire.dev/v1alpha1/namespaces/default/executables/hostclient/log?source=stdout";
    let seen = eventually(WAIT, || {
        let out = app.kubectl.ok(&["get", "--raw", path]);
        if !out.contains("from-container") {
            std::thread::sleep(Duration::from_millis(250));
        }
        out.contains("from-container").then_some(out)
    });
    assert!(
        seen.is_some(),
        "host process → container through the proxy failed"
    );
}

#[test]
fn a_bind_mount_is_visible_inside() {
    require_docker!();
    let app = App::start();
    let dir = app.path("data");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(format!("{dir}/greeting.txt"), "mounted-content\n").unwrap();
    let mut spec = shell("cat /data/greeting.txt; touch /data/written-inside 2>&1; exec sleep 600");
    spec["volumes"] = json!([{"type": "bind", "source": dir, "target": "/data", "readOnly": true}]);
    app.apply_ctr("reader", spec);
    let log = app.wait_log("reader", "", "mounted-content");
    assert!(
        log.contains("Read-only file system"),
        "readOnly was not honoured:\n{log}"
    );
    assert!(!Path::new(&format!("{dir}/written-inside")).exists());
}
