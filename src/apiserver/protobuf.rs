//! Decoding of `application/vnd.kubernetes.protobuf` request bodies for the built-in
//! kinds kubectl writes with typed clients. kubectl 1.32+ sends `create namespace`,
//! `create secret` and `create configmap` as protobuf and does not fall back to JSON on
//! a 415, so the server must read them. Only the fields those kinds carry are decoded
//! (unknown field numbers are skipped); the result is the object's JSON form.

use base64::Engine;
use serde_json::{Map, Value, json};

use super::error::{ApiError, ApiResult};

/// The media type kubectl sends protobuf bodies with.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// How one protobuf field maps to JSON.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    /// `meta.v1.Time {seconds, nanos}`, rendered RFC 3339.
    Time,
    Msg(&'static [F]),
    RepStr,
    RepMsg(&'static [F]),
    MapStr,
    /// `map<string, bytes>`, values rendered base64 as Kubernetes' JSON does.
    MapBytes,
}

/// A field: number, JSON name, type.
type F = (u64, &'static str, Ty);

const OWNER_REFERENCE: &[F] = &[
    (5, "apiVersion", Ty::Str),
    (1, "kind", Ty::Str),
    (3, "name", Ty::Str),
    (4, "uid", Ty::Str),
    (6, "controller", Ty::Bool),
    (7, "blockOwnerDeletion", Ty::Bool),
];
const OBJECT_META: &[F] = &[
    (1, "name", Ty::Str),
    (2, "generateName", Ty::Str),
    (3, "namespace", Ty::Str),
    (5, "uid", Ty::Str),
    (6, "resourceVersion", Ty::Str),
    (7, "generation", Ty::Int),
    (8, "creationTimestamp", Ty::Time),
    (11, "labels", Ty::MapStr),
    (12, "annotations", Ty::MapStr),
    (13, "ownerReferences", Ty::RepMsg(OWNER_REFERENCE)),
    (14, "finalizers", Ty::RepStr),
];
const NAMESPACE: &[F] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "spec", Ty::Msg(&[(1, "finalizers", Ty::RepStr)])),
    (3, "status", Ty::Msg(&[(1, "phase", Ty::Str)])),
];
const SECRET: &[F] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapBytes),
    (3, "type", Ty::Str),
    (4, "stringData", Ty::MapStr),
    (5, "immutable", Ty::Bool),
];
const CONFIG_MAP: &[F] = &[
    (1, "metadata", Ty::Msg(OBJECT_META)),
    (2, "data", Ty::MapStr),
    (3, "binaryData", Ty::MapBytes),
    (4, "immutable", Ty::Bool),
];

/// Whether a `Content-Type` header value names the Kubernetes protobuf encoding.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|t| t.trim() == MEDIA_TYPE)
}

/// Decodes a protobuf envelope (`k8s\0` + `runtime.Unknown`) into the object's JSON:
/// 400 when it is malformed, 415 for a kind this server does not decode.
#[allow(clippy::result_large_err)] // ApiError is the crate-wide handler error
pub fn decode(bytes: &[u8]) -> ApiResult<Value> {
    match envelope(bytes) {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(ApiError::unsupported_media_type(
            MEDIA_TYPE,
            &["application/json"],
        )),
        Err(message) => Err(ApiError::bad_request(format!(
            "the protobuf request body is malformed: {message}"
        ))),
    }
}

type Result<T> = std::result::Result<T, String>;

/// The object in an envelope, or None for a kind without a schema here.
fn envelope(bytes: &[u8]) -> Result<Option<Value>> {
    let body = bytes
        .strip_prefix(MAGIC)
        .ok_or_else(|| bad("the body does not start with the k8s protobuf prefix"))?;
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    for (number, value) in fields(body)? {
        match (number, value) {
            (1, Wire::Len(type_meta)) => {
                for (n, v) in fields(type_meta)? {
                    match (n, v) {
                        (1, Wire::Len(s)) => api_version = utf8(s)?,
                        (2, Wire::Len(s)) => kind = utf8(s)?,
                        _ => {}
                    }
                }
            }
            (2, Wire::Len(bytes)) => raw = bytes,
            _ => {}
        }
    }
    let schema = match (api_version.as_str(), kind.as_str()) {
        ("v1", "Namespace") => NAMESPACE,
        ("v1", "Secret") => SECRET,
        ("v1", "ConfigMap") => CONFIG_MAP,
        _ => return Ok(None),
    };
    let mut object = message(raw, schema)?;
    object.insert("apiVersion".into(), json!(api_version));
    object.insert("kind".into(), json!(kind));
    Ok(Some(Value::Object(object)))
}

/// One wire value: varint or length-delimited (fixed-width values are skipped).
enum Wire<'a> {
    Varint(u64),
    Len(&'a [u8]),
    Fixed,
}

fn bad(message: &str) -> String {
    message.to_string()
}

fn utf8(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| bad("a string is not UTF-8"))
}

fn varint(bytes: &mut &[u8]) -> Result<u64> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or_else(|| bad("truncated varint"))?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(bad("varint too long"))
}

fn fields(mut bytes: &[u8]) -> Result<Vec<(u64, Wire<'_>)>> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        let key = varint(&mut bytes)?;
        let value = match key & 7 {
            0 => Wire::Varint(varint(&mut bytes)?),
            1 | 5 => {
                let width = if key & 7 == 1 { 8 } else { 4 };
                bytes = bytes
                    .get(width..)
                    .ok_or_else(|| bad("truncated fixed-width field"))?;
                Wire::Fixed
            }
            2 => {
                let len =
                    usize::try_from(varint(&mut bytes)?).map_err(|_| bad("length overflow"))?;
                let (value, rest) = (
                    bytes.get(..len).ok_or_else(|| bad("truncated field"))?,
                    &bytes[len..],
                );
                bytes = rest;
                Wire::Len(value)
            }
            other => return Err(bad(&format!("unsupported wire type {other}"))),
        };
        out.push((key >> 3, value));
    }
    Ok(out)
}

/// Decodes a message, leaving out what Go's `omitempty` would (empty strings, zero
/// numbers, false, zero times), since gogo-protobuf always writes scalar fields.
fn message(bytes: &[u8], schema: &[F]) -> Result<Map<String, Value>> {
    let mut object = Map::new();
    for (number, wire) in fields(bytes)? {
        let Some(&(_, name, ty)) = schema.iter().find(|f| f.0 == number) else {
            continue;
        };
        let value = match (ty, wire) {
            (Ty::Str, Wire::Len(s)) => Some(json!(utf8(s)?)).filter(|v| v != ""),
            (Ty::Int, Wire::Varint(n)) => (n != 0).then(|| json!(n as i64)),
            (Ty::Bool, Wire::Varint(n)) => (n != 0).then_some(json!(true)),
            (Ty::Time, Wire::Len(b)) => time(b)?,
            (Ty::Msg(inner), Wire::Len(b)) => Some(Value::Object(message(b, inner)?)),
            (Ty::RepStr, Wire::Len(s)) => {
                push(&mut object, name, json!(utf8(s)?));
                None
            }
            (Ty::RepMsg(inner), Wire::Len(b)) => {
                push(&mut object, name, Value::Object(message(b, inner)?));
                None
            }
            (Ty::MapStr | Ty::MapBytes, Wire::Len(b)) => {
                let (key, value) = map_entry(b, matches!(ty, Ty::MapBytes))?;
                object
                    .entry(name)
                    .or_insert_with(|| json!({}))
                    .as_object_mut()
                    .map(|m| m.insert(key, value));
                None
            }
            _ => return Err(bad(&format!("field {name} has the wrong wire type"))),
        };
        if let Some(value) = value {
            object.insert(name.into(), value);
        }
    }
    Ok(object)
}

/// Appends to a repeated field.
fn push(object: &mut Map<String, Value>, name: &str, item: Value) {
    if let Some(list) = object
        .entry(name)
        .or_insert_with(|| json!([]))
        .as_array_mut()
    {
        list.push(item);
    }
}

fn map_entry(bytes: &[u8], binary: bool) -> Result<(String, Value)> {
    let (mut key, mut value) = (String::new(), json!(""));
    for (number, wire) in fields(bytes)? {
        match (number, wire) {
            (1, Wire::Len(k)) => key = utf8(k)?,
            (2, Wire::Len(v)) if binary => {
                value = json!(base64::engine::general_purpose::STANDARD.encode(v))
            }
            (2, Wire::Len(v)) => value = json!(utf8(v)?),
            _ => {}
        }
    }
    Ok((key, value))
}

fn time(bytes: &[u8]) -> Result<Option<Value>> {
    let mut seconds = 0i64;
    for (number, wire) in fields(bytes)? {
        if let (1, Wire::Varint(n)) = (number, wire) {
            seconds = n as i64;
        }
    }
    if seconds == 0 {
        return Ok(None);
    }
    let at = jiff::Timestamp::from_second(seconds).map_err(|_| bad("time out of range"))?;
    Ok(Some(json!(at.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(number: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(number << 3 | 2) as u8, payload.len() as u8];
        out.extend_from_slice(payload);
        out
    }

    fn envelope(api_version: &str, kind: &str, raw: &[u8]) -> Vec<u8> {
        let type_meta = [field(1, api_version.as_bytes()), field(2, kind.as_bytes())].concat();
        [MAGIC.to_vec(), field(1, &type_meta), field(2, raw)].concat()
    }

    #[test]
    fn decodes_a_secret_as_kubectl_create_secret_sends_it() {
        let entry = [field(1, b"password"), field(2, b"hunter2")].concat();
        // gogo-protobuf writes every scalar: empty generateName, zero creationTimestamp.
        let meta = [
            field(1, b"db"),
            field(2, b""),
            field(3, b"default"),
            field(8, &[]),
            field(11, &[field(1, b"app"), field(2, b"x")].concat()),
        ]
        .concat();
        let raw = [field(1, &meta), field(2, &entry), field(3, b"Opaque")].concat();
        let object = decode(&envelope("v1", "Secret", &raw)).unwrap();
        assert_eq!(
            object,
            json!({"metadata": {"name": "db", "namespace": "default", "labels": {"app": "x"}}, "data": {"password": "aHVudGVyMg=="}, "type": "Opaque", "apiVersion": "v1", "kind": "Secret"})
        );
    }

    #[test]
    fn decodes_a_namespace_and_rejects_other_kinds_and_garbage() {
        let raw = [field(1, &field(1, b"team")), field(2, &[]), field(3, &[])].concat();
        let object = decode(&envelope("v1", "Namespace", &raw)).unwrap();
        assert_eq!(
            object,
            json!({"metadata": {"name": "team"}, "spec": {}, "status": {}, "apiVersion": "v1", "kind": "Namespace"})
        );
        assert_eq!(
            decode(&envelope("apps/v1", "Deployment", &raw))
                .unwrap_err()
                .code,
            415
        );
        assert_eq!(decode(b"{}").unwrap_err().code, 400);
        assert_eq!(
            decode(&[MAGIC, &[0x0a, 0x7f]].concat()).unwrap_err().code,
            400
        );
    }

    #[test]
    fn is_protobuf_ignores_parameters() {
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(is_protobuf(
            "application/vnd.kubernetes.protobuf; charset=utf-8"
        ));
        assert!(!is_protobuf("application/json"));
    }
}
