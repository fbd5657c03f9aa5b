//! Builders for the field errors structural validation reports, worded as the
//! apiextensions-apiserver words them (`field.ErrorList` bodies from kube-openapi messages),
//! so kubectl prints what users of a real cluster expect.

use crate::apiserver::error::Cause;
use serde_json::Value;

/// `Required value` (optionally with a detail, as embedded resources use).
pub(super) fn required(field: &str, detail: &str) -> Cause {
    let message = if detail.is_empty() {
        "Required value".to_string()
    } else {
        format!("Required value: {detail}")
    };
    Cause::new("FieldValueRequired", field, message)
}

/// `Invalid value: "string": spec.replicas in body must be of type integer: "string"`.
pub(super) fn type_invalid(field: &str, expected: &str, actual: &str) -> Cause {
    Cause::new(
        "FieldValueTypeInvalid",
        field,
        format!(
            "Invalid value: \"{actual}\": {} in body must be of type {expected}: \"{actual}\"",
            display_name(field)
        ),
    )
}

/// `Unsupported value: "Sometimes": supported values: "Never", "Always"`.
pub(super) fn not_supported(field: &str, value: &Value, allowed: &[Value]) -> Cause {
    let supported: Vec<String> = allowed
        .iter()
        // `Option<Enum>` schemas list `null`; nullability is already reported by `nullable`.
        .filter(|v| !v.is_null())
        .map(|v| match v {
            Value::String(s) => quote(s),
            other => quote(&other.to_string()),
        })
        .collect();
    Cause::new(
        "FieldValueNotSupported",
        field,
        format!(
            "Unsupported value: {}: supported values: {}",
            render(value),
            supported.join(", ")
        ),
    )
}

/// `Invalid value: <value>: <detail>`; `detail` usually starts with the field path.
pub(super) fn invalid(field: &str, value: &Value, detail: &str) -> Cause {
    Cause::new(
        "FieldValueInvalid",
        field,
        format!("Invalid value: {}: {detail}", render(value)),
    )
}

/// `Too long: may not be more than 10 bytes` (maxLength).
pub(super) fn too_long(field: &str, max: u64) -> Cause {
    let unit = if max == 1 { "byte" } else { "bytes" };
    Cause::new(
        "FieldValueTooLong",
        field,
        format!("Too long: may not be more than {max} {unit}"),
    )
}

/// `Too many: 4: must have at most 3 items` (maxItems, maxProperties).
pub(super) fn too_many(field: &str, actual: usize, max: u64) -> Cause {
    let unit = if max == 1 { "item" } else { "items" };
    Cause::new(
        "FieldValueTooMany",
        field,
        format!("Too many: {actual}: must have at most {max} {unit}"),
    )
}

/// The name kube-openapi puts in its messages: the field path, or `.` for the root.
pub(super) fn display_name(field: &str) -> &str {
    if field.is_empty() { "." } else { field }
}

/// A bad value the way `field.Error` prints it: strings quoted, scalars bare, composites as JSON.
pub(super) fn render(value: &Value) -> String {
    match value {
        Value::String(s) => quote(s),
        Value::Null => "\"null\"".to_string(),
        Value::Number(n) => number(n.as_f64().unwrap_or_default(), n),
        other => other.to_string(),
    }
}

/// Formats a schema bound the way Go's `%v` prints a float64 (`65535`, not `65535.0`).
pub(super) fn bound(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

fn number(x: f64, n: &serde_json::Number) -> String {
    if n.is_f64() { bound(x) } else { n.to_string() }
}

fn quote(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}
