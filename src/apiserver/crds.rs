//! CustomResourceDefinitions: validation, the `Established` status the server sets at
//! once, and turning each served version into a [`ResourceType`].

use std::sync::Arc;

use serde_json::{Value, json};

use super::error::Cause;
use super::object_meta;
use super::registry::Registry;
use super::resource::{PrinterColumn, ResourceType, StorageId};

/// The string at a JSON pointer, or `""`.
fn text_at(value: &Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// Validates a CRD the way the apiextensions server does, for the fields we rely on.
pub fn validate(crd: &Value) -> Vec<Cause> {
    let mut causes = Vec::new();
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let text = |pointer: &str| text_at(spec, pointer);
    let (group, plural, kind, scope) = (
        text("/group"),
        text("/names/plural"),
        text("/names/kind"),
        text("/scope"),
    );
    let mut require = |field: &str, value: &str| {
        if value.is_empty() {
            causes.push(Cause::new(
                "FieldValueRequired",
                format!("spec.{field}"),
                "Required value",
            ));
        }
    };
    require("group", &group);
    require("names.plural", &plural);
    require("names.kind", &kind);
    if scope != "Namespaced" && scope != "Cluster" {
        causes.push(Cause::new(
            "FieldValueNotSupported",
            "spec.scope",
            format!("Unsupported value: {scope:?}: supported values: \"Cluster\", \"Namespaced\""),
        ));
    }
    let name = object_meta::name(crd);
    if !group.is_empty() && !plural.is_empty() && name != format!("{plural}.{group}") {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "metadata.name",
            format!("Invalid value: {name:?}: must be spec.names.plural+\".\"+spec.group"),
        ));
    }
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if versions.is_empty() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.versions",
            "Required value: must have exactly one version marked as storage version",
        ));
    } else if versions
        .iter()
        .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
        .count()
        != 1
    {
        causes.push(Cause::new(
            "FieldValueInvalid",
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        ));
    }
    for (i, version) in versions.iter().enumerate() {
        if version
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .is_empty()
        {
            causes.push(Cause::new(
                "FieldValueRequired",
                format!("spec.versions[{i}].name"),
                "Required value",
            ));
        }
        if version.pointer("/schema/openAPIV3Schema").is_none() {
            causes.push(Cause::new(
                "FieldValueRequired",
                format!("spec.versions[{i}].schema.openAPIV3Schema"),
                "Required value: schemas are required",
            ));
        }
    }
    causes
}

/// Sets the status a healthy CRD reaches (names accepted, established).
pub fn set_status(crd: &mut Value) {
    let names = crd.pointer("/spec/names").cloned().unwrap_or(json!({}));
    let mut accepted = names.clone();
    if accepted.get("singular").is_none() {
        let kind = names
            .get("kind")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_lowercase();
        accepted["singular"] = json!(kind);
    }
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|v| {
            v.iter()
                .filter(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .filter_map(|v| v.get("name").cloned())
                .collect()
        })
        .unwrap_or_default();
    let since = crd
        .pointer("/status/conditions/0/lastTransitionTime")
        .cloned()
        .unwrap_or_else(|| json!(object_meta::now()));
    let condition = |type_: &str, reason: &str, message: &str| json!({"type": type_, "status": "True", "lastTransitionTime": since, "reason": reason, "message": message});
    crd["status"] = json!({
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found"),
            condition("Established", "InitialNamesAccepted", "the initial names have been accepted"),
        ],
        "acceptedNames": accepted,
        "storedVersions": stored,
    });
}

/// Serves the CRD's versions from now on (replacing what it served before).
pub fn register(registry: &Registry, crd: &Value) {
    if object_meta::is_deleting(crd) {
        return;
    }
    registry.set_crd_types(object_meta::name(crd), types(crd));
}

/// The resource types a CRD defines: one per served version.
pub fn types(crd: &Value) -> Vec<ResourceType> {
    let spec = crd.get("spec").unwrap_or(&Value::Null);
    let text = |pointer: &str| text_at(spec, pointer);
    let strings = |pointer: &str| -> Vec<String> {
        spec.pointer(pointer)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|s| s.as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default()
    };
    let group = text("/group");
    let plural = text("/names/plural");
    let kind = text("/names/kind");
    let singular = Some(text("/names/singular"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| kind.to_lowercase());
    let list_kind = Some(text("/names/listKind"))
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| format!("{kind}List"));
    let versions = spec
        .get("versions")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    versions
        .iter()
        .filter(|v| v.get("served").and_then(Value::as_bool).unwrap_or(true))
        .map(|version| ResourceType {
            group: group.clone(),
            version: version
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string(),
            plural: plural.clone(),
            singular: singular.clone(),
            kind: kind.clone(),
            list_kind: list_kind.clone(),
            namespaced: text("/scope") == "Namespaced",
            short_names: strings("/names/shortNames"),
            categories: strings("/names/categories"),
            status_subresource: version.pointer("/subresources/status").is_some(),
            log_subresource: group == "kaspire.dev"
                && matches!(kind.as_str(), "Executable" | "Container" | "Value"),
            schema: version
                .pointer("/schema/openAPIV3Schema")
                .cloned()
                .map(Arc::new),
            printer_columns: printer_columns(version),
            storage: StorageId(format!("{group}/{plural}")),
            extra_field_selectors: &[],
            strategic_merge_patch: false,
        })
        .collect()
}

fn printer_columns(version: &Value) -> Vec<PrinterColumn> {
    let columns = version
        .get("additionalPrinterColumns")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    columns
        .iter()
        .map(|c| {
            let text = |field: &str| {
                c.get(field)
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            PrinterColumn {
                name: text("name"),
                type_: text("type"),
                format: text("format"),
                description: text("description"),
                priority: c.get("priority").and_then(Value::as_i64).unwrap_or(0),
                json_path: text("jsonPath"),
            }
        })
        .collect()
}

/// Stops serving a deleted CRD's types and deletes every object of them, as the
/// apiextensions server does.
pub fn unregister(server: &super::server::ApiServer, crd: &Value) {
    let name = object_meta::name(crd).to_string();
    server.registry.remove_crd(&name);
    let Some(storage) = types(crd).first().map(|t| t.storage.clone()) else {
        return;
    };
    let store = server.store.clone();
    tokio::spawn(async move {
        let (objects, _) = store.list(&storage, None, None);
        for object in objects {
            let key = super::store::ObjectKey::new(
                &storage,
                object_meta::meta_str(&object, "namespace").unwrap_or(""),
                object_meta::name(&object),
            );
            let _ = store
                .write(&key, false, |_, _| Ok(super::store::Decision::Delete))
                .await;
        }
        tracing::info!(crd = %name, "deleted the objects of a removed CRD");
    });
}
