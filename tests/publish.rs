//! `kaspire publish` through the real binary: manifests validated against Aspire's published
//! schema (../shared/data/aspire-8.0.json) and compared field by field with what Aspire
//! writes; bad input names the file, resource, field and position.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

/// `shared/data/NAME` beside the repository (CI) or beside the directory holding a worktree.
fn shared_data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .skip(1)
        .map(|dir| dir.join("shared/data"))
        .find(|dir| dir.is_dir())
        .expect("shared/data beside the repository")
        .join(name)
}

fn read_json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn schema_errors(manifest: &Value) -> Vec<String> {
    let schema = read_json(&shared_data("aspire-8.0.json"));
    let validator = jsonschema::validator_for(&schema).expect("Aspire's schema compiles");
    validator
        .iter_errors(manifest)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

fn publish(files: &[&Path], out: &Path) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kaspire"));
    cmd.arg("publish");
    for file in files {
        cmd.arg("-f").arg(file);
    }
    cmd.arg("-o").arg(out);
    cmd.output().expect("kaspire runs")
}

/// Publishes `yaml` and returns the manifest; panics with stderr when publish fails.
fn publish_yaml(yaml: &str) -> (Value, String) {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(&app, yaml).unwrap();
    let out = dir.path().join("manifest.json");
    let output = publish(&[&app], &out);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "publish failed: {stderr}");
    (read_json(&out), stderr)
}

/// Publishes `yaml`, expects failure, and returns stderr; no manifest may be written.
fn publish_fails(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("app.yaml");
    std::fs::write(&app, yaml).unwrap();
    let out = dir.path().join("manifest.json");
    let output = publish(&[&app], &out);
    assert!(!output.status.success(), "publish should fail");
    assert!(!out.exists(), "no manifest is written on failure");
    String::from_utf8_lossy(&output.stderr).replace(&*app.to_string_lossy(), "app.yaml")
}

#[test]
fn the_validator_accepts_aspires_own_manifests_and_rejects_a_broken_one() {
    let dir = shared_data("aspire-manifests");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let errors = schema_errors(&read_json(&path));
        assert!(errors.is_empty(), "{}: {errors:?}", path.display());
        checked += 1;
    }
    assert!(checked >= 10);
    let broken = json!({"resources": {"x": {"type": "executable.v0", "command": "dotnet"}}});
    assert!(!schema_errors(&broken).is_empty());
}

#[test]
fn the_example_app_publishes_as_a_valid_aspire_manifest() {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/app.yaml");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("aspire-manifest.json");
    let output = publish(&[&example], &out);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("(5 resources)"));
    let manifest = read_json(&out);
    assert_eq!(schema_errors(&manifest), Vec::<String>::new());

    let resources = &manifest["resources"];
    assert_eq!(
        resources["api-key"],
        json!({
            "type": "parameter.v0",
            "value": "{api-key.inputs.value}",
            "inputs": {"value": {"type": "string", "secret": true,
                                 "default": {"generate": {"minLength": 24}}}}
        })
    );
    assert_eq!(
        resources["api"],
        json!({
            "type": "executable.v0",
            "workingDirectory": "services",
            "command": "python3",
            "args": ["-u", "http_service.py", "api"],
            "env": {"PORT": "{api.bindings.http.targetPort}", "API_KEY": "{api-key.value}"},
            "bindings": {"http": {"scheme": "http", "protocol": "tcp", "transport": "http"}}
        })
    );
    assert_eq!(
        resources["worker"]["env"],
        json!({
            "API_HTTP": "{api.bindings.http.url}",
            "services__api__http__0": "{api.bindings.http.url}"
        })
    );
    assert_eq!(resources["migrate"]["workingDirectory"], ".");
}

const FOUR_KINDS: &str = r#"
apiVersion: kaspire.dev/v1alpha1
kind: Parameter
metadata: {name: pg-password}
spec: {secret: true, generate: {length: 22, special: false}}
---
apiVersion: kaspire.dev/v1alpha1
kind: Parameter
metadata: {name: region}
spec: {value: eu-west, description: Where the app runs}
---
apiVersion: kaspire.dev/v1alpha1
kind: Parameter
metadata: {name: openai}
spec: {fromEnv: OPENAI_CONNECTION}
---
apiVersion: kaspire.dev/v1alpha1
kind: Container
metadata: {name: pg}
spec:
  image: docker.io/library/postgres:17
  env:
    - {name: POSTGRES_PASSWORD, value: "{pg-password.value}"}
  endpoints:
    - {name: tcp, scheme: tcp, targetPort: 5432}
  volumes:
    - {type: volume, source: pgdata, target: /var/lib/postgresql/data}
    - {type: bind, source: ./init, target: /docker-entrypoint-initdb.d, readOnly: true}
  connectionString: "Host={pg.endpoints.tcp.host};Port={pg.endpoints.tcp.port};Username=postgres;Password={pg-password.value}"
---
apiVersion: kaspire.dev/v1alpha1
kind: Value
metadata: {name: appdata}
spec:
  parent: {name: pg}
  connectionString: "{pg.connectionString};Database=appdata"
---
apiVersion: kaspire.dev/v1alpha1
kind: Executable
metadata: {name: api}
spec:
  command: dotnet
  args: [run, --urls, "{api.endpoints.http.url}", "--json={{\"region\": \"{region.value}\"}}"]
  workingDir: ./src/Api
  endpoints:
    - {name: http, scheme: http, env: PORT}
    - {name: metrics, scheme: http, port: 9464, targetPort: 9090, external: true}
  references: [appdata, openai]
  env:
    - {name: DB_ADDRESS, value: "{pg.endpoints.tcp.hostAndPort}"}
    - {name: EMPTY}
---
apiVersion: kaspire.dev/v1alpha1
kind: Container
metadata: {name: web}
spec:
  image: nginx:1.27
  entrypoint: /docker-entrypoint.sh
  args: [nginx, -g, "daemon off;"]
  endpoints:
    - {name: http, scheme: http, port: 8080, targetPort: 80}
  references: [api, pg]
---
apiVersion: v1
kind: Secret
metadata: {name: extra}
stringData: {a: b}
"#;

#[test]
fn all_four_kinds_publish_as_aspire_writes_them() {
    let (manifest, stderr) = publish_yaml(FOUR_KINDS);
    assert_eq!(schema_errors(&manifest), Vec::<String>::new());
    assert!(
        stderr.contains("Secret \"extra\" (v1) has no Aspire equivalent"),
        "{stderr}"
    );
    let expected = json!({"resources": {
        "pg-password": {
            "type": "parameter.v0",
            "value": "{pg-password.inputs.value}",
            "inputs": {"value": {"type": "string", "secret": true,
                                 "default": {"generate": {"minLength": 22, "special": false}}}}
        },
        "region": {
            "type": "parameter.v0",
            "value": "{region.inputs.value}",
            "inputs": {"value": {"type": "string", "default": {"value": "eu-west"}}}
        },
        "openai": {
            "type": "parameter.v0",
            "connectionString": "{openai.value}",
            "value": "{openai.inputs.value}",
            "inputs": {"value": {"type": "string"}}
        },
        "pg": {
            "type": "container.v0",
            "connectionString": "Host={pg.bindings.tcp.host};Port={pg.bindings.tcp.port};Username=postgres;Password={pg-password.value}",
            "image": "docker.io/library/postgres:17",
            "bindMounts": [{"source": "./init", "target": "/docker-entrypoint-initdb.d", "readOnly": true}],
            "volumes": [{"name": "pgdata", "target": "/var/lib/postgresql/data", "readOnly": false}],
            "env": {"POSTGRES_PASSWORD": "{pg-password.value}"},
            "bindings": {"tcp": {"scheme": "tcp", "protocol": "tcp", "transport": "tcp", "targetPort": 5432}}
        },
        "appdata": {
            "type": "value.v0",
            "connectionString": "{pg.connectionString};Database=appdata"
        },
        "api": {
            "type": "executable.v0",
            "workingDirectory": "./src/Api",
            "command": "dotnet",
            "args": ["run", "--urls", "{api.bindings.http.url}", "--json={{\"region\": \"{region.value}\"}}"],
            "env": {
                "PORT": "{api.bindings.http.targetPort}",
                "ConnectionStrings__appdata": "{appdata.connectionString}",
                "ConnectionStrings__openai": "{openai.connectionString}",
                "DB_ADDRESS": "{pg.bindings.tcp.host}:{pg.bindings.tcp.port}",
                "EMPTY": ""
            },
            "bindings": {
                "http": {"scheme": "http", "protocol": "tcp", "transport": "http"},
                "metrics": {"scheme": "http", "protocol": "tcp", "transport": "http",
                            "port": 9464, "targetPort": 9090, "external": true}
            }
        },
        "web": {
            "type": "container.v0",
            "image": "nginx:1.27",
            "entrypoint": "/docker-entrypoint.sh",
            "args": ["nginx", "-g", "daemon off;"],
            "env": {
                "API_HTTP": "{api.bindings.http.url}",
                "services__api__http__0": "{api.bindings.http.url}",
                "API_METRICS": "{api.bindings.metrics.url}",
                "services__api__http__1": "{api.bindings.metrics.url}",
                "ConnectionStrings__pg": "{pg.connectionString}"
            },
            "bindings": {"http": {"scheme": "http", "protocol": "tcp", "transport": "http",
                                  "port": 8080, "targetPort": 80}}
        }
    }});
    assert_eq!(manifest, expected);
    // Field order follows Aspire's writer: type and connectionString first.
    let pg_keys: Vec<_> = manifest["resources"]["pg"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(
        pg_keys,
        [
            "type",
            "connectionString",
            "image",
            "bindMounts",
            "volumes",
            "env",
            "bindings"
        ]
    );
}

#[test]
fn an_unparsable_expression_names_file_resource_field_and_position() {
    let stderr = publish_fails(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: api}\n\
         spec:\n  command: x\n  endpoints: [{name: http}]\n  \
         env: [{name: SELF, value: \"url={api.endpoints.http.prot}\"}]\n",
    );
    assert!(
        stderr.contains(
            "app.yaml (document 1): Executable \"api\": spec.env[SELF].value: at column 25: \
             unknown property `prot` of endpoint `http`; expected url, host, port, targetPort, \
             scheme or hostAndPort"
        ),
        "{stderr}"
    );
}

#[test]
fn expressions_naming_what_the_app_lacks_are_rejected() {
    let head = "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: api}\nspec:\n  command: x\n";
    let cases = [
        (
            "  args: [\"{nope.value}\"]\n",
            "spec.args[0]: {nope.value}: the app has no resource `nope`",
        ),
        (
            "  args: [\"{api.endpoints.grpc.url}\"]\n",
            "spec.args[0]: {api.endpoints.grpc.url}: Executable `api` has no endpoint `grpc`",
        ),
        (
            "  args: [\"{api.value}\"]\n",
            "spec.args[0]: {api.value}: `api` is an Executable; only Parameters have a value",
        ),
        (
            "  references: [db]\n",
            "spec.references[0]: the app has no resource `db`",
        ),
        (
            "  args: [\"50}%\"]\n",
            "spec.args[0]: at column 3: unexpected `}`",
        ),
    ];
    for (spec, message) in cases {
        let stderr = publish_fails(&format!("{head}{spec}"));
        assert!(
            stderr.contains(&format!("Executable \"api\": {message}")),
            "{stderr}"
        );
    }
}

#[test]
fn bad_documents_are_named() {
    let stderr = publish_fails(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: api}\nspec: {args: [x]}\n",
    );
    assert!(
        stderr.contains("app.yaml (document 1): Executable \"api\": spec: missing field `command`"),
        "{stderr}"
    );
    let stderr = publish_fails(
        "apiVersion: kaspire.dev/v1alpha1\nkind: Parameter\nmetadata: {name: a}\n---\n\
         apiVersion: kaspire.dev/v1alpha1\nkind: Value\nmetadata: {name: a}\n",
    );
    assert!(stderr.contains("app.yaml (document 2): a resource named \"a\" is already defined in app.yaml (document 1)"), "{stderr}");
}
