//! The `format`s structural validation checks: string formats kube-openapi's registry knows
//! (the ones CRDs use in practice) and the integer widths schemars emits (`int32`, `uint16`…).

use base64::Engine;
use serde_json::Value;

/// Whether `s` is valid for a string `format`; unknown formats accept anything, as in Kubernetes.
pub(super) fn string_matches(format: &str, s: &str) -> bool {
    match format {
        "date-time" | "datetime" => date_time(s),
        "date" => s.parse::<jiff::civil::Date>().is_ok(),
        "uuid" => uuid::Uuid::try_parse(s).is_ok(),
        "byte" => base64::engine::general_purpose::STANDARD.decode(s).is_ok(),
        _ => true,
    }
}

/// RFC 3339 with an offset, or the local-time layouts go-openapi's `strfmt` also accepts.
fn date_time(s: &str) -> bool {
    s.parse::<jiff::Timestamp>().is_ok()
        || (s.contains('T') && s.parse::<jiff::civil::DateTime>().is_ok())
}

/// The detail of an out-of-range error when an integer does not fit its `format`'s width.
pub(super) fn integer_out_of_range(format: &str, value: &Value, name: &str) -> Option<String> {
    let (min, max) = integer_range(format)?;
    let n = value
        .as_i64()
        .map(i128::from)
        .or_else(|| value.as_u64().map(i128::from))?;
    if n > max {
        Some(format!(
            "{name} in body should be less than or equal to {max}"
        ))
    } else if n < min {
        Some(format!(
            "{name} in body should be greater than or equal to {min}"
        ))
    } else {
        None
    }
}

fn integer_range(format: &str) -> Option<(i128, i128)> {
    let range = match format {
        "int8" => (i8::MIN.into(), i8::MAX.into()),
        "int16" => (i16::MIN.into(), i16::MAX.into()),
        "int32" => (i32::MIN.into(), i32::MAX.into()),
        "int64" | "int" => (i64::MIN.into(), i64::MAX.into()),
        "uint8" => (0, u8::MAX.into()),
        "uint16" => (0, u16::MAX.into()),
        "uint32" => (0, u32::MAX.into()),
        "uint64" | "uint" => (0, u64::MAX.into()),
        _ => return None,
    };
    Some(range)
}

/// Turns a whole float (`3.0`) into the integer `3` and reports whether it was whole:
/// Kubernetes accepts such numbers for integer fields and stores them as integers.
pub(super) fn integral(value: &mut Value) -> bool {
    match value.as_f64() {
        Some(x) if value.is_f64() && x.fract() == 0.0 && x.abs() < 9.0e15 => {
            *value = Value::from(x as i64);
            true
        }
        _ => false,
    }
}
