//! What a consumer is started with: endpoint properties, parameter values and
//! connection strings in its env and args, the Aspire variables of `references`, and a
//! secret parameter that reaches the process but is printed nowhere.

use crate::*;

/// Records its arguments and environment as JSON in the file named by its first
/// argument (never on stdout: only kaspire's own output is under test), then idles.
const RECORDER: &str = r#"
import json, os, sys, time
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump({"args": sys.argv[2:], "env": dict(os.environ)}, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(3600)
"#;

/// Where a recorded consumer's JSON lands, once it has started.
fn recorded(path: &str) -> Value {
    let text = eventually(WAIT, || std::fs::read_to_string(path).ok())
        .unwrap_or_else(|| panic!("the consumer never recorded its inputs in {path}"));
    serde_json::from_str(&text).expect("recorded JSON")
}

#[test]
fn consumer_sees_endpoints_parameters_connection_strings_and_aspire_variables() {
    let app = App::start();
    app.apply_param("greeting", json!({"value": "hello-world"}));
    app.apply_param(
        "db-password",
        json!({"generate": {"length": 24}, "secret": true}),
    );
    app.apply_exe(
        "web",
        json!({
            "command": "sleep", "args": ["3600"],
            "endpoints": [{"name": "http", "scheme": "http"}],
            "connectionString":
                "Endpoint={web.endpoints.http.url};Password={db-password.value};Greeting={greeting.value}",
        }),
    );
    let script = app.write("recorder.py", RECORDER);
    let out = app.path("consumer.json");
    app.apply_exe(
        "consumer",
        json!({
            "command": python3(),
            "args": [
                script, out,
                "{web.endpoints.http.url}", "--port={web.endpoints.http.port}",
                "{greeting.value}", "{{literal}}",
            ],
            "env": [
                {"name": "URL", "value": "{web.endpoints.http.url}"},
                {"name": "HOST", "value": "{web.endpoints.http.host}"},
                {"name": "PORT", "value": "{web.endpoints.http.port}"},
                {"name": "TARGET", "value": "{web.endpoints.http.targetPort}"},
                {"name": "SCHEME", "value": "{web.endpoints.http.scheme}"},
                {"name": "HOST_AND_PORT", "value": "{web.endpoints.http.hostAndPort}"},
                {"name": "GREETING", "value": "{greeting.value}"},
                {"name": "DB_PASSWORD", "value": "{db-password.value}"},
                {"name": "WEB_CS", "value": "{web.connectionString}"},
            ],
            "references": ["web"],
        }),
    );
    let web = app.wait("web", "Ready with its endpoint", |e| {
        is_true(e, "Ready") && e["status"]["endpoints"][0]["targetPorts"][0].is_u64()
    });
    let port = endpoint_port(&web, "http");
    let target = web["status"]["endpoints"][0]["targetPorts"][0]
        .as_u64()
        .unwrap();
    let url = format!("http://localhost:{port}");
    assert_eq!(web["status"]["endpoints"][0]["url"], url.as_str());
    assert_eq!(web["status"]["endpoints"][0]["host"], "localhost");
    app.wait("consumer", "Running", |e| state(e) == "Running");

    let secret = secret_value(&app, "db-password");
    assert_eq!(secret.chars().count(), 24);
    let seen = recorded(&out);
    let env = |name: &str| {
        seen["env"][name]
            .as_str()
            .unwrap_or_else(|| panic!("{name} missing from the consumer's env"))
            .to_owned()
    };
    assert_eq!(
        seen["args"],
        json!([url, format!("--port={port}"), "hello-world", "{literal}"])
    );
    assert_eq!(env("URL"), url);
    assert_eq!(env("HOST"), "localhost");
    assert_eq!(env("PORT"), port.to_string());
    assert_eq!(env("TARGET"), target.to_string());
    assert_eq!(env("SCHEME"), "http");
    assert_eq!(env("HOST_AND_PORT"), format!("localhost:{port}"));
    assert_eq!(env("GREETING"), "hello-world");
    assert_eq!(
        env("DB_PASSWORD"),
        secret,
        "the process gets the real secret"
    );
    let connection_string = format!("Endpoint={url};Password={secret};Greeting=hello-world");
    assert_eq!(env("WEB_CS"), connection_string);
    // What Aspire's WithReference(web) injects.
    assert_eq!(env("ConnectionStrings__web"), connection_string);
    assert_eq!(env("services__web__http__0"), url);
    assert_eq!(env("WEB_HTTP"), url);
    // The connection string in status is masked.
    assert_eq!(
        web["status"]["connectionString"],
        format!("Endpoint={url};Password=*****;Greeting=hello-world").as_str()
    );
}

#[test]
fn a_secret_parameter_reaches_its_consumer_but_is_printed_nowhere() {
    let app = App::start();
    let (secret, seen) = secret_consumer(&app, &[]);
    assert_eq!(seen["env"]["API_KEY"], secret.as_str());
    assert_eq!(seen["env"]["ConnectionStrings__api-key"], secret.as_str());
    assert!(
        seen["env"]["ConnectionStrings__db"]
            .as_str()
            .is_some_and(|cs| cs.ends_with(&format!("Key={secret}"))),
        "{:#}",
        seen["env"]
    );
    assert_nowhere_printed(&app, &secret);
    // The outputs were about the right things (a typo would make the check vacuous).
    let db = app.kubectl.ok(&["get", "exe", "db", "-o", "yaml"]);
    assert!(db.contains("Key=*****"), "{db}");
}

#[test]
fn a_secret_in_args_reaches_the_process_but_is_printed_nowhere() {
    let app = App::start();
    let args = ["--key={api-key.value}", "--db={db.connectionString}"];
    let (secret, seen) = secret_consumer(&app, &args);
    assert_eq!(seen["args"][0], format!("--key={secret}").as_str());
    assert_nowhere_printed(&app, &secret);
}

/// A secret generated Parameter `api-key`, an Executable `db` whose connection string
/// holds it, and a running `consumer` that gets it in `API_KEY`, through `references`
/// and in `args`. Returns the secret and what the consumer recorded.
fn secret_consumer(app: &App, args: &[&str]) -> (String, Value) {
    app.apply_param(
        "api-key",
        json!({"generate": {"length": 32}, "secret": true}),
    );
    app.apply_exe(
        "db",
        json!({
            "command": "sleep", "args": ["3600"],
            "endpoints": [{"name": "tcp", "scheme": "tcp"}],
            "connectionString": "Host={db.endpoints.tcp.host};Port={db.endpoints.tcp.port};Key={api-key.value}",
        }),
    );
    let script = app.write("recorder.py", RECORDER);
    let out = app.path("consumer.json");
    let mut all_args = vec![script, out.clone()];
    all_args.extend(args.iter().map(|a| a.to_string()));
    app.apply_exe(
        "consumer",
        json!({
            "command": python3(),
            "args": all_args,
            "env": [{"name": "API_KEY", "value": "{api-key.value}"}],
            "references": ["db", "api-key"],
        }),
    );
    app.wait("consumer", "Running", |e| state(e) == "Running");
    app.wait("db", "showing its connection string", |e| {
        e["status"]["connectionString"].is_string()
    });
    app.wait_event("db", "ConnectionStringAvailable");
    let secret = secret_value(app, "api-key");
    let seen = recorded(&out);
    (secret, seen)
}

/// Everything a user can print about the app, through kubectl and kaspire, holds
/// neither `secret` nor its base64 form.
fn assert_nowhere_printed(app: &App, secret: &str) {
    for (what, text) in [
        (
            "kubectl get param -o yaml",
            app.kubectl.ok(&["get", "param", "api-key", "-o", "yaml"]),
        ),
        (
            "kubectl get exe -o yaml",
            app.kubectl.ok(&["get", "exe", "-o", "yaml"]),
        ),
        (
            "kubectl get events -o yaml",
            app.kubectl.ok(&["get", "events", "-o", "yaml"]),
        ),
        ("kubectl get events", app.kubectl.ok(&["get", "events"])),
        ("kubectl describe exe", app.kubectl.ok(&["describe", "exe"])),
        (
            "kubectl describe param",
            app.kubectl.ok(&["describe", "param"]),
        ),
        ("kaspire get", app.kaspire(&["get", "--all"])),
        (
            "kaspire logs consumer --source system",
            app.kaspire(&["logs", "consumer", "--source", "system"]),
        ),
        (
            "kaspire logs db --source system",
            app.kaspire(&["logs", "db", "--source", "system"]),
        ),
    ] {
        assert!(
            !text.contains(secret),
            "`{what}` prints the secret value:\n{text}"
        );
        assert!(
            !text.contains(&base64(secret)),
            "`{what}` prints the secret value in base64:\n{text}"
        );
    }
}

/// The value of Parameter `name`, read from the Secret it owns.
fn secret_value(app: &App, name: &str) -> String {
    let param = app.wait_for("param", name, "Ready", |p| is_true(p, "Ready"));
    assert!(param["status"]["value"].is_null(), "{:#}", param["status"]);
    let secret_name = param["status"]["secretName"].as_str().expect("secretName");
    let secret = app.get("secret", secret_name);
    let encoded = secret["data"]["value"].as_str().expect("data.value");
    let decoded = base64_decode(encoded);
    assert!(!decoded.is_empty());
    decoded
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

fn base64_decode(text: &str) -> String {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("base64");
    String::from_utf8(bytes).expect("utf-8")
}
