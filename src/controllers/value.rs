//! The Value controller: a Value has no process of its own (a database inside a
//! database server). Its state mirrors its parent's — Running when it has none — its
//! `connectionString` is resolved into status (secrets masked), and its
//! `onParentReady.exec` runs once per parent run after the parent is Ready; the Value is
//! Ready when the parent is and that command succeeded.
//!
//! Reconciles are woken by the Value's own changes, by any change of its parent or of
//! what its connection string names (through the [`super::directory`]), by its command
//! ending, and by the retry timer after a failure.
//!
//! # Layout
//! - [`decide`]: the pure decision of one reconcile (unit-tested).
//! - [`parent`]: the parent as the directory sees it, whatever its kind.
//! - [`exec`]: running `onParentReady` and abandoning it when it is no longer wanted.
//! - [`container_exec`]: the command inside a Container parent (`docker exec`).

pub mod container_exec;
pub mod decide;
pub mod exec;
pub mod parent;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams};
use kube::runtime::controller::{Action, Controller};
use kube::runtime::reflector::ObjectRef;
use kube::runtime::watcher;
use kube::{Resource, ResourceExt};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::context::Context;
use super::status_patch;
use super::workload::resolve;
use super::workload::runs::lock;
use crate::api::conditions::{self, READY};
use crate::api::{Relationship, ResourceState, Value, ValueStatus};
use crate::expr::{self, Context as ExprContext};
use crate::runtime::logs::ResourceRef;
use decide::{Decision, Input, command_line, decide};
use exec::Execs;

/// Errors of one reconcile; all are retried.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("api: {0}")]
    Api(#[from] kube::Error),
}

/// What the Value reconciles share.
pub struct ValueContext {
    pub ctx: Arc<Context>,
    pub execs: Execs,
    /// Wakes a Value's reconcile (its command ended).
    pub wake: UnboundedSender<ObjectRef<Value>>,
    /// The last status written per uid, with the resourceVersion it produced: the
    /// cache may lag behind our own write, and deciding from the older status could
    /// run `onParentReady` twice.
    written: Mutex<HashMap<String, (u64, ValueStatus)>>,
}

/// Runs the controller until `shutdown` resolves; `wake_rx` carries the Values whose
/// parent (or anything their connection string names) changed.
pub async fn run(
    ctx: Arc<Context>,
    wake: UnboundedSender<ObjectRef<Value>>,
    wake_rx: UnboundedReceiver<ObjectRef<Value>>,
    shutdown: impl Future<Output = ()> + Send + Sync + 'static,
) {
    let api: Api<Value> = Api::all(ctx.client.clone());
    let vc = Arc::new(ValueContext {
        ctx,
        execs: Execs::default(),
        wake,
        written: Mutex::default(),
    });
    Controller::new(api, watcher::Config::default())
        .reconcile_on(UnboundedReceiverStream::new(wake_rx))
        .graceful_shutdown_on(shutdown)
        .run(reconcile, error_policy, vc)
        .for_each(|_| async {})
        .await;
}

/// Whether `value`'s reconcile depends on `name`: its parent, or a resource its
/// connection string names.
pub fn depends_on(value: &Value, name: &str) -> bool {
    value.spec.parent.as_ref().is_some_and(|p| p.name == name)
        || connection_string_names(value).iter().any(|n| n == name)
}

fn connection_string_names(value: &Value) -> Vec<String> {
    value
        .spec
        .connection_string
        .as_deref()
        .and_then(|text| expr::parse(text).ok())
        .map(|t| t.references().map(|r| r.resource().to_owned()).collect())
        .unwrap_or_default()
}

fn error_policy(value: Arc<Value>, error: &Error, _vc: Arc<ValueContext>) -> Action {
    tracing::debug!(name = %value.name_any(), "value reconcile failed, retrying: {error}");
    Action::requeue(Duration::from_millis(200))
}

async fn reconcile(value: Arc<Value>, vc: Arc<ValueContext>) -> Result<Action, Error> {
    if value.meta().deletion_timestamp.is_some() {
        // Nothing to clean up: a running command abandons itself once the Value is gone.
        return Ok(Action::await_change());
    }
    let ctx = &vc.ctx;
    let namespace = value.namespace().unwrap_or_default();
    let name = value.name_any();
    let uid = value.uid().unwrap_or_default();
    let api: Api<Value> = Api::namespaced(ctx.client.clone(), &namespace);
    let old = vc
        .fresher_status(&uid, &value)
        .or_else(|| value.status.clone());
    if old.is_none() {
        // A new object: a log under its name is an earlier Value's (Values have no
        // finalizer to remove theirs when deleted).
        let _ = ctx
            .logs
            .remove(&ResourceRef::new(&namespace, "Value", &name));
    }
    let parent_name = value.spec.parent.as_ref().map(|p| p.name.as_str());
    let parent = parent_name.and_then(|n| parent::find(&ctx.directory, &namespace, n));
    let owners: Vec<String> = value
        .owner_references()
        .iter()
        .map(|o| o.uid.clone())
        .collect();
    let command = value
        .spec
        .on_parent_ready
        .as_ref()
        .map(|o| o.exec.command.as_slice());
    let old_status = old.clone().unwrap_or_default();
    let exec_state = vc.execs.state(&uid);
    let mut d = if command.is_some_and(<[String]>::is_empty) {
        empty_command(&old_status, value.metadata.generation)
    } else {
        decide(&Input {
            parent_name,
            command,
            owners: &owners,
            parent: parent.as_ref(),
            old: &old_status,
            exec: &exec_state,
            generation: value.metadata.generation,
            now: Timestamp::now(),
        })
    };
    if d.adopt {
        adopt_parent(&api, &value, ctx, parent_name.unwrap_or_default()).await?;
        return Ok(Action::await_change());
    }
    if let (Some(run), Some(command), Some(parent_name)) = (d.exec.clone(), command, parent_name) {
        match exec::start(&vc, &value, parent_name, run, command) {
            Ok(()) => {
                let line = format!(
                    "running onParentReady in {parent_name}: `{}`",
                    command_line(command)
                );
                ctx.system_log(&*value, 0, &line);
                ctx.event(&*value, false, "Starting", line);
            }
            // The parent left the directory since `decide` saw it: its change wakes us.
            Err(why) => d.status.message = Some(why),
        }
    }
    let mut status = d.status.clone();
    status.observed_generation = value.metadata.generation;
    status.connection_string = match connection_string(&value, ctx) {
        Some(Ok(resolved)) => Some(resolved),
        _ => None,
    };
    status.relationships = relationships(&value);
    announce(&value, ctx, old.as_ref(), &status, &d);
    if let Some(updated) = status_patch::write(&api, &name, old.as_ref(), &status).await? {
        vc.remember_status(&uid, &updated, status.clone());
    }
    if d.forget_exec {
        vc.execs.forget_ended(&uid);
    }
    Ok(match d.requeue {
        Some(after) => Action::requeue(after.max(Duration::from_millis(10))),
        // Parent changes wake us; this is the safety net for what they do not cover.
        None => Action::requeue(Duration::from_secs(60)),
    })
}

impl ValueContext {
    fn remember_status(&self, uid: &str, updated: &Value, status: ValueStatus) {
        if let Some(rv) = resource_version(updated) {
            lock(&self.written).insert(uid.to_owned(), (rv, status));
        }
    }

    /// The status we wrote for `uid`, when `seen` is older than that write.
    fn fresher_status(&self, uid: &str, seen: &Value) -> Option<ValueStatus> {
        let seen = resource_version(seen)?;
        let written = lock(&self.written);
        let (rv, status) = written.get(uid)?;
        (*rv > seen).then(|| status.clone())
    }
}

fn resource_version(value: &Value) -> Option<u64> {
    value.metadata.resource_version.as_deref()?.parse().ok()
}

/// `onParentReady.exec.command: []` cannot run: a spec error.
fn empty_command(old: &ValueStatus, generation: Option<i64>) -> Decision {
    let mut status = old.clone();
    let message = "spec.onParentReady.exec.command is empty: give the program and its \
                   arguments, e.g. [psql, -c, 'CREATE DATABASE appdata']"
        .to_owned();
    status.state = ResourceState::FailedToStart;
    status.message = Some(message.clone());
    conditions::set(
        &mut status.conditions,
        crate::api::Condition::new(
            READY,
            false,
            conditions::reason::FAILED_TO_START,
            Some(message),
            k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(Timestamp::now()),
        )
        .with_observed_generation(generation),
    );
    Decision {
        status,
        ..Decision::default()
    }
}

/// Makes the parent own the value (ownerReferences): deleting the parent deletes it.
async fn adopt_parent(
    api: &Api<Value>,
    value: &Value,
    ctx: &Context,
    parent: &str,
) -> Result<(), Error> {
    let namespace = value.namespace().unwrap_or_default();
    let Some(owner) = ctx.directory.owner_reference(&namespace, parent) else {
        return Ok(());
    };
    let mut owners = value.metadata.owner_references.clone().unwrap_or_default();
    // A parent recreated under the same name: the old one's reference goes.
    owners.retain(|o| !(o.name == owner.name && o.kind == owner.kind));
    owners.push(owner);
    let patch = serde_json::json!({"metadata": {
        "ownerReferences": owners,
        "resourceVersion": value.resource_version(),
    }});
    api.patch(
        &value.name_any(),
        &PatchParams::default(),
        &Patch::Merge(patch),
    )
    .await?;
    Ok(())
}

/// `spec.connectionString` as a process would see it, secrets masked; `None` without a
/// template, `Err` while something it names is missing.
fn connection_string(value: &Value, ctx: &Context) -> Option<Result<String, String>> {
    let text = value.spec.connection_string.as_deref()?;
    let template = match expr::parse(text) {
        Ok(template) => template,
        Err(e) => return Some(Err(format!("spec.connectionString: {e}"))),
    };
    let names = template
        .references()
        .map(|r| r.resource().to_owned())
        .collect();
    let namespace = value.namespace().unwrap_or_default();
    let snapshot = resolve::snapshot(&ctx.directory, &namespace, names, ExprContext::Process);
    Some(
        template
            .resolve(&snapshot)
            .map(|resolved| resolved.masked)
            .map_err(|e| e.to_string()),
    )
}

/// The parent and what the connection string names, for the dashboard and `get --tree`.
fn relationships(value: &Value) -> Vec<Relationship> {
    let mut all: Vec<Relationship> = Vec::new();
    if let Some(parent) = &value.spec.parent {
        all.push(Relationship {
            name: parent.name.clone(),
            type_: "Parent".into(),
        });
    }
    for name in connection_string_names(value) {
        let r = Relationship {
            name,
            type_: "Reference".into(),
        };
        if !all.iter().any(|a| a.name == r.name) {
            all.push(r);
        }
    }
    all
}

/// Events and system log lines for the transitions between `old` and `new`.
fn announce(
    value: &Value,
    ctx: &Context,
    old: Option<&ValueStatus>,
    new: &ValueStatus,
    d: &Decision,
) {
    let name = value.name_any();
    if old.is_none() {
        ctx.event(value, false, "Initialized", format!("{name} registered"));
    }
    let old_state = old.map(|s| s.state).unwrap_or_default();
    let message = new.message.clone().unwrap_or_default();
    if old_state != new.state {
        let said = if message.is_empty() {
            String::new()
        } else {
            format!(": {message}")
        };
        ctx.system_log(
            value,
            0,
            &format!("state {old_state} → {}{said}", new.state),
        );
        if new.state == ResourceState::FailedToStart {
            ctx.event(value, true, "FailedToStart", message.clone());
        }
    }
    for note in &d.notes {
        ctx.system_log(value, 0, &note.text);
        ctx.event(value, note.warning, note.reason, note.text.clone());
    }
    if old.and_then(|s| s.connection_string.as_ref()).is_none()
        && let Some(cs) = &new.connection_string
    {
        ctx.event(
            value,
            false,
            "ConnectionStringAvailable",
            format!("connection string: {cs}"),
        );
    }
    let was_ready = old.is_some_and(|s| conditions::is_true(&s.conditions, READY));
    let ready = conditions::is_true(&new.conditions, READY);
    if ready && !was_ready {
        ctx.event(value, false, "Ready", format!("{name} is ready"));
    }
    if !ready && was_ready && new.state == ResourceState::Running {
        ctx.event(value, true, "Unhealthy", message);
    }
}
