//! Everything the controllers know about every kaspire object, kept current by one
//! reflector per kind. Waiters read their dependencies here, and every change is
//! reported *after* the store holds it, so a waiter woken by a change always sees it.

use std::sync::Arc;

use futures::{StreamExt, future::BoxFuture};
use kube::api::Api;
use kube::runtime::reflector::{self, ObjectRef, Store};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Resource, ResourceExt};
use serde::de::DeserializeOwned;

use super::waits::Dependency;
use crate::api::conditions::{self, READY};
use crate::api::{Container, Executable, Parameter, RunStatus, Value};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;

/// Called with (namespace, name) whenever any kaspire object changed.
pub type OnChange = Arc<dyn Fn(&str, &str) + Send + Sync>;

/// Read-only caches of every kaspire kind.
#[derive(Clone)]
pub struct Directory {
    pub executables: Store<Executable>,
    pub containers: Store<Container>,
    pub values: Store<Value>,
    pub parameters: Store<Parameter>,
    /// The Secrets holding Parameter values (labelled `kaspire.dev/parameter`).
    pub secrets: Store<Secret>,
}

impl Directory {
    /// Starts one reflector per kind; returns the directory and the tasks feeding it.
    pub fn start(
        client: &kube::Client,
        on_change: OnChange,
    ) -> (Directory, Vec<BoxFuture<'static, ()>>) {
        let (executables, a) = reflect::<Executable>(client, on_change.clone());
        let (containers, b) = reflect::<Container>(client, on_change.clone());
        let (values, c) = reflect::<Value>(client, on_change.clone());
        let (parameters, d) = reflect::<Parameter>(client, on_change.clone());
        // A Parameter's Secret may arrive after the Parameter's status names it: report
        // it as a change of the Parameter, so its consumers look again.
        let (secrets, e) = reflect_with::<Secret>(
            client,
            watcher::Config::default().labels(super::parameter::PARAMETER_LABEL),
            on_change,
            |secret| {
                secret
                    .labels()
                    .get(super::parameter::PARAMETER_LABEL)
                    .cloned()
            },
        );
        let directory = Directory {
            executables,
            containers,
            values,
            parameters,
            secrets,
        };
        (directory, vec![a, b, c, d, e])
    }

    /// Waits until every cache holds its initial list.
    pub async fn synced(&self) {
        let _ = self.executables.wait_until_ready().await;
        let _ = self.containers.wait_until_ready().await;
        let _ = self.values.wait_until_ready().await;
        let _ = self.parameters.wait_until_ready().await;
        let _ = self.secrets.wait_until_ready().await;
    }

    /// An ownerReference to `name` in `namespace` (an Executable, Container or Value), for
    /// its children: deleting the parent then deletes them (the API server's GC). `None`
    /// for a parent being deleted: with `--cascade=orphan` the GC has just released its
    /// children, and owning them again would have them deleted after all.
    pub fn owner_reference(&self, namespace: &str, name: &str) -> Option<OwnerReference> {
        fn owner<K: Resource<DynamicType = ()>>(object: &K) -> Option<OwnerReference> {
            if object.meta().deletion_timestamp.is_some() {
                return None;
            }
            let mut owner = object.controller_owner_ref(&())?;
            owner.controller = None;
            owner.block_owner_deletion = Some(true);
            Some(owner)
        }
        let key = |n: &str| ObjectRef::new(n).within(namespace);
        if let Some(exe) = self.executables.get(&key(name)) {
            return owner(&*exe);
        }
        if let Some(ctr) = self.containers.get(&ObjectRef::new(name).within(namespace)) {
            return owner(&*ctr);
        }
        let value = self.values.get(&ObjectRef::new(name).within(namespace))?;
        owner(&*value)
    }

    /// What a waiter needs to know about `name` in `namespace`, whatever its kind.
    pub fn lookup(&self, namespace: &str, name: &str) -> Option<Dependency> {
        if let Some(exe) = self
            .executables
            .get(&ObjectRef::new(name).within(namespace))
        {
            let parent = exe.spec.run.parent.as_ref().map(|p| p.name.clone());
            return Some(run_dependency("Executable", exe.status.as_ref(), parent));
        }
        if let Some(ctr) = self.containers.get(&ObjectRef::new(name).within(namespace)) {
            let parent = ctr.spec.run.parent.as_ref().map(|p| p.name.clone());
            return Some(run_dependency(
                "Container",
                ctr.status.as_ref().map(|s| &s.run),
                parent,
            ));
        }
        if let Some(value) = self.values.get(&ObjectRef::new(name).within(namespace)) {
            let status = value.status.clone().unwrap_or_default();
            return Some(Dependency {
                kind: "Value",
                state: status.state,
                ready: conditions::is_true(&status.conditions, READY),
                parent: value.spec.parent.as_ref().map(|p| p.name.clone()),
                ..Dependency::default()
            });
        }
        let param = self
            .parameters
            .get(&ObjectRef::new(name).within(namespace))?;
        let status = param.status.clone().unwrap_or_default();
        Some(Dependency {
            kind: "Parameter",
            state: status.state,
            ready: conditions::is_true(&status.conditions, READY),
            message: status.message,
            ..Dependency::default()
        })
    }
}

fn run_dependency(
    kind: &'static str,
    status: Option<&RunStatus>,
    parent: Option<String>,
) -> Dependency {
    let status = status.cloned().unwrap_or_default();
    Dependency {
        kind,
        state: status.state,
        ready: conditions::is_true(&status.conditions, READY),
        exit_code: status.exit_code,
        restarting: status.next_restart_at.is_some(),
        message: status.message,
        parent,
    }
}

fn reflect<K>(client: &kube::Client, on_change: OnChange) -> (Store<K>, BoxFuture<'static, ()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    reflect_with(
        client,
        watcher::Config::default(),
        on_change,
        |object: &K| Some(object.name_any()),
    )
}

/// A reflector of `K` whose changes are reported under the name `changed` gives.
fn reflect_with<K>(
    client: &kube::Client,
    config: watcher::Config,
    on_change: OnChange,
    changed: impl Fn(&K) -> Option<String> + Send + 'static,
) -> (Store<K>, BoxFuture<'static, ()>)
where
    K: Resource<DynamicType = ()>
        + Clone
        + DeserializeOwned
        + std::fmt::Debug
        + Send
        + Sync
        + 'static,
{
    let (reader, writer) = reflector::store();
    let api: Api<K> = Api::all(client.clone());
    let stream = reflector::reflector(writer, watcher(api, config))
        .default_backoff()
        .touched_objects();
    let task = async move {
        futures::pin_mut!(stream);
        while let Some(item) = stream.next().await {
            match item {
                Ok(object) => {
                    if let Some(name) = changed(&object) {
                        on_change(&object.namespace().unwrap_or_default(), &name);
                    }
                }
                Err(e) => tracing::debug!("directory watch error: {e}"),
            }
        }
    };
    (reader, Box::pin(task))
}
