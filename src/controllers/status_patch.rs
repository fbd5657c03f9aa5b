//! Writing a status: one JSON merge patch of the `status` subresource per reconcile,
//! sent only when something changed. Status fields that disappeared — also inside
//! nested objects — are sent as `null` (our status types skip empty fields, and a merge
//! patch only removes what it names).

use kube::api::{Api, Patch, PatchParams};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

/// The merge patch turning `old` into `new`, or `None` when they are equal.
pub fn diff<S: Serialize>(old: Option<&S>, new: &S) -> Option<Value> {
    let old = old.map(|s| serde_json::to_value(s).unwrap_or(Value::Null));
    let new = serde_json::to_value(new).unwrap_or(Value::Null);
    if old.as_ref() == Some(&new) {
        return None;
    }
    let mut patch = match &new {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    if let Some(Value::Object(old)) = &old {
        null_removed(old, &mut patch);
    }
    Some(serde_json::json!({ "status": patch }))
}

/// Adds `null` for every key of `old` that `new` lacks, also inside objects both have
/// (a merge patch merges nested objects, so a nested field is only removed when named).
fn null_removed(old: &Map<String, Value>, new: &mut Map<String, Value>) {
    for (key, old_value) in old {
        match (old_value, new.get_mut(key)) {
            (_, None) => {
                new.insert(key.clone(), Value::Null);
            }
            (Value::Object(old_inner), Some(Value::Object(new_inner))) => {
                null_removed(old_inner, new_inner);
            }
            _ => {}
        }
    }
}

/// Patches the status of `name` from `old` to `new` when they differ; returns the
/// updated object when it wrote.
pub async fn write<K, S>(
    api: &Api<K>,
    name: &str,
    old: Option<&S>,
    new: &S,
) -> kube::Result<Option<K>>
where
    K: Clone + DeserializeOwned + std::fmt::Debug,
    S: Serialize,
{
    let Some(patch) = diff(old, new) else {
        return Ok(None);
    };
    let updated = api
        .patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await?;
    Ok(Some(updated))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unchanged_status_writes_nothing() {
        let s = json!({"state": "Running"});
        assert_eq!(diff(Some(&s), &s), None);
    }

    #[test]
    fn removed_nested_fields_become_null() {
        let old = json!({"onParentReady": {"succeeded": false, "failures": 2}});
        let new = json!({"onParentReady": {"succeeded": true}});
        assert_eq!(
            diff(Some(&old), &new),
            Some(json!({"status": {"onParentReady": {"succeeded": true, "failures": null}}}))
        );
    }

    #[test]
    fn removed_fields_become_null() {
        let old = json!({"state": "Exited", "exitCode": 1, "message": "boom"});
        let new = json!({"state": "Running"});
        assert_eq!(
            diff(Some(&old), &new),
            Some(json!({"status": {"state": "Running", "exitCode": null, "message": null}}))
        );
    }
}
