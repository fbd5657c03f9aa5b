//! Rules about a resource's place in a hierarchy that one object shows by itself: a
//! Value's `onParentReady` runs inside its parent, so it needs a parent and a command;
//! and a parent must be something with a lifecycle (not a Parameter). Cycles and waits
//! on one's own parent are [`super::dependencies`]' business.

use serde_json::Value;

use crate::apiserver::error::Cause;
use crate::apiserver::object_meta;
use crate::apiserver::resource::{ResourceType, StorageId};
use crate::apiserver::server::Admission;
use crate::apiserver::store::{ObjectKey, StoreView};

const VALUES: &str = "kaspire.dev/values";
const PARAMETERS: &str = "kaspire.dev/parameters";
const WITH_PARENT: &[&str] = &[
    "kaspire.dev/executables",
    "kaspire.dev/containers",
    "kaspire.dev/values",
];

/// Rejects a Value whose `onParentReady` cannot run, and a Parameter as a parent.
pub struct Hierarchy;

impl Admission for Hierarchy {
    fn validate(&self, rt: &ResourceType, object: &Value, view: &StoreView<'_>) -> Vec<Cause> {
        let storage = rt.storage.0.as_str();
        if rt.group != crate::api::GROUP || !WITH_PARENT.contains(&storage) {
            return Vec::new();
        }
        let namespace = object_meta::meta_str(object, "namespace").unwrap_or("default");
        let key = ObjectKey::new(&rt.storage, namespace, object_meta::name(object));
        // Only a spec change can break these rules (status writes and metadata skip them).
        if view
            .get(&key)
            .is_some_and(|stored| stored.get("spec") == object.get("spec"))
        {
            return Vec::new();
        }
        let mut causes = Vec::new();
        let parent = object.pointer("/spec/parent/name").and_then(Value::as_str);
        if storage == VALUES {
            causes.extend(on_parent_ready(object, parent));
        }
        if let Some(parent) = parent {
            let param = ObjectKey::new(&StorageId(PARAMETERS.into()), namespace, parent);
            if view.get(&param).is_some() {
                causes.push(Cause::new(
                    "FieldValueInvalid",
                    "spec.parent.name",
                    format!(
                        "Invalid value: {parent:?}: {parent} is a Parameter, which has no \
                         lifecycle; a parent must be an Executable, Container or Value"
                    ),
                ));
            }
        }
        causes
    }
}

fn on_parent_ready(object: &Value, parent: Option<&str>) -> Vec<Cause> {
    let Some(action) = object.pointer("/spec/onParentReady") else {
        return Vec::new();
    };
    let mut causes = Vec::new();
    if parent.is_none() {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.parent",
            "Required value: spec.onParentReady runs inside the parent, so the Value needs \
             spec.parent (e.g. {name: pg}); or remove spec.onParentReady",
        ));
    }
    let empty = action
        .pointer("/exec/command")
        .and_then(Value::as_array)
        .is_none_or(|c| c.is_empty());
    if empty {
        causes.push(Cause::new(
            "FieldValueRequired",
            "spec.onParentReady.exec.command",
            "Required value: give the program and its arguments, e.g. \
             [psql, -U, postgres, -c, CREATE DATABASE appdata]",
        ));
    }
    causes
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn on_parent_ready_needs_a_parent_and_a_command() {
        let value = json!({"spec": {"onParentReady": {"exec": {"command": []}}}});
        let causes = on_parent_ready(&value, None);
        let fields: Vec<&str> = causes.iter().map(|c| c.field.as_str()).collect();
        assert_eq!(fields, ["spec.parent", "spec.onParentReady.exec.command"]);
        let value = json!({"spec": {"onParentReady": {"exec": {"command": ["true"]}}}});
        assert!(on_parent_ready(&value, Some("pg")).is_empty());
    }
}
