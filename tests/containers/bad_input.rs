//! Bad input fails the one Container with a message naming the field and the fix;
//! the rest of the app keeps running.

use std::net::TcpListener;

use crate::*;

#[test]
fn bad_specs_fail_to_start_with_clear_messages_and_disturb_nothing_else() {
    require_docker!();
    let app = App::start();
    app.apply_ctr("healthy", shell("exec sleep 600"));
    let healthy = app.wait_state("ctr", "healthy", "Running");

    let mut missing = shell("true");
    missing["image"] = json!("kaspire-test/does-not-exist:1");
    app.apply_ctr("missing-image", missing);

    let mut mount = shell("true");
    mount["volumes"] = json!([{"type": "bind", "source": "/no/such/dir", "target": "/data"}]);
    app.apply_ctr("bad-mount", mount);

    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut conflict = web("x");
    conflict["endpoints"][0]["port"] = json!(port);
    app.apply_ctr("port-conflict", conflict);

    let mut runtime_arg = shell("true");
    runtime_arg["runtimeArgs"] = json!(["--init", "--frobnicate"]);
    app.apply_ctr("bad-arg", runtime_arg);

    let expect = |name: &str, needles: &[&str]| {
        let ctr = app.wait_state("ctr", name, "FailedToStart");
        let text = message(&ctr);
        for needle in needles {
            assert!(text.contains(needle), "{name}: {needle:?} not in {text:?}");
        }
    };
    expect(
        "missing-image",
        &[
            "spec.image",
            "kaspire-test/does-not-exist:1",
            "pullPolicy is Never",
        ],
    );
    expect(
        "bad-mount",
        &["spec.volumes[0].source", "/no/such/dir", "does not exist"],
    );
    expect("port-conflict", &["spec.endpoints[0]", &port.to_string()]);
    expect(
        "bad-arg",
        &["spec.runtimeArgs[1]", "--frobnicate", "--shm-size"],
    );

    // Only the healthy one has a container; it was not touched.
    let still = app.get("ctr", "healthy");
    assert_eq!(state(&still), "Running");
    assert_eq!(container_id(&still), container_id(&healthy));
    assert_eq!(app.containers(), vec![container_id(&healthy)]);
    drop(taken);
}
