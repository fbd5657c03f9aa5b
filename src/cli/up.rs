//! `kaspire up -f FILE…`: an embedded control plane, the files server-side applied to it
//! (field manager `kaspire-up`), then a live view of every kaspire resource until
//! Ctrl-C.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::bail;
use clap::Args;
use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject, GroupVersionKind, Patch, PatchParams};
use kube::runtime::watcher;
use serde_json::Value;

use super::documents::{Document, load};
use crate::apiserver::embedded::Embedded;
use crate::controlplane::ControlPlane;
use crate::state_dir::StateDir;

/// The field manager `kaspire up` applies with.
pub const MANAGER: &str = "kaspire-up";
const KASPIRE_KINDS: &[&str] = &["Executable", "Container", "Parameter", "Value"];

#[derive(Debug, Args)]
pub struct UpArgs {
    /// App files (YAML, several documents each); repeat -f for more.
    #[arg(short = 'f', long = "file", required = true)]
    pub files: Vec<PathBuf>,
    /// API server port on 127.0.0.1 (0: the previous run's port if free, else any).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

pub async fn run(state_dir: PathBuf, args: UpArgs) -> anyhow::Result<ExitCode> {
    let mut documents = load(&args.files)?;
    documents.iter_mut().for_each(annotate_source_dir);
    let started = Instant::now();
    let state = StateDir::create(state_dir)?;
    let plane = ControlPlane::start(&state, args.port).await?;
    let embedded = &plane.embedded;
    println!(
        "control plane ready in {} ms — KUBECONFIG={}",
        started.elapsed().as_millis(),
        std::fs::canonicalize(&embedded.kubeconfig)
            .unwrap_or(embedded.kubeconfig.clone())
            .display()
    );
    // Every document is checked (dry run) before any is applied, so one bad resource
    // leaves the app as it was.
    for document in &documents {
        apply(embedded, document, true).await?;
    }
    for document in &documents {
        let applied = apply(embedded, document, false).await?;
        println!("applied {applied}");
    }
    let view = tokio::spawn(follow(embedded.client.clone()));
    super::serve::wait_for_signal().await?;
    println!("kaspire: ending the session (stopping Session resources)");
    plane.end_session().await?;
    view.abort();
    plane.shutdown().await;
    println!("kaspire: stopped");
    Ok(ExitCode::SUCCESS)
}

/// Records on every kaspire object the directory of its file (annotation
/// `kaspire.dev/source-dir`), against which the controllers resolve relative paths.
fn annotate_source_dir(document: &mut Document) {
    let kaspire = document
        .object
        .get("apiVersion")
        .and_then(Value::as_str)
        .is_some_and(|v| v.starts_with("kaspire.dev/"));
    let (true, Some(dir)) = (kaspire, &document.source_dir) else {
        return;
    };
    let Some(metadata) = document
        .object
        .get_mut("metadata")
        .and_then(Value::as_object_mut)
    else {
        return;
    };
    if let Some(annotations) = metadata
        .entry("annotations")
        .or_insert_with(|| Value::Object(Default::default()))
        .as_object_mut()
    {
        annotations
            .entry(crate::controllers::executable::spawn::SOURCE_DIR_ANNOTATION)
            .or_insert_with(|| Value::String(dir.display().to_string()));
    }
}

async fn apply(embedded: &Embedded, document: &Document, dry_run: bool) -> anyhow::Result<String> {
    let object = &document.object;
    let text = |field: &str| {
        object
            .get(field)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    let name = object
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if api_version.is_empty() || kind.is_empty() || name.is_empty() {
        bail!(
            "{}: every resource needs apiVersion, kind and metadata.name",
            document.origin
        );
    }
    let Some(rt) = embedded.server.registry.lookup_kind(&api_version, &kind) else {
        bail!(
            "{}: kind {kind} in {api_version} is not served; kaspire serves {} in kaspire.dev/v1alpha1 (and core kinds such as Secret)",
            document.origin,
            KASPIRE_KINDS.join(", ")
        );
    };
    let gvk = GroupVersionKind::gvk(&rt.group, &rt.version, &rt.kind);
    let resource = ApiResource::from_gvk_with_plural(&gvk, &rt.plural);
    let namespace = object
        .pointer("/metadata/namespace")
        .and_then(Value::as_str)
        .unwrap_or("default");
    let api: Api<DynamicObject> = if rt.namespaced {
        Api::namespaced_with(embedded.client.clone(), namespace, &resource)
    } else {
        Api::all_with(embedded.client.clone(), &resource)
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
    Ok(format!("{}/{name}", rt.singular))
}

fn describe_error(error: kube::Error) -> String {
    match error {
        kube::Error::Api(status) => status.message,
        other => other.to_string(),
    }
}

/// Prints a line whenever a kaspire resource's state changes.
async fn follow(client: kube::Client) {
    let mut streams = Vec::new();
    for kind in KASPIRE_KINDS {
        let gvk = GroupVersionKind::gvk(crate::api::GROUP, crate::api::VERSION, kind);
        let plural = format!("{}s", kind.to_lowercase());
        let api: Api<DynamicObject> = Api::all_with(
            client.clone(),
            &ApiResource::from_gvk_with_plural(&gvk, &plural),
        );
        streams.push(watcher(api, watcher::Config::default()).boxed());
    }
    let mut events = futures::stream::select_all(streams);
    let mut last = std::collections::HashMap::new();
    while let Some(event) = events.next().await {
        let (watcher::Event::Apply(object) | watcher::Event::InitApply(object)) = (match event {
            Ok(event) => event,
            Err(_) => continue,
        }) else {
            continue;
        };
        let kind = object
            .types
            .as_ref()
            .map(|t| t.kind.clone())
            .unwrap_or_default();
        let name = object.metadata.name.clone().unwrap_or_default();
        let status = object.data.get("status");
        let field = |f: &str| {
            status
                .and_then(|s| s.get(f))
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let line = format!(
            "{:<12} {:<24} {:<14} {}",
            kind,
            name,
            or_dash(field("state")),
            field("message")
        );
        if last.get(&(kind.clone(), name.clone())) != Some(&line) {
            println!("{line}");
            last.insert((kind, name), line);
        }
    }
}

fn or_dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}
