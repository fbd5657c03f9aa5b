//! Create (POST), update (PUT), and patch (PATCH: merge, JSON, strategic for built-in
//! kinds, and server-side apply). Every write runs the same admission pipeline,
//! [`Admit::admit`], inside the store lock.

use axum::response::Response;
use http::StatusCode;
use serde_json::{Value, json};

use super::{convert, kinds, respond};
use crate::apiserver::error::{ApiError, ApiResult, Cause};
use crate::apiserver::managed_fields::{self, ApplyRequest};
use crate::apiserver::object_meta::{self, meta_mut};
use crate::apiserver::protobuf;
use crate::apiserver::request::ResourcePath;
use crate::apiserver::resource::ResourceType;
use crate::apiserver::server::{ApiServer, Call};
use crate::apiserver::store::{Decision, ObjectKey, StoreView};
use crate::apiserver::validation;

/// How unknown fields are treated (`fieldValidation` query parameter).
#[derive(Debug, Clone, Copy, PartialEq)]
enum FieldValidation {
    Ignore,
    Warn,
    Strict,
}

/// One write request's settings, shared by every verb.
struct Admit<'a> {
    server: &'a ApiServer,
    rt: &'a ResourceType,
    path: &'a ResourcePath,
    manager: String,
    validation: FieldValidation,
    dry_run: bool,
    /// Writing the `/status` subresource.
    status: bool,
    now: String,
}

impl<'a> Admit<'a> {
    fn new(
        server: &'a ApiServer,
        rt: &'a ResourceType,
        path: &'a ResourcePath,
        call: &Call,
    ) -> ApiResult<Self> {
        let validation = match call.query.get("fieldValidation") {
            None | Some("Warn") => FieldValidation::Warn,
            Some("Strict") => FieldValidation::Strict,
            Some("Ignore") => FieldValidation::Ignore,
            Some(other) => {
                return Err(ApiError::bad_request(format!(
                    "fieldValidation must be one of \"Ignore\", \"Warn\" or \"Strict\", not {other:?}"
                )));
            }
        };
        Ok(Admit {
            server,
            rt,
            path,
            manager: field_manager(call),
            validation,
            dry_run: call.query.dry_run()?,
            status: path.subresource.as_deref() == Some("status"),
            now: object_meta::now(),
        })
    }

    fn key(&self, name: &str) -> ObjectKey {
        ObjectKey::new(
            &self.rt.storage,
            self.path.namespace.as_deref().unwrap_or(""),
            name,
        )
    }

    /// The admission pipeline: type checks, metadata rules, kind rules, schema
    /// validation and defaulting, admission hooks, generation and managedFields.
    /// `old` and `new` are in the request's (view) form.
    fn admit(
        &self,
        old: Option<&Value>,
        mut new: Value,
        view: &StoreView<'_>,
        applied: bool,
        warnings: &mut Vec<String>,
    ) -> ApiResult<Decision> {
        let rt = self.rt;
        self.check_type_meta(&new)?;
        new["apiVersion"] = json!(rt.api_version());
        new["kind"] = json!(rt.kind);
        let name = object_meta::name(&new).to_string();
        match old {
            Some(old) => new = self.carry_over(old, new),
            None => self.initialize(&mut new, view)?,
        }

        kinds::normalize(rt, old, &mut new)?;
        let mut causes = Vec::new();
        if let Some(schema) = &rt.schema {
            let outcome = validation::validate(schema, &mut new);
            causes.extend(outcome.causes);
            self.unknown_fields(outcome.unknown_fields, warnings)?;
        }
        if old.is_none() {
            causes.extend(object_meta::validate_name(&name, "metadata.name"));
        }
        causes.extend(kinds::validate(rt, &new));
        causes.extend(self.server.admit(rt, &new, view));
        if let Some(old) = old {
            causes.extend(finalizer_rules(old, &new));
        }
        if !causes.is_empty() {
            return Err(ApiError::invalid(&rt.group, &rt.kind, &name, causes));
        }

        if let Some(old) = old {
            if rt.tracks_generation() && spec_changed(old, &new) {
                meta_mut(&mut new)
                    .insert("generation".into(), json!(object_meta::generation(old) + 1));
            }
            if unchanged(old, &new) {
                return Ok(Decision::Keep);
            }
        }
        if !applied {
            let subresource = self.status.then_some("status");
            managed_fields::record_update(
                old,
                &mut new,
                &self.manager,
                subresource,
                &rt.api_version(),
                &self.now,
            );
        }
        if object_meta::is_deleting(&new) && object_meta::finalizers(&new).is_empty() {
            return Ok(Decision::Delete);
        }
        Ok(Decision::Put(convert::to_storage(rt, new)))
    }

    fn check_type_meta(&self, new: &Value) -> ApiResult<()> {
        let rt = self.rt;
        if !new.is_object() {
            return Err(ApiError::bad_request(format!(
                "the body must be a {} object",
                rt.kind
            )));
        }
        if let Some(api_version) = new.get("apiVersion").and_then(Value::as_str) {
            if api_version != rt.api_version() {
                return Err(ApiError::bad_request(format!(
                    "the API version in the data ({api_version}) does not match the expected API version ({})",
                    rt.api_version()
                )));
            }
        }
        if let Some(kind) = new.get("kind").and_then(Value::as_str) {
            if kind != rt.kind {
                return Err(ApiError::bad_request(format!(
                    "the kind in the data ({kind}) does not match the expected kind ({})",
                    rt.kind
                )));
            }
        }
        if new.get("metadata").is_some_and(|m| !m.is_object()) {
            return Err(ApiError::bad_request("metadata must be an object"));
        }
        let body_ns = object_meta::meta_str(new, "namespace");
        if rt.namespaced {
            if let (Some(body_ns), Some(path_ns)) = (body_ns, self.path.namespace.as_deref()) {
                if body_ns != path_ns {
                    return Err(ApiError::bad_request(format!(
                        "the namespace of the provided object ({body_ns}) does not match the namespace sent on the request ({path_ns})"
                    )));
                }
            }
        }
        if let (Some(path_name), Some(body_name)) = (
            self.path.name.as_deref(),
            object_meta::meta_str(new, "name"),
        ) {
            if path_name != body_name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({path_name})"
                )));
            }
        }
        Ok(())
    }

    /// Fields a new object gets from the server; the namespace must exist.
    fn initialize(&self, new: &mut Value, view: &StoreView<'_>) -> ApiResult<()> {
        if self.rt.namespaced {
            let namespace = self.path.namespace.clone().unwrap_or_default();
            let ns_key = ObjectKey::new(
                &crate::apiserver::resource::StorageId(
                    crate::apiserver::builtin::NAMESPACES_STORAGE.into(),
                ),
                "",
                &namespace,
            );
            if view.get(&ns_key).is_none() {
                return Err(ApiError::not_found("", "namespaces", &namespace));
            }
            meta_mut(new).insert("namespace".into(), json!(namespace));
        } else {
            meta_mut(new).remove("namespace");
        }
        let meta = meta_mut(new);
        meta.insert("uid".into(), json!(uuid::Uuid::new_v4().to_string()));
        meta.insert("creationTimestamp".into(), json!(self.now));
        if self.rt.tracks_generation() {
            meta.insert("generation".into(), json!(1));
        }
        for field in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ] {
            meta.remove(field);
        }
        if self.rt.status_subresource {
            if let Some(map) = new.as_object_mut() {
                map.remove("status");
            }
        }
        Ok(())
    }

    /// The fields an update may not change, taken from the stored object; with a status
    /// subresource, main writes keep the old status and status writes keep the rest.
    fn carry_over(&self, old: &Value, mut new: Value) -> Value {
        if self.status {
            let mut merged = old.clone();
            merged["status"] = new.get("status").cloned().unwrap_or(Value::Null);
            if merged["status"].is_null() {
                merged.as_object_mut().map(|m| m.remove("status"));
            }
            if let Some(fields) = object_meta::meta(&new)
                .and_then(|m| m.get("managedFields"))
                .cloned()
            {
                meta_mut(&mut merged).insert("managedFields".into(), fields);
            }
            return merged;
        }
        if self.rt.status_subresource {
            match old.get("status") {
                Some(status) => new["status"] = status.clone(),
                None => {
                    new.as_object_mut().map(|m| m.remove("status"));
                }
            }
        }
        let old_meta = object_meta::meta(old).cloned().unwrap_or_default();
        let meta = meta_mut(&mut new);
        if !meta.contains_key("managedFields") {
            if let Some(fields) = old_meta.get("managedFields") {
                meta.insert("managedFields".into(), fields.clone());
            }
        }
        for field in [
            "name",
            "namespace",
            "uid",
            "creationTimestamp",
            "generation",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
        ] {
            match old_meta.get(field) {
                Some(value) => meta.insert(field.into(), value.clone()),
                None => meta.remove(field),
            };
        }
        new
    }

    fn unknown_fields(&self, unknown: Vec<String>, warnings: &mut Vec<String>) -> ApiResult<()> {
        if unknown.is_empty() {
            return Ok(());
        }
        match self.validation {
            FieldValidation::Ignore => Ok(()),
            FieldValidation::Warn => {
                warnings.extend(unknown.iter().map(|f| format!("unknown field \"{f}\"")));
                Ok(())
            }
            FieldValidation::Strict => {
                let list: Vec<String> = unknown
                    .iter()
                    .map(|f| format!("unknown field \"{f}\""))
                    .collect();
                Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    list.join(", ")
                )))
            }
        }
    }
}

/// POST: create an object.
pub async fn create(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let admit = Admit::new(server, rt, path, &call)?;
    let shape = call.without_body();
    let content_type = call.header("content-type").to_string();
    let mut object = decode_body(&content_type, &call.body_bytes().await?)?;
    if !object.is_object() {
        return Err(ApiError::bad_request(format!(
            "the body must be a {} object",
            rt.kind
        )));
    }
    let name = resolve_name(&mut object, rt)?;
    let mut warnings = Vec::new();
    let written = server
        .store
        .write(&admit.key(&name), admit.dry_run, |current, view| {
            if current.is_some() {
                return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
            }
            admit.admit(None, object, view, false, &mut warnings)
        })
        .await?;
    finish(
        &admit,
        &shape,
        written.object,
        StatusCode::CREATED,
        &warnings,
    )
}

/// PUT: replace an object (or its status); requires the current resourceVersion.
pub async fn update(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let admit = Admit::new(server, rt, path, &call)?;
    let name = path.name.clone().unwrap_or_default();
    let shape = call.without_body();
    let content_type = call.header("content-type").to_string();
    let object = decode_body(&content_type, &call.body_bytes().await?)?;
    let mut warnings = Vec::new();
    let written = server
        .store
        .write(&admit.key(&name), admit.dry_run, |current, view| {
            let current =
                current.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
            let old = convert::to_view(rt, current);
            match object_meta::meta_str(&object, "resourceVersion") {
                None => {
                    return Err(ApiError::invalid(
                        &rt.group,
                        &rt.kind,
                        &name,
                        vec![Cause::new(
                            "FieldValueInvalid",
                            "metadata.resourceVersion",
                            "Invalid value: 0x0: must be specified for an update",
                        )],
                    ));
                }
                Some(rv) if Some(rv) != object_meta::meta_str(&old, "resourceVersion") => {
                    return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
                }
                Some(_) => {}
            }
            admit.admit(Some(&old), object, view, false, &mut warnings)
        })
        .await?;
    finish(&admit, &shape, written.object, StatusCode::OK, &warnings)
}

/// The patch formats, by `Content-Type`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum PatchType {
    Json,
    Merge,
    Strategic,
    Apply,
}

/// PATCH: JSON patch, merge patch, strategic merge patch (built-in kinds) or apply.
pub async fn patch(
    server: &ApiServer,
    rt: &ResourceType,
    path: &ResourcePath,
    call: Call,
) -> ApiResult<Response> {
    let admit = Admit::new(server, rt, path, &call)?;
    let content_type = call
        .header("content-type")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    let patch_type = match content_type.as_str() {
        "application/json-patch+json" => PatchType::Json,
        "application/merge-patch+json" => PatchType::Merge,
        "application/strategic-merge-patch+json" if rt.strategic_merge_patch => {
            PatchType::Strategic
        }
        "application/apply-patch+yaml" | "application/apply-patch+json" => PatchType::Apply,
        other => {
            let mut allowed = vec![
                "application/json-patch+json",
                "application/merge-patch+json",
                "application/apply-patch+yaml",
            ];
            if rt.strategic_merge_patch {
                allowed.push("application/strategic-merge-patch+json");
            }
            return Err(ApiError::unsupported_media_type(other, &allowed));
        }
    };
    let force = call.query.flag("force");
    if patch_type == PatchType::Apply && call.query.get("fieldManager").is_none() {
        return Err(ApiError::bad_request(
            "PATCH requests with apply-patch must set the fieldManager query parameter (kubectl sends it with --server-side)",
        ));
    }
    if force && patch_type != PatchType::Apply {
        return Err(ApiError::bad_request(
            "force is only allowed for apply patches",
        ));
    }
    let shape = call.without_body();
    let bytes = call.body_bytes().await?;
    let body = match patch_type {
        PatchType::Apply => decode_apply(&bytes)?,
        _ => decode_json(&bytes)?,
    };
    let name = path.name.clone().unwrap_or_default();
    let mut warnings = Vec::new();
    let mut created = false;
    let written = server
        .store
        .write(&admit.key(&name), admit.dry_run, |current, view| {
            let old = current.map(|c| convert::to_view(rt, c));
            if patch_type == PatchType::Apply {
                let config = admit.apply_config(body, &name)?;
                let request = ApplyRequest {
                    manager: &admit.manager,
                    subresource: admit.status.then_some("status"),
                    force,
                    api_version: &rt.api_version(),
                    now: &admit.now,
                };
                let merged = managed_fields::apply(old.as_ref(), &config, &request)
                    .map_err(|conflicts| apply_conflict(rt, &name, conflicts))?;
                created = old.is_none();
                return admit.admit(old.as_ref(), merged, view, true, &mut warnings);
            }
            let old = old.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, &name))?;
            let patched = apply_patch(patch_type, &old, body, rt, &name)?;
            let wanted_rv = object_meta::meta_str(&patched, "resourceVersion");
            if wanted_rv.is_some() && wanted_rv != object_meta::meta_str(&old, "resourceVersion") {
                return Err(ApiError::conflict(&rt.group, &rt.plural, &name));
            }
            admit.admit(Some(&old), patched, view, false, &mut warnings)
        })
        .await?;
    let code = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    finish(&admit, &shape, written.object, code, &warnings)
}

impl Admit<'_> {
    /// Checks and trims an applied configuration to the part this endpoint owns.
    fn apply_config(&self, mut config: Value, name: &str) -> ApiResult<Value> {
        let Some(map) = config.as_object_mut() else {
            return Err(ApiError::bad_request(
                "the applied configuration must be an object",
            ));
        };
        if map.get("apiVersion").and_then(Value::as_str).is_none()
            || map.get("kind").and_then(Value::as_str).is_none()
        {
            return Err(ApiError::bad_request(
                "the applied configuration must set apiVersion and kind",
            ));
        }
        let config_name = map
            .get("metadata")
            .and_then(|m| m.get("name"))
            .and_then(Value::as_str);
        if config_name.is_some_and(|n| n != name) {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                config_name.unwrap_or_default()
            )));
        }
        if self.status {
            map.retain(|k, _| matches!(k.as_str(), "apiVersion" | "kind" | "metadata" | "status"));
        } else if self.rt.status_subresource {
            map.remove("status");
        }
        let meta = meta_mut(&mut config);
        meta.insert("name".into(), json!(name));
        Ok(config)
    }
}

fn apply_conflict(
    rt: &ResourceType,
    name: &str,
    conflicts: Vec<managed_fields::FieldConflict>,
) -> ApiError {
    ApiError::conflict_message(managed_fields::conflict_message(&conflicts))
        .with_target(&rt.group, &rt.plural, name)
        .with_causes(managed_fields::conflict_causes(&conflicts))
}

/// Applies a non-apply patch to the current object (in view form).
fn apply_patch(
    patch_type: PatchType,
    old: &Value,
    body: Value,
    rt: &ResourceType,
    name: &str,
) -> ApiResult<Value> {
    let invalid = |message: String| {
        ApiError::new(
            422,
            "Invalid",
            format!("{} \"{name}\" could not be patched: {message}", rt.kind),
        )
    };
    let mut doc = old.clone();
    match patch_type {
        PatchType::Json => {
            let ops = drop_null_tests_of_missing_paths(old, body);
            let ops: json_patch::Patch = serde_json::from_value(ops)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is malformed: {e}")))?;
            json_patch::patch(&mut doc, &ops)
                .map_err(|e| invalid(format!("the JSON patch could not be applied: {e}")))?;
        }
        PatchType::Merge | PatchType::Strategic => {
            if !body.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            let body = if patch_type == PatchType::Strategic {
                strip_directives(body)
            } else {
                body
            };
            json_patch::merge(&mut doc, &body);
        }
        PatchType::Apply => unreachable!("apply patches are handled by managed_fields"),
    }
    Ok(doc)
}

/// kube-runtime's finalizer helper sends `test /metadata/finalizers null` when the key is
/// absent; Kubernetes treats a missing key as null there, the json-patch crate does not.
fn drop_null_tests_of_missing_paths(doc: &Value, ops: Value) -> Value {
    match ops {
        Value::Array(ops) => Value::Array(
            ops.into_iter()
                .filter(|op| {
                    let is_null_test = op.get("op").and_then(Value::as_str) == Some("test")
                        && op.get("value").is_some_and(Value::is_null);
                    let path = op.get("path").and_then(Value::as_str).unwrap_or("");
                    !(is_null_test && doc.pointer(path).is_none())
                })
                .collect(),
        ),
        other => other,
    }
}

/// Strategic-merge directives (`$patch`, `$setElementOrder/...`, `$retainKeys`) have no
/// meaning for the simple built-in kinds served here; dropping them leaves a merge patch.
fn strip_directives(value: Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.into_iter()
                .filter(|(k, _)| !k.starts_with('$'))
                .map(|(k, v)| (k, strip_directives(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.into_iter().map(strip_directives).collect()),
        other => other,
    }
}

/// Renders the stored object, or a 200 Status when a write ended in deletion.
fn finish(
    admit: &Admit<'_>,
    shape: &Call,
    object: Option<std::sync::Arc<Value>>,
    code: StatusCode,
    warnings: &[String],
) -> ApiResult<Response> {
    let object = object.ok_or_else(|| ApiError::internal("write produced no object"))?;
    let view = convert::to_view(admit.rt, &object);
    if !admit.dry_run {
        kinds::after_write(admit.server, admit.rt, &view);
    }
    Ok(respond::with_warnings(
        respond::object(code, admit.rt, respond::wants_table(shape), &view),
        warnings,
    ))
}

/// `metadata.name`, or one generated from `metadata.generateName`.
fn resolve_name(object: &mut Value, rt: &ResourceType) -> ApiResult<String> {
    if let Some(name) = object_meta::meta_str(object, "name").filter(|n| !n.is_empty()) {
        return Ok(name.to_string());
    }
    let Some(prefix) = object_meta::meta_str(object, "generateName").filter(|p| !p.is_empty())
    else {
        return Err(ApiError::invalid(
            &rt.group,
            &rt.kind,
            "",
            vec![Cause::new(
                "FieldValueRequired",
                "metadata.name",
                "Required value: name or generateName is required",
            )],
        ));
    };
    let name = format!("{prefix}{}", object_meta::random_suffix());
    meta_mut(object).insert("name".into(), json!(name));
    Ok(name)
}

/// The manager recorded in managedFields: `fieldManager`, else the User-Agent's program name.
fn field_manager(call: &Call) -> String {
    if let Some(manager) = call.query.get("fieldManager") {
        return manager.to_string();
    }
    let agent = call.header("user-agent");
    let program = agent.split('/').next().unwrap_or("").trim();
    if program.is_empty() {
        "unknown".into()
    } else {
        program.to_string()
    }
}

/// A create or update body: JSON, or protobuf for the built-in kinds kubectl 1.32+
/// writes with typed clients.
fn decode_body(content_type: &str, bytes: &[u8]) -> ApiResult<Value> {
    if protobuf::is_protobuf(content_type) {
        protobuf::decode(bytes)
    } else {
        decode_json(bytes)
    }
}

fn decode_json(bytes: &[u8]) -> ApiResult<Value> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// Apply bodies are YAML (JSON is YAML too).
fn decode_apply(bytes: &[u8]) -> ApiResult<Value> {
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return Ok(value);
    }
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("the applied configuration is not UTF-8 text"))?;
    serde_saphyr::from_str::<Value>(text).map_err(|e| {
        ApiError::bad_request(format!("the applied configuration is not valid YAML: {e}"))
    })
}

/// Once an object is being deleted, no finalizer may be added.
fn finalizer_rules(old: &Value, new: &Value) -> Vec<Cause> {
    if !object_meta::is_deleting(old) {
        return Vec::new();
    }
    let before = object_meta::finalizers(old);
    object_meta::finalizers(new)
        .into_iter()
        .filter(|f| !before.contains(f))
        .map(|f| Cause::new("FieldValueForbidden", "metadata.finalizers", format!("Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers [\"{f}\"]")))
        .collect()
}

/// Whether anything outside `metadata` and `status` changed (which bumps `generation`).
fn spec_changed(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        if let Some(map) = v.as_object_mut() {
            map.remove("metadata");
            map.remove("status");
        }
        v
    };
    strip(old) != strip(new)
}

/// Whether a write changes nothing (ignoring managedFields timestamps): no new revision then.
fn unchanged(old: &Value, new: &Value) -> bool {
    let strip = |v: &Value| -> Value {
        let mut v = v.clone();
        let meta = meta_mut(&mut v);
        meta.remove("managedFields");
        meta.remove("resourceVersion");
        v
    };
    let same_fields = |v: &Value| -> Value {
        let mut fields = object_meta::meta(v)
            .and_then(|m| m.get("managedFields"))
            .cloned()
            .unwrap_or(Value::Null);
        if let Some(entries) = fields.as_array_mut() {
            for entry in entries {
                entry.as_object_mut().map(|e| e.remove("time"));
            }
        }
        fields
    };
    strip(old) == strip(new) && same_fields(old) == same_fields(new)
}
