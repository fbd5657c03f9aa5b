use super::*;
use serde_json::json;

const V: &str = "kaspire.dev/v1alpha1";

fn req<'a>(manager: &'a str, now: &'a str) -> ApplyRequest<'a> {
    ApplyRequest {
        manager,
        subresource: None,
        force: false,
        api_version: V,
        now,
    }
}

fn config(spec: Value) -> Value {
    json!({"apiVersion": V, "kind": "Executable", "metadata": {"name": "api"}, "spec": spec})
}

fn managed(obj: &Value) -> Vec<Value> {
    obj["metadata"]["managedFields"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn fields_of(obj: &Value, manager: &str, operation: &str) -> Value {
    managed(obj)
        .into_iter()
        .find(|e| e["manager"] == manager && e["operation"] == operation)
        .map(|e| e["fieldsV1"].clone())
        .unwrap_or(Value::Null)
}

#[test]
fn create_records_one_apply_entry() {
    let obj = apply(
        None,
        &config(json!({"replicas": 2, "args": ["a"]})),
        &req("kubectl", "t1"),
    )
    .unwrap();
    assert_eq!(obj["spec"], json!({"replicas": 2, "args": ["a"]}));
    assert_eq!(
        managed(&obj),
        vec![json!({
            "manager": "kubectl", "operation": "Apply", "apiVersion": V, "time": "t1",
            "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:args": {}, "f:replicas": {}}}
        })]
    );
}

#[test]
fn reapplying_the_same_config_changes_nothing() {
    let cfg = config(json!({"replicas": 2}));
    let first = apply(None, &cfg, &req("kubectl", "t1")).unwrap();
    let second = apply(Some(&first), &cfg, &req("kubectl", "t2")).unwrap();
    assert_eq!(first, second);
}

#[test]
fn omitting_a_field_removes_it() {
    let first = apply(
        None,
        &config(json!({"replicas": 2, "command": "x"})),
        &req("kubectl", "t1"),
    )
    .unwrap();
    let second = apply(
        Some(&first),
        &config(json!({"command": "x"})),
        &req("kubectl", "t2"),
    )
    .unwrap();
    assert_eq!(second["spec"], json!({"command": "x"}));
    assert_eq!(
        fields_of(&second, "kubectl", "Apply"),
        json!({"f:spec": {"f:command": {}}})
    );
    assert_eq!(managed(&second)[0]["time"], "t2");
}

#[test]
fn applying_null_deletes_the_field() {
    let first = apply(
        None,
        &config(json!({"replicas": 2, "command": "x"})),
        &req("kubectl", "t1"),
    )
    .unwrap();
    let second = apply(
        Some(&first),
        &config(json!({"replicas": null, "command": "x"})),
        &req("kubectl", "t2"),
    )
    .unwrap();
    assert_eq!(second["spec"], json!({"command": "x"}));
}

#[test]
fn equal_values_are_shared_and_survive_one_owner_leaving() {
    let first = apply(None, &config(json!({"replicas": 2})), &req("a", "t1")).unwrap();
    let shared = apply(
        Some(&first),
        &config(json!({"replicas": 2})),
        &req("b", "t2"),
    )
    .unwrap();
    assert_eq!(
        fields_of(&shared, "a", "Apply"),
        fields_of(&shared, "b", "Apply")
    );
    let bare = json!({"apiVersion": V, "kind": "Executable", "metadata": {"name": "api"}});
    let after = apply(Some(&shared), &bare, &req("a", "t3")).unwrap();
    assert_eq!(after["spec"]["replicas"], json!(2), "b still owns it");
    assert_eq!(
        fields_of(&after, "a", "Apply"),
        Value::Null,
        "a's now-empty entry is dropped"
    );
}

#[test]
fn changing_another_appliers_field_conflicts() {
    let first = apply(
        None,
        &config(json!({"replicas": 2, "command": "x"})),
        &req("a", "t1"),
    )
    .unwrap();
    let err = apply(
        Some(&first),
        &config(json!({"replicas": 3})),
        &req("b", "t2"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        vec![FieldConflict {
            manager: "a".into(),
            path: ".spec.replicas".into(),
            described: "\"a\"".into()
        }]
    );
    assert_eq!(
        conflict_message(&err),
        "Apply failed with 1 conflict: conflict with \"a\": .spec.replicas"
    );
    assert_eq!(conflict_causes(&err)[0].reason, "FieldManagerConflict");
}

#[test]
fn changing_an_updaters_field_conflicts_and_names_its_version() {
    let mut obj = config(json!({"replicas": 1, "command": "x"}));
    record_update(
        None,
        &mut obj,
        "kubectl-client-side-apply",
        None,
        V,
        "2024-05-01T10:00:00Z",
    );
    let err = apply(
        Some(&obj),
        &config(json!({"replicas": 3, "command": "y"})),
        &req("kubectl", "t2"),
    )
    .unwrap_err();
    let described = format!("\"kubectl-client-side-apply\" using {V} at 2024-05-01T10:00:00Z");
    assert_eq!(err.len(), 2);
    assert_eq!(err[0].path, ".spec.command");
    assert_eq!(
        conflict_message(&err),
        format!(
            "Apply failed with 2 conflicts: conflicts with {described}\n- .spec.command\n- .spec.replicas"
        )
    );
}

#[test]
fn force_takes_ownership() {
    let first = apply(
        None,
        &config(json!({"replicas": 2, "command": "x"})),
        &req("a", "t1"),
    )
    .unwrap();
    let forced = ApplyRequest {
        force: true,
        ..req("b", "t2")
    };
    let obj = apply(Some(&first), &config(json!({"replicas": 3})), &forced).unwrap();
    assert_eq!(obj["spec"], json!({"replicas": 3, "command": "x"}));
    assert_eq!(
        fields_of(&obj, "a", "Apply"),
        json!({"f:spec": {"f:command": {}}})
    );
    assert_eq!(
        fields_of(&obj, "b", "Apply"),
        json!({"f:spec": {"f:replicas": {}}})
    );
}

#[test]
fn update_moves_ownership_of_changed_fields() {
    let applied = apply(
        None,
        &config(json!({"replicas": 2, "command": "x"})),
        &req("kubectl", "t1"),
    )
    .unwrap();
    let mut edited = applied.clone();
    edited["spec"]["replicas"] = json!(5);
    edited["spec"]["args"] = json!(["--v"]);
    record_update(Some(&applied), &mut edited, "kubectl-edit", None, V, "t2");
    assert_eq!(
        fields_of(&edited, "kubectl", "Apply"),
        json!({"f:spec": {"f:command": {}}})
    );
    assert_eq!(
        fields_of(&edited, "kubectl-edit", "Update"),
        json!({"f:spec": {"f:args": {}, "f:replicas": {}}})
    );
    let entries = managed(&edited);
    assert_eq!(entries[0]["operation"], "Apply", "Apply entries sort first");
}

#[test]
fn update_without_changes_records_nothing() {
    let applied = apply(None, &config(json!({"replicas": 2})), &req("kubectl", "t1")).unwrap();
    let mut same = applied.clone();
    record_update(Some(&applied), &mut same, "controller", None, V, "t2");
    assert_eq!(same, applied);
}

#[test]
fn create_via_update_owns_everything_but_server_fields() {
    let mut obj = json!({
        "apiVersion": V, "kind": "Executable",
        "metadata": {"name": "api", "namespace": "default", "uid": "u", "resourceVersion": "1", "labels": {"app": "api"}},
        "spec": {"command": "x", "env": [{"name": "A"}]}
    });
    record_update(None, &mut obj, "kubectl-create", None, V, "t1");
    assert_eq!(
        fields_of(&obj, "kubectl-create", "Update"),
        json!({"f:metadata": {"f:labels": {"f:app": {}}}, "f:spec": {"f:command": {}, "f:env": {}}})
    );
}

#[test]
fn status_subresource_entries_are_separate() {
    let obj = apply(None, &config(json!({"command": "x"})), &req("ctl", "t1")).unwrap();
    let status = json!({"apiVersion": V, "kind": "Executable", "metadata": {"name": "api"}, "status": {"state": "Running"}});
    let status_req = ApplyRequest {
        subresource: Some("status"),
        ..req("ctl", "t2")
    };
    let obj = apply(Some(&obj), &status, &status_req).unwrap();
    assert_eq!(
        obj["spec"],
        json!({"command": "x"}),
        "the main entry's fields are not abandoned"
    );
    assert_eq!(obj["status"], json!({"state": "Running"}));
    let entries = managed(&obj);
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[1]["subresource"], "status");
    assert_eq!(entries[1]["fieldsV1"], json!({"f:status": {"f:state": {}}}));

    let mut next = obj.clone();
    next["status"]["state"] = json!("Failed");
    record_update(Some(&obj), &mut next, "other", Some("status"), V, "t3");
    let err = apply(Some(&next), &status, &status_req).unwrap_err();
    assert_eq!(
        err[0].described,
        format!("\"other\" with subresource \"status\" using {V} at t3")
    );
}

#[test]
fn labels_are_owned_key_by_key() {
    let with_labels = |labels: Value| json!({"apiVersion": V, "kind": "Executable", "metadata": {"name": "api", "labels": labels}});
    let obj = apply(None, &with_labels(json!({"app": "api"})), &req("a", "t1")).unwrap();
    let obj = apply(
        Some(&obj),
        &with_labels(json!({"tier": "web"})),
        &req("b", "t2"),
    )
    .unwrap();
    assert_eq!(
        obj["metadata"]["labels"],
        json!({"app": "api", "tier": "web"})
    );
    assert_eq!(
        fields_of(&obj, "a", "Apply"),
        json!({"f:metadata": {"f:labels": {"f:app": {}}}})
    );
    let err = apply(
        Some(&obj),
        &with_labels(json!({"app": "other"})),
        &req("b", "t3"),
    )
    .unwrap_err();
    assert_eq!(err[0].path, ".metadata.labels.app");

    let mut annotated = obj.clone();
    annotated["metadata"]["annotations"] = json!({"note": "x"});
    record_update(
        Some(&obj),
        &mut annotated,
        "kubectl-annotate",
        None,
        V,
        "t4",
    );
    assert_eq!(
        fields_of(&annotated, "kubectl-annotate", "Update"),
        json!({"f:metadata": {"f:annotations": {"f:note": {}}}})
    );
}

#[test]
fn sent_managed_fields_reset_with_an_empty_entry() {
    let applied = apply(None, &config(json!({"replicas": 2})), &req("kubectl", "t1")).unwrap();
    let mut reset = applied.clone();
    reset["metadata"]["managedFields"] = json!([{}]);
    record_update(Some(&applied), &mut reset, "kubectl-patch", None, V, "t2");
    assert!(reset["metadata"].get("managedFields").is_none());
}

#[test]
fn fields_v1_round_trips_and_collapses_list_item_keys() {
    let wire = json!({
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {".": {}, "f:image": {}}}, "f:replicas": {}}
    });
    let set = FieldSet::from_fields_v1(&wire);
    assert_eq!(
        set.to_fields_v1(),
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}}, "f:spec": {"f:containers": {}, "f:replicas": {}}})
    );
    assert!(FieldSet::from_fields_v1(&json!({})).is_empty());
}
