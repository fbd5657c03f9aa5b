//! Building and applying the bench's Executables through the kube crate, as any
//! client would (the same requests `kubectl apply` makes, without its per-object
//! process start).

use std::path::Path;

use futures::{StreamExt, TryStreamExt};
use kaspire::api::{Executable, ExecutableSpec};
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::ObjectMeta;
use serde_json::{Value, json};

/// Requests in flight when applying or deleting many objects.
pub const IN_FLIGHT: usize = 64;

/// An Executable in `namespace` from a spec written as JSON (the YAML a user writes).
pub fn executable(namespace: &str, name: &str, spec: Value) -> anyhow::Result<Executable> {
    let spec: ExecutableSpec = serde_json::from_value(spec)?;
    Ok(Executable {
        metadata: ObjectMeta {
            name: Some(name.into()),
            namespace: Some(namespace.into()),
            labels: Some([("app".to_string(), "bench".to_string())].into()),
            ..Default::default()
        },
        spec,
        status: None,
    })
}

/// `env` entries from name/value pairs.
pub fn env(pairs: &[(&str, String)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(k, v)| json!({"name": k, "value": v}))
            .collect(),
    )
}

/// The helper program (this bench binary) as an Executable's command.
pub fn helper_command() -> anyhow::Result<String> {
    Ok(std::env::current_exe()?.to_string_lossy().into_owned())
}

pub fn path_str(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

pub use crate::common::ensure_namespace;

/// Creates every object, `IN_FLIGHT` at a time.
pub async fn create_all(client: &kube::Client, objects: Vec<Executable>) -> anyhow::Result<()> {
    futures::stream::iter(objects)
        .map(|exe| {
            let api: Api<Executable> = Api::namespaced(
                client.clone(),
                exe.metadata.namespace.as_deref().unwrap_or("default"),
            );
            async move {
                api.create(&PostParams::default(), &exe).await?;
                Ok::<_, anyhow::Error>(())
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}

/// Deletes every `namespace/name` key, `IN_FLIGHT` at a time (the finalizer stops the
/// processes; the caller waits for the deletions to be seen).
pub async fn delete_all(client: &kube::Client, keys: &[String]) -> anyhow::Result<()> {
    futures::stream::iter(keys.iter().cloned())
        .map(|key| {
            let client = client.clone();
            async move {
                let (ns, name) = key.split_once('/').expect("namespace/name");
                let api: Api<Executable> = Api::namespaced(client, ns);
                match api.delete(name, &DeleteParams::default()).await {
                    Ok(_) => Ok(()),
                    Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
                    Err(e) => Err(anyhow::Error::from(e)),
                }
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .try_collect::<Vec<()>>()
        .await?;
    Ok(())
}
