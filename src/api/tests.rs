//! Tests of the generated CRDs: names, columns, defaults and enum spellings.

use serde_json::{Value as Json, json};

use super::*;

fn crd_named(plural: &str) -> CustomResourceDefinition {
    crds()
        .into_iter()
        .find(|crd| crd.spec.names.plural == plural)
        .unwrap_or_else(|| panic!("no CRD for {plural}"))
}

/// The OpenAPI schema of `plural`, as JSON.
fn schema(plural: &str) -> Json {
    let crd = crd_named(plural);
    let version = &crd.spec.versions[0];
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema.expect("schema")).unwrap()
}

/// The subschema at a dotted path of property names; `[]` steps into array items.
fn at<'a>(schema: &'a Json, path: &str) -> &'a Json {
    path.split('.').fold(schema, |node, step| {
        let node = match step.strip_suffix("[]") {
            Some(name) => &node["properties"][name]["items"],
            None => &node["properties"][step],
        };
        assert!(!node.is_null(), "no schema at {path} (step {step})");
        node
    })
}

#[test]
fn crds_come_in_a_stable_order() {
    let kinds: Vec<_> = crds().into_iter().map(|c| c.spec.names.kind).collect();
    assert_eq!(kinds, ["Executable", "Container", "Parameter", "Value"]);
}

#[test]
fn every_crd_is_namespaced_with_short_name_categories_and_status() {
    for (plural, short) in [
        ("executables", "exe"),
        ("containers", "ctr"),
        ("parameters", "param"),
        ("values", "val"),
    ] {
        let crd = crd_named(plural);
        assert_eq!(crd.spec.group, GROUP);
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(crd.spec.names.short_names, Some(vec![short.to_owned()]));
        assert_eq!(
            crd.spec.names.categories,
            Some(vec!["kaspire".to_owned(), "all".to_owned()])
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, VERSION);
        assert!(version.served && version.storage);
        assert!(
            version
                .subresources
                .as_ref()
                .and_then(|s| s.status.as_ref())
                .is_some(),
            "{plural}: status subresource"
        );
    }
}

#[test]
fn printer_columns_make_kubectl_get_useful() {
    let columns = |plural: &str| -> Vec<(String, String)> {
        crd_named(plural).spec.versions[0]
            .additional_printer_columns
            .clone()
            .unwrap_or_default()
            .into_iter()
            .filter(|c| c.priority.unwrap_or(0) == 0)
            .map(|c| (c.name, c.json_path))
            .collect()
    };
    let age = ("Age".to_owned(), ".metadata.creationTimestamp".to_owned());
    for plural in ["executables", "containers"] {
        let cols = columns(plural);
        assert_eq!(cols[0], ("State".to_owned(), ".status.state".to_owned()));
        assert_eq!(cols[1], ("Health".to_owned(), ".status.health".to_owned()));
        assert_eq!(
            cols[2],
            ("URL".to_owned(), ".status.endpoints[0].url".to_owned())
        );
        assert_eq!(cols.last(), Some(&age));
    }
    assert_eq!(
        columns("parameters")[1],
        ("Secret".to_owned(), ".spec.secret".to_owned())
    );
    assert_eq!(
        columns("values")[1],
        ("Parent".to_owned(), ".spec.parent.name".to_owned())
    );
    let age_type = crd_named("values").spec.versions[0]
        .additional_printer_columns
        .clone()
        .unwrap();
    assert_eq!(age_type.last().unwrap().type_, "date");
}

#[test]
fn schema_carries_the_documented_defaults() {
    for plural in ["executables", "containers"] {
        let s = schema(plural);
        let expect = [
            ("spec.replicas", json!(1)),
            ("spec.restartPolicy", json!("Never")),
            ("spec.restartBackoff.initialSeconds", json!(1)),
            ("spec.restartBackoff.maxSeconds", json!(60)),
            (
                "spec.restartBackoff",
                json!({"initialSeconds": 1, "maxSeconds": 60}),
            ),
            (
                "spec.shutdown",
                json!({"signal": "SIGTERM", "timeoutSeconds": 10}),
            ),
            ("spec.shutdown.signal", json!("SIGTERM")),
            ("spec.shutdown.timeoutSeconds", json!(10)),
            ("spec.lifetime", json!("Session")),
            ("spec.endpoints[].proxied", json!(true)),
            ("spec.waitFor[].condition", json!("Ready")),
            (
                "spec.waitFor[].waitBehavior",
                json!("StopOnResourceUnavailable"),
            ),
            ("spec.healthChecks[].type", json!("readiness")),
            ("spec.healthChecks[].periodSeconds", json!(5)),
            ("spec.healthChecks[].failureThreshold", json!(3)),
            ("spec.healthChecks[].successThreshold", json!(1)),
        ];
        for (path, value) in expect {
            assert_eq!(
                at(&s, path)["default"],
                value,
                "{plural}: default of {path}"
            );
        }
    }
    assert_eq!(
        at(&schema("containers"), "spec.pullPolicy")["default"],
        json!("IfNotPresent")
    );
}

#[test]
fn enums_use_the_product_spellings() {
    let enum_of = |plural: &str, path: &str| -> Vec<String> {
        let s = schema(plural);
        at(&s, path)["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("{path} is not an enum"))
            .iter()
            .map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{path}: non-string enum value {v}"))
                    .to_owned()
            })
            .collect()
    };
    let states = [
        "Unknown",
        "NotStarted",
        "Waiting",
        "Starting",
        "Running",
        "RuntimeUnhealthy",
        "Stopping",
        "Finished",
        "Exited",
        "FailedToStart",
    ];
    assert_eq!(enum_of("executables", "status.state"), states);
    assert_eq!(enum_of("containers", "status.replicas[].state"), states);
    assert_eq!(enum_of("parameters", "status.state"), states);
    assert_eq!(enum_of("values", "status.state"), states);
    assert_eq!(
        enum_of("executables", "status.health"),
        ["Unknown", "Healthy", "Unhealthy"]
    );
    assert_eq!(
        enum_of("executables", "status.conditions[].status"),
        ["True", "False", "Unknown"]
    );
    assert_eq!(
        enum_of("executables", "spec.restartPolicy"),
        ["Never", "OnFailure", "Always"]
    );
    assert_eq!(
        enum_of("executables", "spec.lifetime"),
        ["Session", "Persistent"]
    );
    assert_eq!(
        enum_of("executables", "spec.waitFor[].condition"),
        ["Ready", "Started", "Completed"]
    );
    assert_eq!(
        enum_of("executables", "spec.waitFor[].waitBehavior"),
        ["StopOnResourceUnavailable", "WaitOnResourceUnavailable"]
    );
    assert_eq!(
        enum_of("containers", "spec.pullPolicy"),
        ["IfNotPresent", "Always", "Never"]
    );
    assert_eq!(
        enum_of("executables", "spec.healthChecks[].type"),
        ["readiness", "liveness"]
    );
    assert_eq!(
        enum_of("containers", "spec.endpoints[].scheme"),
        ["http", "https", "tcp", "udp"]
    );
    assert_eq!(
        enum_of("containers", "spec.volumes[].type"),
        ["bind", "volume"]
    );
}

#[test]
fn command_and_image_are_required() {
    assert_eq!(
        schema("executables")["properties"]["spec"]["required"],
        json!(["command"])
    );
    assert_eq!(
        schema("containers")["properties"]["spec"]["required"],
        json!(["image"])
    );
}

#[test]
fn times_in_status_are_date_time_strings() {
    let s = schema("executables");
    for path in [
        "status.startedAt",
        "status.finishedAt",
        "status.nextRestartAt",
        "status.conditions[].lastTransitionTime",
    ] {
        assert_eq!(at(&s, path)["type"], "string", "{path}");
        assert_eq!(at(&s, path)["format"], "date-time", "{path}");
    }
}

/// Kubernetes rejects non-structural schemas: no `oneOf`/`anyOf`/`allOf` carrying types,
/// no `$ref`, and every node typed (or explicitly preserving unknown fields).
#[test]
fn schemas_are_structural() {
    fn check(node: &Json, path: &str) {
        let Some(obj) = node.as_object() else { return };
        for banned in [
            "$ref",
            "oneOf",
            "anyOf",
            "allOf",
            "not",
            "definitions",
            "$defs",
        ] {
            assert!(!obj.contains_key(banned), "{path} uses {banned}");
        }
        assert!(
            obj.contains_key("type") || obj.contains_key("x-kubernetes-preserve-unknown-fields"),
            "{path} has no type"
        );
        for (name, child) in obj
            .get("properties")
            .and_then(Json::as_object)
            .into_iter()
            .flatten()
        {
            check(child, &format!("{path}.{name}"));
        }
        for key in ["items", "additionalProperties"] {
            if let Some(child) = obj.get(key).filter(|c| c.is_object()) {
                check(child, &format!("{path}.{key}"));
            }
        }
    }
    for crd in crds() {
        check(&schema(&crd.spec.names.plural), &crd.spec.names.plural);
    }
}

#[test]
fn crd_files_are_named_by_crd_and_parse_back() {
    let files = crd_files();
    let names: Vec<_> = files.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "executables.kaspire.dev.yaml",
            "containers.kaspire.dev.yaml",
            "parameters.kaspire.dev.yaml",
            "values.kaspire.dev.yaml"
        ]
    );
    for ((name, text), crd) in files.iter().zip(crds()) {
        assert!(text.starts_with(CRD_FILE_HEADER), "{name}: header");
        let parsed: CustomResourceDefinition = serde_saphyr::from_str(text)
            .unwrap_or_else(|e| panic!("{name} is not valid YAML: {e}"));
        assert_eq!(parsed, crd, "{name} does not round-trip");
    }
}
