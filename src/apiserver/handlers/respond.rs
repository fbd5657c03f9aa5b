//! Response rendering: JSON bodies, Table output for `kubectl get`, warning headers.

use axum::response::{IntoResponse, Response};
use http::{HeaderValue, StatusCode, header};
use serde_json::Value;

use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::Call;
use crate::apiserver::table::{self, IncludeObject};

/// A response with an already serialized JSON body.
pub fn json_bytes(code: StatusCode, body: Vec<u8>) -> Response {
    (code, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

/// A JSON response with the given status code.
pub fn json(code: StatusCode, value: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        value.to_string(),
    )
        .into_response()
}

/// Adds `Warning: 299 - "..."` headers, which kubectl prints as `Warning: ...`.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for warning in warnings {
        let text = format!("299 - {:?}", warning);
        if let Ok(value) = HeaderValue::from_str(&text) {
            response.headers_mut().append(header::WARNING, value);
        }
    }
    response
}

/// Whether the client asked for a `meta.k8s.io` Table (kubectl get) and with which object form.
pub fn wants_table(call: &Call) -> Option<IncludeObject> {
    let accept = call.header("accept");
    let table = accept.split(',').any(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io")
    });
    // The value was validated when the request was routed.
    table.then(|| IncludeObject::parse(call.query.get("includeObject")).unwrap_or_default())
}

/// A Table of `objects` with the type's printer columns.
pub fn table(
    rt: &ResourceType,
    objects: &[&Value],
    include: IncludeObject,
    list_metadata: Value,
) -> Value {
    table::table(&rt.printer_columns, objects, include, list_metadata)
}

/// One object, as JSON or (when `table` is set) as a one-row Table.
pub fn object(
    code: StatusCode,
    rt: &ResourceType,
    table: Option<IncludeObject>,
    object: &Value,
) -> Response {
    match table {
        Some(include) => {
            let rv = object
                .pointer("/metadata/resourceVersion")
                .cloned()
                .unwrap_or(Value::Null);
            json(
                code,
                &self::table(
                    rt,
                    &[object],
                    include,
                    serde_json::json!({ "resourceVersion": rv }),
                ),
            )
        }
        None => json(code, object),
    }
}
