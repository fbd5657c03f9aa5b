//! Object members: pruning unknown keys, dropping or defaulting nulls, inserting defaults,
//! `required`, property counts and embedded resources.

use super::{Mode, Schema, Validator, causes, child};
use serde_json::{Map, Value};

/// The schema `true`: `additionalProperties: true` admits any value under it.
static ANY_VALUE: Value = Value::Bool(true);

impl Validator {
    pub(super) fn object(
        &mut self,
        schema: Schema,
        map: &mut Map<String, Value>,
        path: &str,
        root: bool,
    ) {
        let embedded = schema.flag("x-kubernetes-embedded-resource");
        let keys: Vec<String> = map.keys().cloned().collect();
        for key in keys {
            // The root's and an embedded resource's type and metadata are validated elsewhere.
            let implicit =
                (root || embedded) && matches!(key.as_str(), "apiVersion" | "kind" | "metadata");
            if root && implicit {
                continue;
            }
            match self.member_schema(schema, &key) {
                Some(member) => self.member(member, map, &key, path),
                None if implicit || schema.preserves_unknown() || self.mode == Mode::Check => {}
                None => {
                    map.remove(&key);
                    self.outcome.unknown_fields.push(child(path, &key));
                }
            }
        }
        if self.mode == Mode::Full {
            self.apply_defaults(schema, map, path);
        }
        self.object_constraints(schema, map, path);
        if embedded {
            self.embedded_resource(map, path);
        }
    }

    /// The schema a key is checked against: its property, else `additionalProperties`
    /// (`Value::Bool(true)` when any value is allowed); `None` means unknown.
    fn member_schema<'a>(&self, schema: Schema<'a>, key: &str) -> Option<&'a Value> {
        if let Some(prop) = schema.properties().and_then(|p| p.get(key)) {
            return Some(prop);
        }
        match schema.get("additionalProperties") {
            Some(Value::Bool(true)) => Some(&ANY_VALUE),
            Some(additional @ Value::Object(_)) => Some(additional),
            _ => None,
        }
    }

    /// Handles one present member: a null in a non-nullable field takes its default or is
    /// dropped (as Kubernetes does), anything else is validated in place.
    fn member(&mut self, member: &Value, map: &mut Map<String, Value>, key: &str, path: &str) {
        let member_path = child(path, key);
        let nullable = member
            .get("nullable")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if self.mode == Mode::Full && map.get(key).is_some_and(Value::is_null) && !nullable {
            match member.get("default") {
                Some(default) => {
                    map.insert(key.to_string(), default.clone());
                }
                None => {
                    map.remove(key);
                    return;
                }
            }
        }
        if let Some(value) = map.get_mut(key) {
            self.node(member, value, &member_path, false);
        }
    }

    /// Inserts the `default` of every absent property, then validates into it so defaults
    /// nested inside the inserted value apply too.
    fn apply_defaults(&mut self, schema: Schema, map: &mut Map<String, Value>, path: &str) {
        let Some(properties) = schema.properties() else {
            return;
        };
        for (key, prop) in properties {
            let Some(default) = prop.get("default") else {
                continue;
            };
            if map.contains_key(key) {
                continue;
            }
            let mut value = default.clone();
            self.node(prop, &mut value, &child(path, key), false);
            map.insert(key.clone(), value);
        }
    }

    fn object_constraints(&mut self, schema: Schema, map: &Map<String, Value>, path: &str) {
        for required in schema
            .subschemas("required")
            .iter()
            .filter_map(Value::as_str)
        {
            if !map.contains_key(required) {
                self.fail(causes::required(&child(path, required), ""));
            }
        }
        if let Some(max) = schema
            .count("maxProperties")
            .filter(|max| map.len() as u64 > *max)
        {
            self.fail(causes::too_many(path, map.len(), max));
        }
        if let Some(min) = schema
            .count("minProperties")
            .filter(|min| (map.len() as u64) < *min)
        {
            let detail = format!(
                "{} in body should have at least {min} properties",
                causes::display_name(path)
            );
            self.fail(causes::invalid(path, &Value::Object(map.clone()), &detail));
        }
    }

    /// Embedded resources need `apiVersion` and `kind` (metadata is optional), as strings.
    fn embedded_resource(&mut self, map: &Map<String, Value>, path: &str) {
        for key in ["apiVersion", "kind"] {
            match map.get(key) {
                None => self.fail(causes::required(&child(path, key), "must not be empty")),
                Some(Value::String(s)) if s.is_empty() => self.fail(causes::invalid(
                    &child(path, key),
                    &Value::String(String::new()),
                    "must not be empty",
                )),
                Some(Value::String(_)) => {}
                Some(other) => self.fail(causes::invalid(
                    &child(path, key),
                    other,
                    "must be a string",
                )),
            }
        }
    }
}
