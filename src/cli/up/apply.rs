//! Reading app files and applying them: every document is checked by a dry run before
//! any is applied (one bad resource leaves the app as it was), applied objects carry
//! the `kaspire.dev/applied-by: up` label, and labelled objects the files no longer
//! hold are pruned.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;

use anyhow::{Context, bail};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams,
};
use kube::core::GroupVersion;
use kube::discovery::Scope;
use serde_json::Value;

use super::MANAGER;
use crate::cli::documents;
pub use crate::cli::documents::Document;
use crate::cli::resources::{KINDS, Kind};
use crate::controllers::executable::spawn::SOURCE_DIR_ANNOTATION;

/// Label on every object `kaspire up` applied; prune deletes labelled objects the
/// files no longer hold.
pub const APPLIED_BY_LABEL: &str = "kaspire.dev/applied-by";
const APPLIED_BY_VALUE: &str = "up";

/// An object as applied: enough to find it again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Applied {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl Applied {
    /// The kaspire kind, for kaspire objects.
    pub fn kaspire_kind(&self) -> Option<Kind> {
        (self.api_version == crate::api::API_VERSION)
            .then(|| Kind::by_name(&self.kind))
            .flatten()
    }
}

/// Reads every document of every file (see [`documents::load`]). kaspire objects get
/// the file's directory as `kaspire.dev/source-dir` (relative `workingDir` and
/// `envFile` mean "beside this file", wherever the control plane runs) and every object
/// the `kaspire.dev/applied-by: up` label.
pub fn load(files: &[PathBuf]) -> anyhow::Result<Vec<Document>> {
    let mut documents = documents::load(files)?;
    for document in &mut documents {
        let Document {
            origin,
            object,
            source_dir,
        } = document;
        if !object.is_object() {
            bail!("{origin}: a resource must be a mapping with apiVersion, kind and metadata");
        }
        let kaspire = object
            .get("apiVersion")
            .and_then(Value::as_str)
            .is_some_and(|v| v.starts_with("kaspire.dev/"));
        if let (true, Some(dir)) = (kaspire, source_dir.as_ref()) {
            metadata_map(object, "annotations")
                .entry(SOURCE_DIR_ANNOTATION)
                .or_insert_with(|| Value::String(dir.display().to_string()));
        }
        metadata_map(object, "labels").insert(APPLIED_BY_LABEL.into(), APPLIED_BY_VALUE.into());
    }
    Ok(documents)
}

/// `metadata.<field>` of `object` as a map, created when absent (and replaced when it is
/// not a map: the server would reject that anyway, naming the field).
fn metadata_map<'a>(object: &'a mut Value, field: &str) -> &'a mut serde_json::Map<String, Value> {
    let root = object.as_object_mut().expect("checked to be a mapping");
    let metadata = root
        .entry("metadata")
        .or_insert_with(|| Value::Object(Default::default()));
    if !metadata.is_object() {
        *metadata = Value::Object(Default::default());
    }
    let map = metadata
        .as_object_mut()
        .expect("made a mapping")
        .entry(field)
        .or_insert_with(|| Value::Object(Default::default()));
    if !map.is_object() {
        *map = Value::Object(Default::default());
    }
    map.as_object_mut().expect("made a mapping")
}

/// Dry-runs every document, applies them all (printing `applied KIND/NAME`), then prunes
/// labelled objects the files no longer hold (printing `pruned KIND/NAME`).
pub async fn apply_all(
    client: &kube::Client,
    documents: &[Document],
) -> anyhow::Result<Vec<Applied>> {
    let mut resolver = Resolver::default();
    for document in documents {
        apply(client, &mut resolver, document, true).await?;
    }
    let mut applied = Vec::new();
    for document in documents {
        let (object, singular) = apply(client, &mut resolver, document, false).await?;
        println!("applied {singular}/{}", object.name);
        applied.push(object);
    }
    prune(client, &applied).await?;
    Ok(applied)
}

/// Finds the served resource of each apiVersion/kind once, through discovery.
#[derive(Default)]
struct Resolver {
    known: HashMap<(String, String), (ApiResource, bool)>,
}

impl Resolver {
    async fn resolve(
        &mut self,
        client: &kube::Client,
        api_version: &str,
        kind: &str,
    ) -> Option<(ApiResource, bool)> {
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(hit) = self.known.get(&key) {
            return Some(hit.clone());
        }
        let gv: GroupVersion = api_version.parse().ok()?;
        let gvk = GroupVersionKind::gvk(&gv.group, &gv.version, kind);
        let (resource, capabilities) = kube::discovery::pinned_kind(client, &gvk).await.ok()?;
        let namespaced = capabilities.scope == Scope::Namespaced;
        self.known.insert(key, (resource.clone(), namespaced));
        Some((resource, namespaced))
    }
}

async fn apply(
    client: &kube::Client,
    resolver: &mut Resolver,
    document: &Document,
    dry_run: bool,
) -> anyhow::Result<(Applied, String)> {
    let object = &document.object;
    let text = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let (api_version, kind, name) = (text("/apiVersion"), text("/kind"), text("/metadata/name"));
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        bail!(
            "{}: every resource needs apiVersion, kind and metadata.name",
            document.origin
        );
    }
    let Some((resource, namespaced)) = resolver.resolve(client, &api_version, &kind).await else {
        let kinds: Vec<&str> = KINDS.iter().map(|k| k.kind).collect();
        bail!(
            "{}: kind {kind} in {api_version} is not served; kaspire serves {} in {} (and core kinds such as Secret)",
            document.origin,
            kinds.join(", "),
            crate::api::API_VERSION
        );
    };
    let namespace = namespaced.then(|| {
        Some(text("/metadata/namespace"))
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| client.default_namespace().to_owned())
    });
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
        None => Api::all_with(client.clone(), &resource),
    };
    let mut params = PatchParams::apply(MANAGER).force();
    params.dry_run = dry_run;
    api.patch(&name, &params, &Patch::Apply(object))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "{}: {kind} {name:?} was rejected: {}",
                document.origin,
                describe_error(e)
            )
        })?;
    let singular = kind.to_lowercase();
    Ok((
        Applied {
            api_version,
            kind,
            namespace,
            name,
        },
        singular,
    ))
}

fn describe_error(error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    }
}

/// Deletes objects labelled as applied by `kaspire up` that `applied` no longer holds,
/// among kaspire's kinds and Secrets.
async fn prune(client: &kube::Client, applied: &[Applied]) -> anyhow::Result<()> {
    let keep: HashSet<(&str, Option<&str>, &str)> = applied
        .iter()
        .map(|a| (a.kind.as_str(), a.namespace.as_deref(), a.name.as_str()))
        .collect();
    let mut kinds: Vec<ApiResource> = KINDS.iter().map(Kind::resource).collect();
    kinds.push(ApiResource::erase::<k8s_openapi::api::core::v1::Secret>(&()));
    let selector = ListParams::default().labels(&format!("{APPLIED_BY_LABEL}={APPLIED_BY_VALUE}"));
    for resource in kinds {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
        let listed = api
            .list(&selector)
            .await
            .with_context(|| format!("cannot list {} to prune them", resource.plural))?;
        for object in listed.items {
            let name = object.metadata.name.clone().unwrap_or_default();
            let namespace = object.metadata.namespace.clone();
            if keep.contains(&(resource.kind.as_str(), namespace.as_deref(), name.as_str())) {
                continue;
            }
            let scoped: Api<DynamicObject> = match &namespace {
                Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
                None => Api::all_with(client.clone(), &resource),
            };
            match scoped.delete(&name, &DeleteParams::background()).await {
                Ok(_) => {}
                Err(kube::Error::Api(s)) if s.code == 404 => continue,
                Err(e) => {
                    return Err(e).with_context(|| {
                        format!("cannot prune {}/{name}", resource.kind.to_lowercase())
                    });
                }
            }
            let place = match namespace.as_deref() {
                Some(ns) if ns != client.default_namespace() => format!(" (namespace {ns})"),
                _ => String::new(),
            };
            println!("pruned {}/{name}{place}", resource.kind.to_lowercase());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn load_labels_objects_and_records_the_source_dir_of_kaspire_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let file = tmp.path().join("app.yaml");
        std::fs::write(
            &file,
            "apiVersion: kaspire.dev/v1alpha1\nkind: Executable\nmetadata: {name: api, labels: {tier: web}}\n\
             spec: {command: x, workingDir: services}\n---\n\
             apiVersion: v1\nkind: Secret\nmetadata: {name: s}\n",
        )
        .unwrap();
        let docs = load(&[file]).unwrap();
        let dir = std::fs::canonicalize(tmp.path()).unwrap();
        assert_eq!(
            docs[0]
                .object
                .pointer("/metadata/annotations/kaspire.dev~1source-dir"),
            Some(&Value::from(dir.display().to_string()))
        );
        assert_eq!(docs[1].object.pointer("/metadata/annotations"), None);
        for doc in &docs {
            assert_eq!(
                doc.object
                    .pointer("/metadata/labels/kaspire.dev~1applied-by"),
                Some(&Value::from("up"))
            );
        }
        assert_eq!(
            docs[0].object.pointer("/metadata/labels/tier"),
            Some(&Value::from("web"))
        );
    }
}
