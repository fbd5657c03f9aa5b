//! Rules particular to built-in kinds: Secrets (`stringData`, base64), Namespaces
//! (phase), CustomResourceDefinitions (validation, status, registration).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use crate::apiserver::crds;
use crate::apiserver::error::{ApiResult, Cause};
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::ApiServer;

fn is(rt: &ResourceType, group: &str, kind: &str) -> bool {
    rt.group == group && rt.kind == kind
}

/// Server-side normalisation before validation (defaults the real server fills in).
pub fn normalize(rt: &ResourceType, _old: Option<&Value>, object: &mut Value) -> ApiResult<()> {
    if is(rt, "", "Secret") {
        normalize_secret(object);
    } else if is(rt, "", "Namespace") {
        let phase = if crate::apiserver::object_meta::is_deleting(object) {
            "Terminating"
        } else {
            "Active"
        };
        object["status"] = json!({ "phase": phase });
    } else if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crds::set_status(object);
    }
    Ok(())
}

/// Kind-specific validation, as 422 causes.
pub fn validate(rt: &ResourceType, object: &Value) -> Vec<Cause> {
    if is(rt, "", "Secret") {
        return validate_secret(object);
    }
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        return crds::validate(object);
    }
    Vec::new()
}

/// Side effects of a committed write: a CRD's types are served from now on.
pub fn after_write(server: &ApiServer, rt: &ResourceType, object: &Value) {
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crds::register(&server.registry, object);
    }
}

fn normalize_secret(object: &mut Value) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    if let Some(Value::Object(string_data)) = map.remove("stringData") {
        let data = map
            .entry("data")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(data) = data.as_object_mut() {
            for (key, value) in string_data {
                let text = value.as_str().unwrap_or_default();
                data.insert(key, Value::String(STANDARD.encode(text)));
            }
        }
    }
    map.entry("type").or_insert_with(|| json!("Opaque"));
}

fn validate_secret(object: &Value) -> Vec<Cause> {
    let Some(data) = object.get("data").and_then(Value::as_object) else {
        return Vec::new();
    };
    data.iter()
        .filter(|(_, value)| {
            value
                .as_str()
                .is_none_or(|text| STANDARD.decode(text).is_err())
        })
        .map(|(key, _)| {
            Cause::new(
                "FieldValueInvalid",
                format!("data[{key}]"),
                "Invalid value: the value must be base64-encoded",
            )
        })
        .collect()
}

/// Side effects of a deletion: a deleted CRD's types and objects go away.
pub fn after_delete(server: &ApiServer, rt: &ResourceType, object: &Value) {
    if is(rt, "apiextensions.k8s.io", "CustomResourceDefinition") {
        crds::unregister(server, object);
    }
}
