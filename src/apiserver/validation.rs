//! Structural-schema handling for custom resources: validates an object against its CRD's
//! `openAPIV3Schema`, applies `default`s and prunes unknown fields, in the order and with
//! the wording of kube-apiserver (prune → default → drop non-nullable nulls → validate).
//!
//! Composition keywords (`allOf`/`anyOf`/`oneOf`) only constrain values, as in structural
//! schemas: they never prune, default or admit fields — that is what kube's derive emits
//! (`oneOf: [{required: [git]}, {required: [path]}]` for enums with data).

mod causes;
mod formats;
mod objects;
#[cfg(test)]
mod tests;

use crate::apiserver::error::Cause;
use serde_json::{Map, Value};

/// What validating one object found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SchemaOutcome {
    /// Dotted paths (`spec.foo`, `spec.env[0].bogus`) of the fields pruned because the schema
    /// does not know them; the caller turns them into warnings or a strict-decoding error.
    pub unknown_fields: Vec<String>,
    /// Validation failures, ready for an `Invalid` (422) error.
    pub causes: Vec<Cause>,
}

/// Validates `obj` (a whole object: apiVersion, kind, metadata, spec, status…) against a CRD's
/// `openAPIV3Schema`, applies `default`s, and removes fields the schema does not know
/// (returned in `unknown_fields` as dotted paths like `spec.foo` or `spec.env[0].bogus`).
pub fn validate(schema: &Value, obj: &mut Value) -> SchemaOutcome {
    let mut validator = Validator {
        mode: Mode::Full,
        outcome: SchemaOutcome::default(),
    };
    validator.node(schema, obj, "", true);
    validator.outcome
}

/// Whether a walk may change the object (the main schema) or only checks it (subschemas of
/// `allOf`/`anyOf`/`oneOf`, which run on a copy and must not prune what they do not list).
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Full,
    Check,
}

struct Validator {
    mode: Mode,
    outcome: SchemaOutcome,
}

/// Read-only view of one schema node.
#[derive(Clone, Copy)]
struct Schema<'a>(&'a Map<String, Value>);

impl<'a> Schema<'a> {
    fn get(self, key: &str) -> Option<&'a Value> {
        self.0.get(key)
    }
    fn flag(self, key: &str) -> bool {
        self.get(key).and_then(Value::as_bool).unwrap_or(false)
    }
    fn nullable(self) -> bool {
        self.flag("nullable")
    }
    fn preserves_unknown(self) -> bool {
        self.flag("x-kubernetes-preserve-unknown-fields")
    }
    fn ty(self) -> Option<&'a str> {
        self.get("type").and_then(Value::as_str)
    }
    fn num(self, key: &str) -> Option<f64> {
        self.get(key).and_then(Value::as_f64)
    }
    fn count(self, key: &str) -> Option<u64> {
        self.num(key).map(|n| n as u64)
    }
    fn properties(self) -> Option<&'a Map<String, Value>> {
        self.get("properties").and_then(Value::as_object)
    }
    fn subschemas(self, key: &str) -> &'a [Value] {
        self.get(key)
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// `spec` + `replicas` → `spec.replicas`.
fn child(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

/// The JSON type kube-openapi names in "must be of type" messages.
fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

impl Validator {
    fn fail(&mut self, cause: Cause) {
        self.outcome.causes.push(cause);
    }

    /// Validates (and in full mode defaults and prunes) `value` against `schema` at `path`.
    fn node(&mut self, schema: &Value, value: &mut Value, path: &str, root: bool) {
        // `true`, `$ref` (which structural schemas forbid) and other non-objects admit anything.
        let Some(schema) = schema.as_object().map(Schema) else {
            return;
        };
        if value.is_null() {
            self.null(schema, path);
            return;
        }
        if !self.type_matches(schema, value, path) {
            return;
        }
        match value {
            Value::Object(map) => self.object(schema, map, path, root),
            Value::Array(items) => self.array(schema, items, path),
            Value::String(s) => self.string(schema, s, path),
            Value::Number(_) => self.number(schema, value, path),
            Value::Bool(_) | Value::Null => {}
        }
        self.enumeration(schema, value, path);
        self.compositions(schema, value, path);
    }

    /// Kubernetes checks a null only for its type: it skips every other keyword.
    fn null(&mut self, schema: Schema, path: &str) {
        let typed = schema.ty().is_some() || schema.flag("x-kubernetes-int-or-string");
        if typed && !schema.nullable() {
            let expected = schema.ty().unwrap_or("integer,string");
            self.fail(causes::type_invalid(path, expected, "null"));
        }
    }

    /// Checks `type` (and int-or-string); whole floats in an integer field become integers,
    /// as Kubernetes' JSON decoding stores them.
    fn type_matches(&mut self, schema: Schema, value: &mut Value, path: &str) -> bool {
        let actual = json_type(value);
        if schema.flag("x-kubernetes-int-or-string") {
            if actual == "number" {
                formats::integral(value);
            }
            if !matches!(json_type(value), "integer" | "string") {
                self.fail(causes::type_invalid(path, "integer,string", actual));
                return false;
            }
            return true;
        }
        let Some(expected) = schema.ty() else {
            return true;
        };
        let ok = match expected {
            "integer" => actual == "integer" || (actual == "number" && formats::integral(value)),
            "number" => matches!(actual, "integer" | "number"),
            other => other == actual,
        };
        if !ok {
            self.fail(causes::type_invalid(path, expected, actual));
        }
        ok
    }

    fn array(&mut self, schema: Schema, items: &mut [Value], path: &str) {
        let len = items.len();
        if let Some(max) = schema.count("maxItems").filter(|max| len as u64 > *max) {
            self.fail(causes::too_many(path, len, max));
        }
        if let Some(min) = schema.count("minItems").filter(|min| (len as u64) < *min) {
            let detail = format!(
                "{} in body should have at least {min} items",
                causes::display_name(path)
            );
            self.fail(causes::invalid(
                path,
                &Value::Array(items.to_vec()),
                &detail,
            ));
        }
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter_mut().enumerate() {
                self.node(item_schema, item, &format!("{path}[{i}]"), false);
            }
        }
    }

    fn string(&mut self, schema: Schema, s: &str, path: &str) {
        let chars = s.chars().count() as u64;
        if let Some(max) = schema.count("maxLength").filter(|max| chars > *max) {
            self.fail(causes::too_long(path, max));
        }
        if let Some(min) = schema.count("minLength").filter(|min| chars < *min) {
            let detail = format!(
                "{} in body should be at least {min} chars long",
                causes::display_name(path)
            );
            self.fail(causes::invalid(
                path,
                &Value::String(s.to_string()),
                &detail,
            ));
        }
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && !formats::string_matches(format, s)
        {
            let detail = format!(
                "{} in body must be of type {format}: \"{s}\"",
                causes::display_name(path)
            );
            self.fail(causes::invalid(
                path,
                &Value::String(s.to_string()),
                &detail,
            ));
        }
    }

    fn number(&mut self, schema: Schema, value: &Value, path: &str) {
        let Some(x) = value.as_f64() else { return };
        let name = causes::display_name(path);
        let reported = self.outcome.causes.len();
        if let Some(max) = schema.num("maximum") {
            let exclusive = schema.flag("exclusiveMaximum");
            if x > max || (exclusive && x == max) {
                let relation = if exclusive {
                    "less than"
                } else {
                    "less than or equal to"
                };
                let detail = format!("{name} in body should be {relation} {}", causes::bound(max));
                self.fail(causes::invalid(path, value, &detail));
            }
        }
        if let Some(min) = schema.num("minimum") {
            let exclusive = schema.flag("exclusiveMinimum");
            if x < min || (exclusive && x == min) {
                let relation = if exclusive {
                    "greater than"
                } else {
                    "greater than or equal to"
                };
                let detail = format!("{name} in body should be {relation} {}", causes::bound(min));
                self.fail(causes::invalid(path, value, &detail));
            }
        }
        // The width of `format` only matters when explicit bounds did not already object.
        if let Some(format) = schema.get("format").and_then(Value::as_str)
            && self.outcome.causes.len() == reported
            && let Some(detail) = formats::integer_out_of_range(format, value, name)
        {
            self.fail(causes::invalid(path, value, &detail));
        }
    }

    fn enumeration(&mut self, schema: Schema, value: &Value, path: &str) {
        let Some(allowed) = schema.get("enum").and_then(Value::as_array) else {
            return;
        };
        if !allowed.contains(value) {
            self.fail(causes::not_supported(path, value, allowed));
        }
    }

    fn compositions(&mut self, schema: Schema, value: &Value, path: &str) {
        for sub in schema.subschemas("allOf") {
            let failures = Self::check(sub, value, path);
            self.outcome.causes.extend(failures);
        }
        let name = causes::display_name(path);
        let any_of = schema.subschemas("anyOf");
        if !any_of.is_empty()
            && !any_of
                .iter()
                .any(|sub| Self::check(sub, value, path).is_empty())
        {
            let detail = format!("{name} in body must validate at least one schema (anyOf)");
            self.fail(causes::invalid(path, value, &detail));
        }
        let one_of = schema.subschemas("oneOf");
        if !one_of.is_empty() {
            let valid = one_of
                .iter()
                .filter(|sub| Self::check(sub, value, path).is_empty())
                .count();
            if valid != 1 {
                let found = if valid == 0 {
                    "Found none valid".to_string()
                } else {
                    format!("Found {valid} valid alternatives")
                };
                let detail = format!(
                    "{name} in body must validate one and only one schema (oneOf). {found}"
                );
                self.fail(causes::invalid(path, value, &detail));
            }
        }
    }

    /// Failures of `value` against a subschema, without changing `value`.
    fn check(schema: &Value, value: &Value, path: &str) -> Vec<Cause> {
        let mut checker = Validator {
            mode: Mode::Check,
            outcome: SchemaOutcome::default(),
        };
        checker.node(schema, &mut value.clone(), path, false);
        checker.outcome.causes
    }
}
