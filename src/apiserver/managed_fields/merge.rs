//! Value-level operations of server-side apply: merging an applied configuration into the
//! live object, deleting a path, and deciding whether a path's value changed.

use super::fieldset::value_at;
use serde_json::Value;

/// Merges `config` into `target`: objects deep-merge, lists and scalars replace, and `null`
/// deletes the field. `managedFields` in the config is never copied (the server owns it).
pub fn merge_config(target: &mut Value, config: &Value) {
    merge(target, config, true);
}

fn merge(target: &mut Value, config: &Value, root: bool) {
    let (Some(target_map), Some(config_map)) = (target.as_object_mut(), config.as_object()) else {
        *target = strip_nulls(config);
        return;
    };
    for (key, value) in config_map {
        if value.is_null() {
            target_map.remove(key);
        } else if root && key == "metadata" {
            let mut metadata = value.clone();
            if let Some(map) = metadata.as_object_mut() {
                map.remove("managedFields");
            }
            merge(
                target_map.entry(key.clone()).or_insert(Value::Null),
                &metadata,
                false,
            );
        } else if let Some(existing) = target_map.get_mut(key) {
            merge(existing, value, false);
        } else {
            target_map.insert(key.clone(), strip_nulls(value));
        }
    }
}

/// A copy of `value` without null object members, which an applied configuration uses to
/// mean "absent".
fn strip_nulls(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Deletes the field at `path`; parents stay, even when left empty.
pub fn remove_at(value: &mut Value, path: &[String]) {
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let parent = parents
        .iter()
        .try_fold(value, |node, key| node.as_object_mut()?.get_mut(key));
    if let Some(map) = parent.and_then(Value::as_object_mut) {
        map.remove(last);
    }
}

/// Whether the write from `before` to `after` set a new value at `path` (added or modified).
/// Removal is not a change here, and an object that stays an object is compared through its
/// children, because objects are owned field by field.
pub fn changed(before: Option<&Value>, after: &Value, path: &[String]) -> bool {
    let Some(new) = value_at(after, path) else {
        return false;
    };
    match before.and_then(|b| value_at(b, path)) {
        None => true,
        Some(old) if old.is_object() && new.is_object() => false,
        Some(old) => old != new,
    }
}
