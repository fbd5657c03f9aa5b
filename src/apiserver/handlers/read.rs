//! GET of one object and LIST of a collection (selectors, pagination, Table output).

use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};

use super::{convert, respond};
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::object_meta;
use crate::apiserver::request::ResourcePath;
use crate::apiserver::resource::ResourceType;
use crate::apiserver::selectors::{FieldSelector, LabelSelector};
use crate::apiserver::server::{ApiServer, Call};
use crate::apiserver::store::ObjectKey;

/// GET `.../<plural>/<name>` (and `/status`, which returns the whole object too).
pub async fn get(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let name = path.name.as_deref().unwrap_or_default();
    let table = respond::wants_table(&call);
    let key = ObjectKey::new(&rt.storage, path.namespace.as_deref().unwrap_or(""), name);
    let stored = server
        .store
        .get(&key)
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
    let revision = object_meta::meta_str(&stored, "resourceVersion")
        .and_then(|rv| rv.parse().ok())
        .unwrap_or(0);
    server.store.wait_durable(revision).await;
    Ok(respond::object(
        StatusCode::OK,
        rt,
        table,
        &convert::to_view(rt, &stored),
    ))
}

/// The label and field selectors of a list or watch request.
pub struct Selection {
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Selection {
    pub fn from_call(rt: &ResourceType, call: &Call) -> ApiResult<Self> {
        let labels = LabelSelector::parse(call.query.get("labelSelector").unwrap_or(""))
            .map_err(|e| ApiError::bad_request(format!("invalid labelSelector: {e}")))?;
        let fields = FieldSelector::parse(call.query.get("fieldSelector").unwrap_or(""), |key| {
            rt.supports_field_selector(key)
        })
        .map_err(|e| ApiError::bad_request(format!("invalid fieldSelector: {e}")))?;
        Ok(Selection { labels, fields })
    }

    /// Whether an object (in its served form) is selected.
    pub fn matches(&self, object: &Value) -> bool {
        let labels = object_meta::meta(object)
            .and_then(|m| m.get("labels"))
            .and_then(Value::as_object);
        self.labels.matches(labels) && self.fields.matches(object)
    }
}

/// A list response, serialized straight from (mostly borrowed) items.
#[derive(serde::Serialize)]
struct ListBody<'a> {
    #[serde(rename = "apiVersion")]
    api_version: String,
    kind: &'a str,
    metadata: Value,
    items: &'a [std::borrow::Cow<'a, Value>],
}

/// Where a paginated list continues: the list's revision and the last key returned.
#[derive(serde::Serialize, serde::Deserialize)]
struct ContinueToken {
    rv: u64,
    ns: String,
    name: String,
}

/// LIST `.../<plural>` with `labelSelector`, `fieldSelector`, `limit` and `continue`.
pub async fn list(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let selection = Selection::from_call(rt, &call)?;
    let table = respond::wants_table(&call);
    let limit = call
        .query
        .number("limit")?
        .filter(|l| *l > 0)
        .map(|l| l as usize);
    let resume = call
        .query
        .get("continue")
        .map(|token| decode_continue(server, token))
        .transpose()?;
    let after = resume
        .as_ref()
        .map(|t| ObjectKey::new(&rt.storage, &t.ns, &t.name));
    let (stored, revision) =
        server
            .store
            .list(&rt.storage, path.namespace.as_deref(), after.as_ref());
    let list_revision = resume.as_ref().map(|t| t.rv).unwrap_or(revision);
    server.store.wait_durable(revision).await;

    let mut items = Vec::new();
    let mut next = None;
    for object in stored.iter() {
        let view = convert::served(rt, object);
        if !selection.matches(&view) {
            continue;
        }
        if limit.is_some_and(|l| items.len() == l) {
            let last: &Value = items
                .last()
                .map(|item: &std::borrow::Cow<Value>| item.as_ref())
                .expect("limit > 0");
            next = Some(encode_continue(list_revision, last));
            break;
        }
        items.push(view);
    }

    let mut metadata = json!({ "resourceVersion": list_revision.to_string() });
    if let Some(token) = next {
        metadata["continue"] = Value::String(token);
    }
    if let Some(include) = table {
        let refs: Vec<&Value> = items.iter().map(|item| item.as_ref()).collect();
        return Ok(respond::json(
            StatusCode::OK,
            &respond::table(rt, &refs, include, metadata),
        ));
    }
    let list = ListBody {
        api_version: rt.api_version(),
        kind: &rt.list_kind,
        metadata,
        items: &items,
    };
    let body = serde_json::to_vec(&list).map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(respond::json_bytes(StatusCode::OK, body))
}

fn encode_continue(rv: u64, last: &Value) -> String {
    let token = ContinueToken {
        rv,
        ns: object_meta::meta_str(last, "namespace")
            .unwrap_or("")
            .to_string(),
        name: object_meta::name(last).to_string(),
    };
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&token).expect("token serializes"))
}

fn decode_continue(server: &ApiServer, token: &str) -> ApiResult<ContinueToken> {
    let token: ContinueToken = URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or_else(|| ApiError::bad_request("invalid continue token: it was not returned by this server; start a new list without it"))?;
    if token.rv < server.store.compacted_revision() {
        return Err(ApiError::gone(
            "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.",
        ));
    }
    Ok(token)
}
