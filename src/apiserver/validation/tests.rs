use super::*;
use serde_json::json;

/// Shaped like `#[derive(CustomResource)]` output (kube 5, schemars 1): `Option` fields are
/// `nullable`, `Option<Enum>` lists `null` among its values, data-carrying enums hoist their
/// variants into `properties` plus `oneOf`/`anyOf` of `required`, maps use `additionalProperties`.
fn derived_schema() -> Value {
    json!({
        "description": "Auto-generated derived type for ExecutableSpec via `CustomResource`",
        "type": "object",
        "title": "Executable",
        "required": ["spec"],
        "properties": {
            "spec": {
                "type": "object",
                "required": ["command", "healthChecks", "mode", "port"],
                "properties": {
                    "command": {"type": "string"},
                    "args": {"type": "array", "default": [], "items": {"type": "string"}},
                    "env": {
                        "type": "array", "nullable": true,
                        "items": {
                            "type": "object", "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "value": {"type": "string", "nullable": true}
                            }
                        }
                    },
                    "replicas": {"type": "integer", "format": "int32", "nullable": true},
                    "port": {"type": "integer", "format": "uint16", "minimum": 0.0, "maximum": 65535.0},
                    "restart": {"type": "string", "nullable": true, "enum": ["Never", "OnFailure", "Always", null]},
                    "mode": {"type": "string", "description": "Doc", "enum": ["Process", "Container"]},
                    "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                    "healthChecks": {
                        "type": "array",
                        "items": {
                            "type": "object", "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "periodSeconds": {"type": "integer", "format": "int64", "nullable": true},
                                "http": {
                                    "type": "object", "nullable": true, "required": ["path"],
                                    "properties": {"path": {"type": "string"}}
                                }
                            }
                        }
                    },
                    "source": {
                        "type": "object", "nullable": true,
                        "oneOf": [{"required": ["git"]}, {"required": ["path"]}],
                        "properties": {
                            "git": {"type": "object", "required": ["url"], "properties": {"url": {"type": "string"}}},
                            "path": {"type": "string"}
                        }
                    },
                    "untagged": {
                        "type": "object", "nullable": true,
                        "anyOf": [{"required": ["a"]}, {"required": ["b"]}],
                        "properties": {"a": {"type": "string"}, "b": {"type": "integer", "format": "int32"}}
                    },
                    "quantity": {"x-kubernetes-int-or-string": true, "nullable": true},
                    "when": {"type": "string", "format": "date-time", "nullable": true},
                    "timeout": {"type": "integer", "format": "uint32", "minimum": 0.0, "default": 30}
                }
            },
            "status": {
                "type": "object", "nullable": true,
                "properties": {
                    "state": {"type": "string", "nullable": true},
                    "pid": {"type": "integer", "format": "uint32", "minimum": 0.0, "nullable": true}
                }
            }
        }
    })
}

fn executable(spec: Value) -> Value {
    json!({
        "apiVersion": "kaspire.dev/v1alpha1",
        "kind": "Executable",
        "metadata": {"name": "api", "namespace": "default", "labels": {"app": "api"}},
        "spec": spec
    })
}

fn minimal_spec() -> Value {
    json!({"command": "dotnet", "healthChecks": [], "mode": "Process", "port": 8080})
}

fn run(schema: &Value, mut obj: Value) -> (Value, SchemaOutcome) {
    let outcome = validate(schema, &mut obj);
    (obj, outcome)
}

fn messages(outcome: &SchemaOutcome) -> Vec<String> {
    outcome
        .causes
        .iter()
        .map(|c| format!("{} {}: {}", c.reason, c.field, c.message))
        .collect()
}

#[test]
fn valid_object_passes_and_gets_defaults() {
    let (obj, outcome) = run(&derived_schema(), executable(minimal_spec()));
    assert_eq!(outcome, SchemaOutcome::default());
    assert_eq!(obj["spec"]["args"], json!([]));
    assert_eq!(obj["spec"]["timeout"], json!(30));
}

#[test]
fn root_type_meta_and_metadata_are_never_pruned_or_inspected() {
    let mut obj = executable(minimal_spec());
    obj["metadata"]["anything"] = json!({"deep": true});
    let (obj, outcome) = run(&derived_schema(), obj);
    assert!(outcome.unknown_fields.is_empty());
    assert_eq!(obj["metadata"]["anything"], json!({"deep": true}));
    assert_eq!(obj["kind"], json!("Executable"));
}

#[test]
fn unknown_fields_are_pruned_and_reported_with_list_indexes() {
    let mut spec = minimal_spec();
    spec["foo"] = json!(1);
    spec["env"] = json!([{"name": "A", "bogus": true}]);
    let mut obj = executable(spec);
    obj["extra"] = json!("x");
    let (obj, outcome) = run(&derived_schema(), obj);
    assert_eq!(
        outcome.unknown_fields,
        vec!["spec.foo", "spec.env[0].bogus", "extra"]
    );
    assert!(outcome.causes.is_empty());
    assert_eq!(obj["spec"]["env"], json!([{"name": "A"}]));
    assert!(obj.get("extra").is_none());
}

#[test]
fn type_errors_use_kubernetes_wording() {
    let mut spec = minimal_spec();
    spec["replicas"] = json!("string");
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(
        outcome.causes,
        vec![Cause::new(
            "FieldValueTypeInvalid",
            "spec.replicas",
            r#"Invalid value: "string": spec.replicas in body must be of type integer: "string""#
        )]
    );
}

#[test]
fn integers_reject_fractions_but_normalise_whole_floats() {
    let mut spec = minimal_spec();
    spec["replicas"] = json!(1.5);
    spec["timeout"] = json!(10.0);
    let (obj, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(
        messages(&outcome),
        vec![
            r#"FieldValueTypeInvalid spec.replicas: Invalid value: "number": spec.replicas in body must be of type integer: "number""#
        ]
    );
    assert!(obj["spec"]["timeout"].is_u64());
}

#[test]
fn numbers_accept_integers() {
    let schema = json!({"type": "object", "properties": {"spec": {"type": "object", "properties": {"ratio": {"type": "number"}}}}});
    let (_, outcome) = run(&schema, json!({"spec": {"ratio": 2}}));
    assert!(outcome.causes.is_empty());
}

#[test]
fn missing_required_fields_are_reported_at_their_path() {
    let spec = json!({"healthChecks": [{"periodSeconds": 5}], "mode": "Process", "port": 1});
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueRequired spec.healthChecks[0].name: Required value",
            "FieldValueRequired spec.command: Required value",
        ]
    );
    let (_, outcome) = run(
        &derived_schema(),
        json!({"apiVersion": "v", "kind": "K", "metadata": {}}),
    );
    assert_eq!(
        messages(&outcome),
        vec!["FieldValueRequired spec: Required value"]
    );
}

#[test]
fn enum_violations_list_supported_values() {
    let mut spec = minimal_spec();
    spec["restart"] = json!("Sometimes");
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(
        messages(&outcome),
        vec![
            r#"FieldValueNotSupported spec.restart: Unsupported value: "Sometimes": supported values: "Never", "OnFailure", "Always""#
        ]
    );
}

#[test]
fn nullable_fields_keep_null() {
    let mut spec = minimal_spec();
    spec["restart"] = Value::Null;
    spec["env"] = Value::Null;
    spec["source"] = Value::Null;
    let (obj, outcome) = run(&derived_schema(), executable(spec));
    assert!(outcome.causes.is_empty(), "{:?}", outcome.causes);
    assert!(obj["spec"]["restart"].is_null() && obj["spec"].get("restart").is_some());
}

#[test]
fn null_in_non_nullable_field_takes_the_default_or_is_dropped() {
    let mut spec = minimal_spec();
    spec["timeout"] = Value::Null;
    spec["labels"] = Value::Null;
    let (obj, outcome) = run(&derived_schema(), executable(spec));
    assert!(outcome.causes.is_empty() && outcome.unknown_fields.is_empty());
    assert_eq!(obj["spec"]["timeout"], json!(30));
    assert!(obj["spec"].get("labels").is_none());
}

#[test]
fn null_list_item_is_a_type_error() {
    let mut spec = minimal_spec();
    spec["args"] = json!(["a", null]);
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(outcome.causes[0].field, "spec.args[1]");
    assert_eq!(outcome.causes[0].reason, "FieldValueTypeInvalid");
}

#[test]
fn maps_validate_every_value_against_additional_properties() {
    let mut spec = minimal_spec();
    spec["labels"] = json!({"tier": "web", "count": 3});
    let (obj, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(outcome.causes[0].field, "spec.labels.count");
    assert_eq!(obj["spec"]["labels"]["tier"], json!("web"));
}

#[test]
fn one_of_requires_exactly_one_variant() {
    let mut spec = minimal_spec();
    spec["source"] = json!({"git": {"url": "https://x"}});
    assert!(
        run(&derived_schema(), executable(spec.clone()))
            .1
            .causes
            .is_empty()
    );

    spec["source"] = json!({"git": {"url": "https://x"}, "path": "/src"});
    let (_, outcome) = run(&derived_schema(), executable(spec.clone()));
    assert_eq!(outcome.causes.len(), 1);
    assert!(outcome.causes[0].message.ends_with(
        "spec.source in body must validate one and only one schema (oneOf). Found 2 valid alternatives"
    ));

    spec["source"] = json!({});
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert!(outcome.causes[0].message.ends_with("Found none valid"));
}

#[test]
fn any_of_requires_at_least_one_variant() {
    let mut spec = minimal_spec();
    spec["untagged"] = json!({"b": 2});
    assert!(
        run(&derived_schema(), executable(spec.clone()))
            .1
            .causes
            .is_empty()
    );
    spec["untagged"] = json!({});
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(outcome.causes[0].field, "spec.untagged");
    assert!(
        outcome.causes[0]
            .message
            .contains("must validate at least one schema (anyOf)")
    );
}

#[test]
fn composition_subschemas_do_not_prune() {
    let mut spec = minimal_spec();
    spec["source"] = json!({"path": "/src"});
    let (obj, outcome) = run(&derived_schema(), executable(spec));
    assert!(outcome.unknown_fields.is_empty());
    assert_eq!(obj["spec"]["source"], json!({"path": "/src"}));
}

#[test]
fn int_or_string_accepts_both_and_nothing_else() {
    let mut spec = minimal_spec();
    spec["quantity"] = json!("500m");
    assert!(
        run(&derived_schema(), executable(spec.clone()))
            .1
            .causes
            .is_empty()
    );
    spec["quantity"] = json!(2);
    assert!(
        run(&derived_schema(), executable(spec.clone()))
            .1
            .causes
            .is_empty()
    );
    spec["quantity"] = json!(true);
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(outcome.causes[0].reason, "FieldValueTypeInvalid");
}

#[test]
fn formats_and_bounds_are_checked() {
    let mut spec = minimal_spec();
    spec["port"] = json!(70000);
    spec["replicas"] = json!(3_000_000_000_i64);
    spec["when"] = json!("yesterday");
    let (_, outcome) = run(&derived_schema(), executable(spec));
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueInvalid spec.port: Invalid value: 70000: spec.port in body should be less than or equal to 65535",
            "FieldValueInvalid spec.replicas: Invalid value: 3000000000: spec.replicas in body should be less than or equal to 2147483647",
            r#"FieldValueInvalid spec.when: Invalid value: "yesterday": spec.when in body must be of type date-time: "yesterday""#,
        ]
    );
    let mut spec = minimal_spec();
    spec["when"] = json!("2024-05-01T10:00:00Z");
    assert!(run(&derived_schema(), executable(spec)).1.causes.is_empty());
}

/// A hand-written CRD schema using the keywords CRD authors write by hand.
fn handwritten_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "name": {"type": "string", "minLength": 2, "maxLength": 5},
                    "tags": {"type": "array", "minItems": 1, "maxItems": 2, "items": {"type": "string"}},
                    "config": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "settings": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": true,
                        "properties": {"level": {"type": "integer", "minimum": 1, "exclusiveMaximum": true, "maximum": 10}}
                    },
                    "template": {"type": "object", "x-kubernetes-embedded-resource": true, "x-kubernetes-preserve-unknown-fields": true},
                    "probe": {
                        "type": "object",
                        "default": {},
                        "properties": {
                            "periodSeconds": {"type": "integer", "default": 10},
                            "http": {"type": "object", "properties": {"port": {"type": "integer", "default": 80}}}
                        }
                    },
                    "closed": {"type": "object", "additionalProperties": false, "properties": {"a": {"type": "string"}}},
                    "open": {"type": "object", "additionalProperties": true},
                    "bare": {"type": "object"},
                    "anything": {"x-kubernetes-preserve-unknown-fields": true},
                    "allOf": {"type": "integer", "allOf": [{"minimum": 0}, {"maximum": 3}]}
                }
            }
        }
    })
}

#[test]
fn string_and_array_bounds_use_kubernetes_reasons() {
    let obj = json!({"spec": {"name": "toolong", "tags": ["a", "b", "c"]}});
    let (_, outcome) = run(&handwritten_schema(), obj);
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueTooLong spec.name: Too long: may not be more than 5 bytes",
            "FieldValueTooMany spec.tags: Too many: 3: must have at most 2 items",
        ]
    );
    let (_, outcome) = run(
        &handwritten_schema(),
        json!({"spec": {"name": "a", "tags": []}}),
    );
    assert_eq!(
        messages(&outcome),
        vec![
            r#"FieldValueInvalid spec.name: Invalid value: "a": spec.name in body should be at least 2 chars long"#,
            "FieldValueInvalid spec.tags: Invalid value: []: spec.tags in body should have at least 1 items",
        ]
    );
}

#[test]
fn preserve_unknown_fields_keeps_unknown_but_checks_known() {
    let obj = json!({"spec": {
        "config": {"x": {"y": [1, 2]}},
        "settings": {"level": 10, "other": "kept"},
        "anything": [1, "two"],
        "open": {"k": {"v": 1}}
    }});
    let (obj, outcome) = run(&handwritten_schema(), obj);
    assert!(outcome.unknown_fields.is_empty());
    assert_eq!(obj["spec"]["config"], json!({"x": {"y": [1, 2]}}));
    assert_eq!(obj["spec"]["settings"]["other"], json!("kept"));
    assert_eq!(obj["spec"]["open"], json!({"k": {"v": 1}}));
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueInvalid spec.settings.level: Invalid value: 10: spec.settings.level in body should be less than 10"
        ]
    );
}

#[test]
fn objects_without_properties_or_preserve_are_emptied() {
    let obj = json!({"spec": {"bare": {"x": 1}, "closed": {"a": "ok", "b": 1}}});
    let (obj, outcome) = run(&handwritten_schema(), obj);
    assert_eq!(outcome.unknown_fields, vec!["spec.bare.x", "spec.closed.b"]);
    assert_eq!(obj["spec"]["bare"], json!({}));
}

#[test]
fn defaults_apply_into_inserted_defaults_but_not_into_absent_parents() {
    let (obj, _) = run(&handwritten_schema(), json!({"spec": {}}));
    assert_eq!(obj["spec"]["probe"], json!({"periodSeconds": 10}));
    let (obj, _) = run(
        &handwritten_schema(),
        json!({"spec": {"probe": {"http": {}}}}),
    );
    assert_eq!(
        obj["spec"]["probe"],
        json!({"http": {"port": 80}, "periodSeconds": 10})
    );
    let (obj, _) = run(&handwritten_schema(), json!({}));
    assert_eq!(obj, json!({}));
}

#[test]
fn embedded_resources_need_api_version_and_kind() {
    let obj = json!({"spec": {"template": {"metadata": {"name": "x"}, "spec": {"a": 1}}}});
    let (obj, outcome) = run(&handwritten_schema(), obj);
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueRequired spec.template.apiVersion: Required value: must not be empty",
            "FieldValueRequired spec.template.kind: Required value: must not be empty",
        ]
    );
    assert_eq!(obj["spec"]["template"]["metadata"], json!({"name": "x"}));
    let obj = json!({"spec": {"template": {"apiVersion": "v1", "kind": "Pod"}}});
    assert!(run(&handwritten_schema(), obj).1.causes.is_empty());
}

#[test]
fn all_of_reports_each_failing_subschema() {
    let (_, outcome) = run(&handwritten_schema(), json!({"spec": {"allOf": 5}}));
    assert_eq!(
        messages(&outcome),
        vec![
            "FieldValueInvalid spec.allOf: Invalid value: 5: spec.allOf in body should be less than or equal to 3"
        ]
    );
}

#[test]
fn wrong_type_stops_descent() {
    let (obj, outcome) = run(
        &derived_schema(),
        executable(json!(["not", "an", "object"])),
    );
    assert_eq!(
        messages(&outcome),
        vec![
            r#"FieldValueTypeInvalid spec: Invalid value: "array": spec in body must be of type object: "array""#
        ]
    );
    assert_eq!(obj["spec"], json!(["not", "an", "object"]));
}
