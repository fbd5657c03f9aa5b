//! Discovery: `/version`, legacy APIVersions/APIGroupList/APIResourceList, and
//! aggregated discovery (apidiscovery.k8s.io v2 and v2beta1), which client-go picks
//! only when the response Content-Type names it.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};
use serde_json::{Value, json};

use super::respond;
use crate::apiserver::error::{ApiError, ApiResult};
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, Call};

const VERBS: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const SUBRESOURCE_VERBS: &[&str] = &["get", "patch", "update"];

/// `/version`: the Kubernetes version kaspire's API matches, plus kaspire's own.
pub fn version() -> Response {
    respond::json(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": "35",
            "gitVersion": format!("v1.35.0-kaspire.{}", env!("CARGO_PKG_VERSION")),
            "gitCommit": "",
            "gitTreeState": "clean",
            "buildDate": "",
            "goVersion": "",
            "compiler": "rustc",
            "platform": format!("{}/{}", std::env::consts::OS, std::env::consts::ARCH),
        }),
    )
}

/// Which aggregated discovery version the client accepts first, if any.
fn aggregated_version(call: &Call) -> Option<&'static str> {
    call.header("accept").split(',').find_map(|media| {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if !params.contains(&"g=apidiscovery.k8s.io")
            || !params.contains(&"as=APIGroupDiscoveryList")
        {
            return None;
        }
        if params.contains(&"v=v2") {
            Some("v2")
        } else if params.contains(&"v=v2beta1") {
            Some("v2beta1")
        } else {
            None
        }
    })
}

fn aggregated(server: &ApiServer, core: bool, version: &str) -> Response {
    let groups = grouped(server);
    let items: Vec<Value> = groups
        .iter()
        .filter(|(group, _)| group.is_empty() == core)
        .map(|(group, versions)| {
            let versions: Vec<Value> = versions
                .iter()
                .map(|(version, types)| {
                    json!({
                        "version": version,
                        "resources": types.iter().map(|rt| discovery_v2_resource(rt)).collect::<Vec<_>>(),
                        "freshness": "Current",
                    })
                })
                .collect();
            let metadata = if group.is_empty() { json!({ "creationTimestamp": null }) } else { json!({ "name": group, "creationTimestamp": null }) };
            json!({ "metadata": metadata, "versions": versions })
        })
        .collect();
    let body = json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": format!("apidiscovery.k8s.io/{version}"),
        "metadata": {},
        "items": items,
    });
    let content_type =
        format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList");
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, content_type)],
        body.to_string(),
    )
        .into_response()
}

fn discovery_v2_resource(rt: &ResourceType) -> Value {
    let kind = json!({ "group": rt.group, "version": rt.version, "kind": rt.kind });
    let mut subresources = Vec::new();
    if rt.status_subresource {
        subresources.push(
            json!({ "subresource": "status", "responseKind": kind, "verbs": SUBRESOURCE_VERBS }),
        );
    }
    if rt.log_subresource {
        subresources.push(json!({ "subresource": "log", "responseKind": {"group": "", "version": "", "kind": "string"}, "verbs": ["get"] }));
    }
    let mut resource = json!({
        "resource": rt.plural,
        "responseKind": kind,
        "scope": if rt.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": rt.singular,
        "verbs": VERBS,
    });
    if !rt.short_names.is_empty() {
        resource["shortNames"] = json!(rt.short_names);
    }
    if !rt.categories.is_empty() {
        resource["categories"] = json!(rt.categories);
    }
    if !subresources.is_empty() {
        resource["subresources"] = json!(subresources);
    }
    resource
}

/// group → version → types, groups in name order (core first).
fn grouped(server: &ApiServer) -> BTreeMap<String, BTreeMap<String, Vec<Arc<ResourceType>>>> {
    let mut groups: BTreeMap<String, BTreeMap<String, Vec<Arc<ResourceType>>>> = BTreeMap::new();
    for rt in server.registry.all() {
        groups
            .entry(rt.group.clone())
            .or_default()
            .entry(rt.version.clone())
            .or_default()
            .push(rt);
    }
    groups
}

/// `/api`.
pub fn core(server: &ApiServer, call: &Call) -> Response {
    if let Some(version) = aggregated_version(call) {
        return aggregated(server, true, version);
    }
    respond::json(
        StatusCode::OK,
        &json!({
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{ "clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1" }],
        }),
    )
}

fn group_json(group: &str, versions: &BTreeMap<String, Vec<Arc<ResourceType>>>) -> Value {
    let list: Vec<Value> = versions
        .keys()
        .map(|v| json!({ "groupVersion": format!("{group}/{v}"), "version": v }))
        .collect();
    json!({ "name": group, "versions": list, "preferredVersion": list.first().cloned().unwrap_or(Value::Null) })
}

/// `/apis`.
pub fn groups(server: &ApiServer, call: &Call) -> Response {
    if let Some(version) = aggregated_version(call) {
        return aggregated(server, false, version);
    }
    let groups: Vec<Value> = grouped(server)
        .iter()
        .filter(|(g, _)| !g.is_empty())
        .map(|(g, versions)| group_json(g, versions))
        .collect();
    respond::json(
        StatusCode::OK,
        &json!({ "kind": "APIGroupList", "apiVersion": "v1", "groups": groups }),
    )
}

/// `/apis/<group>`.
pub fn group(server: &ApiServer, group: &str) -> ApiResult<Response> {
    let groups = grouped(server);
    let versions = groups
        .get(group)
        .filter(|_| !group.is_empty())
        .ok_or_else(|| ApiError::path_not_found(&format!("/apis/{group}")))?;
    let mut body = group_json(group, versions);
    body["kind"] = json!("APIGroup");
    body["apiVersion"] = json!("v1");
    Ok(respond::json(StatusCode::OK, &body))
}

/// `/api/v1` and `/apis/<group>/<version>`: the APIResourceList.
pub fn resources(server: &ApiServer, group: &str, version: &str) -> ApiResult<Response> {
    let types: Vec<Arc<ResourceType>> = server
        .registry
        .all()
        .into_iter()
        .filter(|rt| rt.group == group && rt.version == version)
        .collect();
    if types.is_empty() {
        return Err(ApiError::path_not_found(&format!("{group}/{version}")));
    }
    let mut resources = Vec::new();
    for rt in &types {
        let mut resource = json!({
            "name": rt.plural,
            "singularName": rt.singular,
            "namespaced": rt.namespaced,
            "kind": rt.kind,
            "verbs": VERBS,
        });
        if !rt.short_names.is_empty() {
            resource["shortNames"] = json!(rt.short_names);
        }
        if !rt.categories.is_empty() {
            resource["categories"] = json!(rt.categories);
        }
        resources.push(resource);
        if rt.status_subresource {
            resources.push(json!({ "name": format!("{}/status", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": SUBRESOURCE_VERBS }));
        }
        if rt.log_subresource {
            resources.push(json!({ "name": format!("{}/log", rt.plural), "singularName": "", "namespaced": rt.namespaced, "kind": rt.kind, "verbs": ["get"] }));
        }
    }
    let group_version = if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    };
    Ok(respond::json(
        StatusCode::OK,
        &json!({ "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": group_version, "resources": resources }),
    ))
}
