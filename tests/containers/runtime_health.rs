//! An unreachable Docker Engine turns every Container RuntimeUnhealthy with a message,
//! and they recover on their own when it answers again — here the control plane talks
//! to the Engine through a socket relay the test starts and stops.

use std::process::{Child, Command, Stdio};

use crate::*;

/// A relay process, killed when dropped (also when the test fails).
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A Unix-socket relay from `path` to the real Engine socket (python3, stdlib only).
fn relay(path: &str) -> Relay {
    let script = r#"
import asyncio, os, sys
path = sys.argv[1]
async def pipe(r, w):
    try:
        while data := await r.read(65536):
            w.write(data); await w.drain()
    finally:
        w.close()
async def handle(r, w):
    ur, uw = await asyncio.open_unix_connection('/var/run/docker.sock')
    await asyncio.gather(pipe(r, uw), pipe(ur, w), return_exceptions=True)
async def main():
    if os.path.exists(path): os.unlink(path)
    server = await asyncio.start_unix_server(handle, path)
    async with server: await server.serve_forever()
asyncio.run(main())
"#;
    let child = Command::new("python3")
        .args(["-c", script, path])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("python3 relay");
    let child = Relay(child);
    eventually(Duration::from_secs(10), || {
        Path::new(path).exists().then_some(())
    })
    .expect("the relay listens");
    child
}

#[test]
fn containers_are_runtime_unhealthy_while_docker_is_unreachable_and_recover() {
    require_docker!();
    let socket_dir = tempfile::tempdir().unwrap();
    let socket = socket_dir
        .path()
        .join("docker.sock")
        .to_string_lossy()
        .into_owned();
    let docker_host = format!("unix://{socket}");
    // No engine behind DOCKER_HOST yet.
    let app = App::start_with_env(&[("DOCKER_HOST", &docker_host)]);
    app.apply_ctr("svc", shell("exec sleep 600"));
    let down = app.wait_state("ctr", "svc", "RuntimeUnhealthy");
    assert!(
        message(&down).contains("unreachable"),
        "{:#}",
        down["status"]
    );
    assert!(
        message(&down).contains(&docker_host),
        "{:#}",
        down["status"]
    );
    // An app's Executables do not care.
    app.apply(
        "Executable",
        "proc",
        json!({"command": "sleep", "args": ["600"]}),
    );
    app.wait_state("exe", "proc", "Running");

    let engine = relay(&socket);
    app.wait_state("ctr", "svc", "Running");

    drop(engine);
    let _ = std::fs::remove_file(&socket);
    app.wait_state("ctr", "svc", "RuntimeUnhealthy");
    let _engine = relay(&socket);
    let back = app.wait_state("ctr", "svc", "Running");
    assert_eq!(
        app.containers(),
        vec![container_id(&back)],
        "one container, not two"
    );
}
