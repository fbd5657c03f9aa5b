//! Conversion between the stored form of an object and the form a request's
//! group/version expects. Custom resources convert by relabelling `apiVersion` (the
//! CRD `None` strategy); Events are stored as core/v1 and served as events.k8s.io/v1 too.

use serde_json::{Map, Value};

use crate::apiserver::resource::ResourceType;

/// (core/v1 field, events.k8s.io/v1 field) pairs that differ only in name.
const EVENT_FIELD_NAMES: &[(&str, &str)] = &[
    ("involvedObject", "regarding"),
    ("message", "note"),
    ("reportingComponent", "reportingController"),
    ("source", "deprecatedSource"),
    ("firstTimestamp", "deprecatedFirstTimestamp"),
    ("lastTimestamp", "deprecatedLastTimestamp"),
    ("count", "deprecatedCount"),
];

fn is_events_v1(rt: &ResourceType) -> bool {
    rt.group == "events.k8s.io" && rt.kind == "Event"
}

/// Whether [`to_view`] changes more than `apiVersion` and `kind` (so metadata, labels
/// and field selectors cannot be matched on the stored form).
pub fn renames_fields(rt: &ResourceType) -> bool {
    is_events_v1(rt)
}

/// The stored object as served, borrowed when it is already in served form (the
/// common case: custom resources of their storage version), so large lists are
/// serialized without copying every object.
pub fn served<'a>(rt: &ResourceType, stored: &'a Value) -> std::borrow::Cow<'a, Value> {
    let type_meta_matches = stored.get("apiVersion").and_then(Value::as_str)
        == Some(rt.api_version().as_str())
        && stored.get("kind").and_then(Value::as_str) == Some(rt.kind.as_str());
    if type_meta_matches && !renames_fields(rt) {
        std::borrow::Cow::Borrowed(stored)
    } else {
        std::borrow::Cow::Owned(to_view(rt, stored))
    }
}

/// The stored object as the request's type presents it.
pub fn to_view(rt: &ResourceType, stored: &Value) -> Value {
    let mut object = stored.clone();
    if is_events_v1(rt) {
        rename_fields(&mut object, |(core, v1)| (core, v1));
    }
    set_type_meta(rt, &mut object);
    object
}

/// A request's object in the form it is stored.
pub fn to_storage(rt: &ResourceType, view: Value) -> Value {
    let mut object = view;
    if is_events_v1(rt) {
        rename_fields(&mut object, |(core, v1)| (v1, core));
        object["apiVersion"] = Value::String("v1".into());
    }
    object
}

fn set_type_meta(rt: &ResourceType, object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), Value::String(rt.api_version()));
        map.insert("kind".into(), Value::String(rt.kind.clone()));
    }
}

fn rename_fields(
    object: &mut Value,
    direction: impl Fn((&'static str, &'static str)) -> (&'static str, &'static str),
) {
    let Some(map) = object.as_object_mut() else {
        return;
    };
    let mut renamed = Map::new();
    for pair in EVENT_FIELD_NAMES {
        let (from, to) = direction(*pair);
        if let Some(value) = map.remove(from) {
            renamed.insert(to.to_string(), value);
        }
    }
    map.extend(renamed);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apiserver::builtin;
    use serde_json::json;

    fn events_v1() -> ResourceType {
        builtin::types()
            .into_iter()
            .find(|t| t.group == "events.k8s.io")
            .unwrap()
    }

    #[test]
    fn events_round_trip_between_views() {
        let v1 = json!({"apiVersion": "events.k8s.io/v1", "kind": "Event", "metadata": {"name": "e"},
            "regarding": {"name": "api"}, "note": "started", "reportingController": "kaspire", "reason": "Started"});
        let stored = to_storage(&events_v1(), v1.clone());
        assert_eq!(stored["involvedObject"]["name"], "api");
        assert_eq!(stored["message"], "started");
        assert_eq!(stored["apiVersion"], "v1");
        assert_eq!(to_view(&events_v1(), &stored), v1);
    }
}
