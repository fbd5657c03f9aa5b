//! DELETE of one object or a collection, with finalizers, preconditions and the
//! three propagation policies (the garbage collector does the cascading).

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::read::Selection;
use super::{convert, respond};
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::object_meta;
use crate::apiserver::request::ResourcePath;
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, Call};
use crate::apiserver::store::{Decision, ObjectKey, Store};

/// The finalizer that holds an owner until its dependents are gone.
pub const FOREGROUND_FINALIZER: &str = "foregroundDeletion";
/// The finalizer that holds an owner until its dependents are released.
pub const ORPHAN_FINALIZER: &str = "orphan";

/// `propagationPolicy` of a delete.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Propagation {
    Background,
    Foreground,
    Orphan,
}

/// What a delete request asks for.
#[derive(Debug, Clone)]
pub struct DeleteOptions {
    pub propagation: Propagation,
    pub uid: Option<String>,
    pub resource_version: Option<String>,
    pub dry_run: bool,
}

impl DeleteOptions {
    pub fn background() -> Self {
        DeleteOptions {
            propagation: Propagation::Background,
            uid: None,
            resource_version: None,
            dry_run: false,
        }
    }

    /// From the DeleteOptions body (kubectl, kube-rs) and/or query parameters.
    async fn from_call(call: Call) -> ApiResult<Self> {
        let query = call.query.clone();
        let bytes = call.body_bytes().await?;
        let body: Value = if bytes.iter().all(u8::is_ascii_whitespace) {
            json!({})
        } else {
            serde_json::from_slice(&bytes).map_err(|e| {
                ApiError::bad_request(format!("the DeleteOptions body is not valid JSON: {e}"))
            })?
        };
        let policy = body
            .get("propagationPolicy")
            .and_then(Value::as_str)
            .or(query.get("propagationPolicy"));
        let orphan_legacy = body
            .get("orphanDependents")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let propagation = match policy {
            Some("Foreground") => Propagation::Foreground,
            Some("Orphan") => Propagation::Orphan,
            Some("Background") => Propagation::Background,
            None if orphan_legacy => Propagation::Orphan,
            None => Propagation::Background,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "propagationPolicy must be one of \"Background\", \"Foreground\" or \"Orphan\", not {other:?}"
                )));
            }
        };
        let body_dry_run = body
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"));
        Ok(DeleteOptions {
            propagation,
            uid: body
                .pointer("/preconditions/uid")
                .and_then(Value::as_str)
                .map(String::from),
            resource_version: body
                .pointer("/preconditions/resourceVersion")
                .and_then(Value::as_str)
                .map(String::from),
            dry_run: body_dry_run || query.dry_run()?,
        })
    }
}

/// Deletes (or starts deleting) one stored object. Returns the object as it now is and
/// whether it is gone; `None` when there was nothing to delete.
pub async fn delete_object(
    store: &Store,
    rt_names: (&str, &str),
    key: &ObjectKey,
    options: &DeleteOptions,
) -> ApiResult<Option<(Value, bool)>> {
    let (group, plural) = rt_names;
    let mut gone = false;
    let written = store
        .write(key, options.dry_run, |current, _| {
            let current = current.ok_or_else(|| ApiError::not_found(group, plural, &key.name))?;
            if let Some(uid) = &options.uid {
                if uid != object_meta::uid(current) {
                    return Err(ApiError::conflict_message(format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        object_meta::uid(current)
                    )));
                }
            }
            if let Some(rv) = &options.resource_version {
                if Some(rv.as_str()) != object_meta::meta_str(current, "resourceVersion") {
                    return Err(ApiError::conflict(group, plural, &key.name));
                }
            }
            let mut object = (**current).clone();
            let mut finalizers = object_meta::finalizers(&object);
            let policy_finalizer = match options.propagation {
                Propagation::Foreground => Some(FOREGROUND_FINALIZER),
                Propagation::Orphan => Some(ORPHAN_FINALIZER),
                Propagation::Background => None,
            };
            if let Some(f) = policy_finalizer {
                if !finalizers.iter().any(|x| x == f) {
                    finalizers.push(f.to_string());
                }
            }
            if finalizers.is_empty() {
                gone = true;
                return Ok(Decision::Delete);
            }
            if object_meta::is_deleting(&object) && object_meta::finalizers(&object) == finalizers {
                return Ok(Decision::Keep);
            }
            object_meta::set_finalizers(&mut object, &finalizers);
            let meta = object_meta::meta_mut(&mut object);
            meta.entry("deletionTimestamp")
                .or_insert_with(|| json!(object_meta::now()));
            meta.entry("deletionGracePeriodSeconds").or_insert(json!(0));
            Ok(Decision::Put(object))
        })
        .await?;
    Ok(written.object.map(|o| ((*o).clone(), gone)))
}

/// DELETE `.../<plural>/<name>`.
pub async fn delete_one(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let shape = call.without_body();
    let options = DeleteOptions::from_call(call).await?;
    let name = path.name.clone().unwrap_or_default();
    let key = ObjectKey::new(&rt.storage, path.namespace.as_deref().unwrap_or(""), &name);
    let (object, gone) = delete_object(&server.store, (&rt.group, &rt.plural), &key, &options)
        .await?
        .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
    if gone && !options.dry_run {
        super::kinds::after_delete(server, rt, &object);
    }
    if gone {
        return Ok(respond::json(StatusCode::OK, &success_status(rt, &object)));
    }
    Ok(respond::object(
        StatusCode::OK,
        rt,
        respond::wants_table(&shape),
        &convert::to_view(rt, &object),
    ))
}

/// DELETE `.../<plural>` (deletecollection) with selectors: returns the affected objects.
pub async fn delete_collection(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let selection = Selection::from_call(rt, &call)?;
    let options = DeleteOptions::from_call(call).await?;
    let (objects, _) = server
        .store
        .list(&rt.storage, path.namespace.as_deref(), None);
    let mut items = Vec::new();
    for object in objects
        .iter()
        .filter(|o| selection.matches(&convert::to_view(rt, o)))
    {
        let key = ObjectKey::new(
            &rt.storage,
            object_meta::meta_str(object, "namespace").unwrap_or(""),
            object_meta::name(object),
        );
        match delete_object(&server.store, (&rt.group, &rt.plural), &key, &options).await {
            Ok(Some((object, gone))) => {
                if gone && !options.dry_run {
                    super::kinds::after_delete(server, rt, &object);
                }
                items.push(convert::to_view(rt, &object));
            }
            Ok(None) => {}
            Err(e) if e.code == 404 => {}
            Err(e) => return Err(e),
        }
    }
    let list = json!({
        "apiVersion": rt.api_version(),
        "kind": rt.list_kind,
        "metadata": { "resourceVersion": server.store.revision().to_string() },
        "items": items,
    });
    Ok(respond::json(StatusCode::OK, &list))
}

fn success_status(rt: &ResourceType, object: &Value) -> Value {
    let mut details = json!({ "name": object_meta::name(object), "kind": rt.plural, "uid": object_meta::uid(object) });
    if !rt.group.is_empty() {
        details["group"] = json!(rt.group);
    }
    json!({ "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details })
}
