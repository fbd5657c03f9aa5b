//! Bad networking input: each mistake leaves a message in status and in an event that
//! names the resource's field and says what to do, and nothing half-started behind.

use crate::*;

/// The `FailedToStart` (or other `reason`) event message about `name` must contain
/// every one of `needles`.
fn assert_event(app: &App, name: &str, reason: &str, needles: &[&str]) {
    let text = app.wait_event(name, reason);
    for needle in needles {
        assert!(
            text.contains(needle),
            "{reason} event lacks {needle:?}: {text}"
        );
    }
}

fn assert_mentions(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "message lacks {needle:?}: {text}");
    }
}

#[test]
fn an_unparsable_expression_fails_to_start_with_its_position() {
    let app = App::start();
    app.apply_exe(
        "web",
        json!({"command": "sleep", "args": ["3600"], "endpoints": [{"name": "http", "scheme": "http"}]}),
    );
    app.apply_exe(
        "typo",
        json!({
            "command": "sleep", "args": ["3600"],
            "env": [{"name": "URL", "value": "http://{web.endpoints.http.prot}/"}],
        }),
    );
    app.apply_exe(
        "unclosed",
        json!({"command": "sleep", "args": ["3600", "{web.endpoints.http.url"]}),
    );
    let typo = app.wait("typo", "FailedToStart", |e| state(e) == "FailedToStart");
    // The position is that of `prot`, the part in error.
    assert_mentions(
        message(&typo),
        &[
            "spec.env[URL].value",
            "column 28",
            "prot",
            "expected url, host, port",
        ],
    );
    assert_event(
        &app,
        "typo",
        "FailedToStart",
        &["spec.env[URL].value", "column 28"],
    );

    let unclosed = app.wait("unclosed", "FailedToStart", |e| state(e) == "FailedToStart");
    assert_mentions(message(&unclosed), &["spec.args[1]", "column 1", "{{"]);
    assert_event(&app, "unclosed", "FailedToStart", &["spec.args[1]"]);
    assert!(tagged_for(&app, "typo").is_empty() && tagged_for(&app, "unclosed").is_empty());
}

#[test]
fn a_reference_to_a_missing_resource_waits_until_it_exists() {
    let app = App::start();
    app.apply_exe(
        "consumer",
        json!({
            "command": "sleep", "args": ["3600"],
            "env": [{"name": "DB", "value": "{ghost.endpoints.tcp.url}"}],
        }),
    );
    let waiting = app.wait("consumer", "Waiting on ghost", |e| {
        state(e) == "Waiting" && message(e).contains("ghost")
    });
    assert_mentions(
        message(&waiting),
        &["spec.env[DB].value", "ghost", "does not exist"],
    );
    app.stays("consumer", "Waiting", Duration::from_secs(1), |e| {
        state(e) == "Waiting"
    });

    // The consumer starts once what it names exists.
    app.apply_exe(
        "ghost",
        json!({"command": "sleep", "args": ["3600"], "endpoints": [{"name": "tcp", "scheme": "tcp"}]}),
    );
    app.wait("consumer", "Running", |e| state(e) == "Running");
}

#[test]
fn a_reference_to_a_missing_endpoint_waits_naming_the_endpoint() {
    let app = App::start();
    app.apply_exe(
        "web",
        json!({"command": "sleep", "args": ["3600"], "endpoints": [{"name": "http", "scheme": "http"}]}),
    );
    app.wait("web", "Running", |e| state(e) == "Running");
    app.apply_exe(
        "consumer",
        json!({
            "command": "sleep", "args": ["3600"],
            "env": [{"name": "API", "value": "{web.endpoints.grpc.url}"}],
        }),
    );
    let waiting = app.wait("consumer", "Waiting on web's endpoint", |e| {
        state(e) == "Waiting" && message(e).contains("grpc")
    });
    assert_mentions(
        message(&waiting),
        &[
            "spec.env[API].value",
            "web",
            "no endpoint `grpc`",
            "spec.endpoints",
        ],
    );
}

#[test]
fn a_port_held_by_another_program_fails_to_start_naming_the_endpoint() {
    let app = App::start();
    let holder = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a port to hold");
    let port = holder.local_addr().unwrap().port();
    app.apply_exe(
        "web",
        json!({
            "command": "sleep", "args": ["3600"],
            "endpoints": [
                {"name": "admin", "scheme": "http"},
                {"name": "http", "scheme": "http", "port": port},
            ],
        }),
    );
    let web = app.wait("web", "FailedToStart", |e| state(e) == "FailedToStart");
    let expected = [
        "spec.endpoints[1] (http).port",
        &port.to_string(),
        "already in use",
        "choose another",
    ];
    assert_mentions(message(&web), &expected);
    assert_event(&app, "web", "FailedToStart", &expected);
    assert!(tagged_for(&app, "web").is_empty(), "a replica was started");
    // A failed start is final: no silent retry loop that would take the port later.
    drop(holder);
    app.stays("web", "FailedToStart", Duration::from_secs(2), |e| {
        state(e) == "FailedToStart"
    });
}

#[test]
fn an_invalid_generate_spec_is_reported_on_the_parameter_and_its_consumer_waits() {
    let app = App::start();
    // Rejected at apply: the schema says length ≥ 1.
    let stderr = app.apply_fails(&object(
        "Parameter",
        "short",
        json!({"generate": {"length": 0}}),
    ));
    assert_mentions(&stderr, &["spec.generate.length"]);

    // Accepted by the schema, but nothing can be generated from no character class.
    app.apply_param(
        "token",
        json!({"generate": {"length": 8, "lower": false, "upper": false, "numeric": false, "special": false}}),
    );
    let token = app.wait_for("param", "token", "not Ready with a message", |p| {
        !message(p).is_empty()
    });
    assert!(!is_true(&token, "Ready"));
    assert_mentions(message(&token), &["spec.generate", "enable at least one"]);
    assert_event(&app, "token", "ValueMissing", &["spec.generate"]);

    app.apply_exe(
        "consumer",
        json!({"command": "sleep", "args": ["3600"], "env": [{"name": "T", "value": "{token.value}"}]}),
    );
    let waiting = app.wait("consumer", "Waiting on token", |e| state(e) == "Waiting");
    assert_mentions(message(&waiting), &["token"]);

    // Fixed: the value is generated and the consumer starts.
    app.apply_param("token", json!({"generate": {"length": 8}}));
    app.wait_for("param", "token", "Ready", |p| is_true(p, "Ready"));
    app.wait("consumer", "Running", |e| state(e) == "Running");
}

/// Live processes started for Executable `name`.
fn tagged_for(app: &App, name: &str) -> Vec<i32> {
    let uid = app.get("exe", name)["metadata"]["uid"]
        .as_str()
        .unwrap()
        .to_owned();
    tagged("KASPIRE_RESOURCE", &uid)
}
