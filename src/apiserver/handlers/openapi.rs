//! OpenAPI v3: the root index (with content hashes) and one document per
//! group/version, generated from the served types' schemas. kubectl needs it for
//! `apply` (it checks the PATCH operation for `fieldValidation` and the accepted patch
//! types) and for `explain` (schemas tagged with `x-kubernetes-group-version-kind`).

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use super::respond;
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, Call};

const OBJECT_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const LIST_META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta";
const PATCH: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
const STATUS: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.Status";

/// `/openapi/v3`: every group/version with a hash of its document.
pub fn root(server: &ApiServer) -> Response {
    let mut paths = Map::new();
    for ((group, version), types) in by_group_version(server) {
        let prefix = url_prefix(&group, &version);
        let hash = hash(&document_for(&group, &version, &types));
        paths.insert(
            prefix.trim_start_matches('/').to_string(),
            json!({ "serverRelativeURL": format!("/openapi/v3{prefix}?hash={hash}") }),
        );
    }
    respond::json(StatusCode::OK, &json!({ "paths": paths }))
}

/// `/openapi/v3/api/v1` and `/openapi/v3/apis/<group>/<version>`.
pub fn document(server: &ApiServer, group: &str, version: &str) -> ApiResult<Response> {
    let all = by_group_version(server);
    let types = all
        .get(&(group.to_string(), version.to_string()))
        .ok_or_else(|| {
            ApiError::path_not_found(&format!("/openapi/v3{}", url_prefix(group, version)))
        })?;
    Ok(respond::json(
        StatusCode::OK,
        &document_for(group, version, types),
    ))
}

/// `/openapi/v2`: an empty Swagger 2.0 document. kubectl 1.27 and 1.28 load it before
/// `explain` (and give up on a 404) even though they then render from v3; an empty
/// protobuf message is a valid `openapi_v2.Document`. The real apiserver labels the
/// protobuf form `application/octet-stream` (Go's mime parser rejects the `@` in the
/// protobuf media type).
pub fn v2(call: &Call) -> Response {
    if call.header("accept").contains("protobuf") {
        return (
            StatusCode::OK,
            [(http::header::CONTENT_TYPE, "application/octet-stream")],
            Vec::<u8>::new(),
        )
            .into_response();
    }
    respond::json(
        StatusCode::OK,
        &json!({ "swagger": "2.0", "info": { "title": "Kubernetes", "version": "v1.35.0" }, "paths": {}, "definitions": {} }),
    )
}

fn by_group_version(server: &ApiServer) -> BTreeMap<(String, String), Vec<Arc<ResourceType>>> {
    let mut map: BTreeMap<(String, String), Vec<Arc<ResourceType>>> = BTreeMap::new();
    for rt in server.registry.all() {
        map.entry((rt.group.clone(), rt.version.clone()))
            .or_default()
            .push(rt);
    }
    map
}

fn url_prefix(group: &str, version: &str) -> String {
    if group.is_empty() {
        format!("/api/{version}")
    } else {
        format!("/apis/{group}/{version}")
    }
}

fn hash(doc: &Value) -> String {
    let digest = Sha256::digest(doc.to_string().as_bytes());
    digest.iter().take(16).map(|b| format!("{b:02X}")).collect()
}

/// The schema name Kubernetes uses: reversed group domain + version + kind.
fn schema_name(rt: &ResourceType, kind: &str) -> String {
    let prefix = match rt.group.as_str() {
        "" => "io.k8s.api.core".to_string(),
        "events.k8s.io" => "io.k8s.api.events".to_string(),
        "coordination.k8s.io" => "io.k8s.api.coordination".to_string(),
        "apiextensions.k8s.io" => {
            "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions".to_string()
        }
        group => group.split('.').rev().collect::<Vec<_>>().join("."),
    };
    format!("{prefix}.{}.{kind}", rt.version)
}

fn document_for(group: &str, version: &str, types: &[Arc<ResourceType>]) -> Value {
    let mut paths = Map::new();
    let mut schemas = Map::new();
    for rt in types {
        let gvk = json!({ "group": rt.group, "version": rt.version, "kind": rt.kind });
        let name = schema_name(rt, &rt.kind);
        schemas.insert(name.clone(), object_schema(rt, &gvk));
        let list_name = schema_name(rt, &rt.list_kind);
        schemas.insert(list_name.clone(), list_schema(rt, &name));
        let base = if rt.namespaced {
            format!(
                "{}/namespaces/{{namespace}}/{}",
                url_prefix(group, version),
                rt.plural
            )
        } else {
            format!("{}/{}", url_prefix(group, version), rt.plural)
        };
        paths.insert(base.clone(), collection_path(rt, &gvk, &name, &list_name));
        paths.insert(
            format!("{base}/{{name}}"),
            item_path(rt, &gvk, &name, "", true),
        );
        if rt.status_subresource {
            paths.insert(
                format!("{base}/{{name}}/status"),
                item_path(rt, &gvk, &name, "Status", false),
            );
        }
    }
    schemas.insert(OBJECT_META.into(), object_meta_schema());
    schemas.insert(LIST_META.into(), json!({ "type": "object", "description": "ListMeta describes metadata that synthetic resources must have, including lists.", "properties": {
        "resourceVersion": {"type": "string"}, "continue": {"type": "string"}, "remainingItemCount": {"type": "integer", "format": "int64"} } }));
    schemas.insert(PATCH.into(), json!({ "type": "object", "description": "Patch is provided to give a concrete name and type to the Kubernetes PATCH request body." }));
    schemas.insert(STATUS.into(), json!({ "type": "object", "description": "Status is a return value for calls that don't return other objects.", "x-kubernetes-preserve-unknown-fields": true }));
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": "v1.35.0" },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

fn object_schema(rt: &ResourceType, gvk: &Value) -> Value {
    let mut schema = match &rt.schema {
        Some(schema) => (**schema).clone(),
        None => json!({ "type": "object", "x-kubernetes-preserve-unknown-fields": true }),
    };
    let description = format!(
        "{} is a {} resource served by kaspire.",
        rt.kind,
        rt.api_version()
    );
    let map = schema.as_object_mut().expect("schemas are objects");
    map.entry("description").or_insert(json!(description));
    let properties = map.entry("properties").or_insert_with(|| json!({}));
    properties["apiVersion"] = json!({ "type": "string", "description": "APIVersion defines the versioned schema of this representation of an object." });
    properties["kind"] = json!({ "type": "string", "description": "Kind is a string value representing the REST resource this object represents." });
    properties["metadata"] = json!({ "allOf": [{ "$ref": format!("#/components/schemas/{OBJECT_META}") }], "default": {},
        "description": "Standard object's metadata. More info: https://git.k8s.io/community/contributors/devel/sig-architecture/api-conventions.md#metadata" });
    map.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
    schema
}

fn list_schema(rt: &ResourceType, item: &str) -> Value {
    json!({
        "type": "object",
        "description": format!("{} is a list of {}.", rt.list_kind, rt.kind),
        "required": ["items"],
        "properties": {
            "apiVersion": { "type": "string" },
            "kind": { "type": "string" },
            "items": { "type": "array", "items": { "$ref": format!("#/components/schemas/{item}") } },
            "metadata": { "allOf": [{ "$ref": format!("#/components/schemas/{LIST_META}") }], "default": {} },
        },
        "x-kubernetes-group-version-kind": [{ "group": rt.group, "version": rt.version, "kind": rt.list_kind }],
    })
}

fn query(name: &str, kind: &str, description: &str) -> Value {
    json!({ "name": name, "in": "query", "description": description, "schema": { "type": kind, "uniqueItems": true } })
}

fn write_params(apply: bool) -> Vec<Value> {
    let mut params = vec![
        query(
            "dryRun",
            "string",
            "When present, indicates that modifications should not be persisted. Valid values: All",
        ),
        query(
            "fieldManager",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "string",
            "Ignore, Warn (default) or Strict: how unknown or duplicate fields in the request are handled.",
        ),
    ];
    if apply {
        params.push(query("force", "boolean", "Force is going to \"force\" Apply requests: it re-acquires conflicting fields owned by other people."));
    }
    params
}

fn body_ref(schema: &str) -> Value {
    json!({ "schema": { "$ref": format!("#/components/schemas/{schema}") } })
}

fn responses(schema: &str) -> Value {
    json!({ "200": { "description": "OK", "content": { "application/json": body_ref(schema) } } })
}

fn operation(
    action: &str,
    id: String,
    gvk: &Value,
    params: Vec<Value>,
    response_schema: &str,
) -> Value {
    json!({
        "operationId": id,
        "parameters": params,
        "responses": responses(response_schema),
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": gvk,
    })
}

fn path_params(rt: &ResourceType, with_name: bool) -> Vec<Value> {
    let mut params = Vec::new();
    if with_name {
        params.push(json!({ "name": "name", "in": "path", "required": true, "description": "name of the object", "schema": { "type": "string", "uniqueItems": true } }));
    }
    if rt.namespaced {
        params.push(json!({ "name": "namespace", "in": "path", "required": true, "description": "object name and auth scope", "schema": { "type": "string", "uniqueItems": true } }));
    }
    params
}

fn collection_path(rt: &ResourceType, gvk: &Value, item: &str, list: &str) -> Value {
    let scope = if rt.namespaced { "Namespaced" } else { "" };
    let mut create = operation(
        "post",
        format!("create{scope}{}", rt.kind),
        gvk,
        write_params(false),
        item,
    );
    create["requestBody"] =
        json!({ "required": true, "content": { "application/json": body_ref(item) } });
    json!({
        "get": operation("list", format!("list{scope}{}", rt.kind), gvk, vec![
            query("labelSelector", "string", "A selector to restrict the list of returned objects by their labels."),
            query("fieldSelector", "string", "A selector to restrict the list of returned objects by their fields."),
            query("limit", "integer", "limit is a maximum number of responses to return for a list call."),
            query("continue", "string", "The continue option should be set when retrieving more results from the server."),
            query("watch", "boolean", "Watch for changes to the described resources."),
            query("resourceVersion", "string", "resourceVersion sets a constraint on what resource versions a request may be served from."),
        ], list),
        "post": create,
        "delete": operation("deletecollection", format!("deletecollection{scope}{}", rt.kind), gvk, vec![], STATUS),
        "parameters": path_params(rt, false),
    })
}

fn item_path(rt: &ResourceType, gvk: &Value, item: &str, suffix: &str, deletable: bool) -> Value {
    let scope = if rt.namespaced { "Namespaced" } else { "" };
    let kind = &rt.kind;
    let mut patch_types = Map::new();
    patch_types.insert("application/json-patch+json".into(), body_ref(PATCH));
    patch_types.insert("application/merge-patch+json".into(), body_ref(PATCH));
    if rt.strategic_merge_patch {
        patch_types.insert(
            "application/strategic-merge-patch+json".into(),
            body_ref(PATCH),
        );
    }
    patch_types.insert("application/apply-patch+yaml".into(), body_ref(PATCH));
    let mut patch = operation(
        "patch",
        format!("patch{scope}{kind}{suffix}"),
        gvk,
        write_params(true),
        item,
    );
    patch["requestBody"] = json!({ "required": true, "content": patch_types });
    let mut replace = operation(
        "put",
        format!("replace{scope}{kind}{suffix}"),
        gvk,
        write_params(false),
        item,
    );
    replace["requestBody"] =
        json!({ "required": true, "content": { "application/json": body_ref(item) } });
    let mut path = json!({
        "get": operation("get", format!("read{scope}{kind}{suffix}"), gvk, vec![], item),
        "put": replace,
        "patch": patch,
        "parameters": path_params(rt, true),
    });
    if deletable {
        path["delete"] = operation(
            "delete",
            format!("delete{scope}{kind}"),
            gvk,
            vec![
                query(
                    "dryRun",
                    "string",
                    "When present, indicates that modifications should not be persisted.",
                ),
                query(
                    "propagationPolicy",
                    "string",
                    "Whether and how garbage collection will be performed: Orphan, Background or Foreground.",
                ),
            ],
            STATUS,
        );
    }
    path
}

fn object_meta_schema() -> Value {
    let string = |d: &str| json!({ "type": "string", "description": d });
    let map = |d: &str| json!({ "type": "object", "additionalProperties": { "type": "string", "default": "" }, "description": d });
    json!({
        "type": "object",
        "description": "ObjectMeta is metadata that all persisted resources must have, which includes all objects users must create.",
        "properties": {
            "name": string("Name must be unique within a namespace. Required when creating resources."),
            "generateName": string("An optional prefix used by the server to generate a unique name when name is not set."),
            "namespace": string("Namespace defines the space within which each name must be unique."),
            "uid": string("UID is the unique in time and space value for this object, set by the server."),
            "resourceVersion": string("An opaque value that represents the internal version of this object, used for optimistic concurrency and watches."),
            "generation": { "type": "integer", "format": "int64", "description": "A sequence number representing a specific generation of the desired state." },
            "creationTimestamp": { "type": "string", "format": "date-time", "description": "When this object was created." },
            "deletionTimestamp": { "type": "string", "format": "date-time", "description": "When this object will be deleted; set by the server when deletion is requested." },
            "deletionGracePeriodSeconds": { "type": "integer", "format": "int64" },
            "labels": map("Map of string keys and values that can be used to organize and categorize (scope and select) objects."),
            "annotations": map("Unstructured key value map stored with a resource, e.g. kaspire.dev/restart-requested-at."),
            "finalizers": { "type": "array", "items": { "type": "string", "default": "" }, "x-kubernetes-list-type": "set",
                "description": "Must be empty before the object is deleted from the registry." },
            "ownerReferences": { "type": "array", "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                "description": "List of objects depended by this object. Deleting every owner deletes this object (garbage collection)." },
            "managedFields": { "type": "array", "items": { "type": "object", "x-kubernetes-preserve-unknown-fields": true },
                "description": "Which field managers own which fields (server-side apply)." },
        },
    })
}
