//! `metadata.managedFields` entries: reading them off an object, and writing them back in
//! the order kube-apiserver sorts them (operation, time, manager, apiVersion, subresource).

use super::fieldset::FieldSet;
use serde_json::{Map, Value, json};

/// One manager's ownership record, keyed by (manager, operation, subresource).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// `""` for the main resource, `status` for `/status`.
    pub subresource: String,
    pub api_version: String,
    pub time: Option<String>,
    pub fields: FieldSet,
}

impl Entry {
    pub fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }

    /// How conflict messages name this manager, as kube-apiserver's `printManager` does:
    /// `"kubectl"`, `"ctl" with subresource "status"`, `"kubectl-edit" using v1 at <time>`.
    pub fn describe(&self) -> String {
        let mut out = format!("{:?}", self.manager);
        if !self.subresource.is_empty() {
            out.push_str(&format!(" with subresource {:?}", self.subresource));
        }
        if self.operation == "Update" {
            out.push_str(&format!(" using {}", self.api_version));
            if let Some(time) = &self.time {
                out.push_str(&format!(" at {time}"));
            }
        }
        out
    }

    fn parse(value: &Value) -> Option<Entry> {
        let text = |key: &str| value.get(key).and_then(Value::as_str).map(str::to_string);
        if text("fieldsType").is_some_and(|t| t != "FieldsV1") {
            return None;
        }
        Some(Entry {
            manager: text("manager").unwrap_or_default(),
            operation: text("operation")?,
            subresource: text("subresource").unwrap_or_default(),
            api_version: text("apiVersion").unwrap_or_default(),
            time: text("time"),
            fields: FieldSet::from_fields_v1(value.get("fieldsV1").unwrap_or(&Value::Null)),
        })
    }

    fn to_value(&self) -> Value {
        let mut entry = json!({
            "manager": self.manager,
            "operation": self.operation,
            "apiVersion": self.api_version,
        });
        if let Some(time) = &self.time {
            entry["time"] = json!(time);
        }
        entry["fieldsType"] = json!("FieldsV1");
        entry["fieldsV1"] = self.fields.to_fields_v1();
        if !self.subresource.is_empty() {
            entry["subresource"] = json!(self.subresource);
        }
        entry
    }
}

/// The entries recorded on `obj`; entries this server cannot read are dropped.
pub fn read(obj: &Value) -> Vec<Entry> {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .map(|entries| entries.iter().filter_map(Entry::parse).collect())
        .unwrap_or_default()
}

/// Whether `obj` asks for its managedFields to be cleared: the documented `[{}]` reset.
pub fn requests_reset(obj: &Value) -> bool {
    obj.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .is_some_and(
            |entries| matches!(entries.as_slice(), [Value::Object(entry)] if entry.is_empty()),
        )
}

/// Writes `entries` (minus empty ones, sorted) into `obj.metadata.managedFields`, removing the
/// key when nothing is left.
pub fn write(obj: &mut Value, mut entries: Vec<Entry>) {
    entries.retain(|entry| !entry.fields.is_empty());
    // Same order as kube-apiserver's sortEncodedManagedFields; RFC 3339 UTC times sort as text.
    entries.sort_by(|a, b| {
        (
            &a.operation,
            &a.time,
            &a.manager,
            &a.api_version,
            &a.subresource,
        )
            .cmp(&(
                &b.operation,
                &b.time,
                &b.manager,
                &b.api_version,
                &b.subresource,
            ))
    });
    let Some(root) = obj.as_object_mut() else {
        return;
    };
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Map::new()));
    let Some(metadata) = metadata.as_object_mut() else {
        return;
    };
    if entries.is_empty() {
        metadata.remove("managedFields");
    } else {
        metadata.insert(
            "managedFields".into(),
            Value::Array(entries.iter().map(Entry::to_value).collect()),
        );
    }
}
