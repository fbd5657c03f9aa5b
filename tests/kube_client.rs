//! kube-rs 5 against the real `kaspire serve` over real HTTPS: typed and dynamic CRUD,
//! watchers and reflectors, a kube-runtime Controller with `.owns()` and the finalizer
//! helper, the CRD flow, and bad input rejected with useful 4xx Statuses.

mod support;

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::{Event as CoreEvent, Namespace, Secret};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kaspire::api::{API_VERSION, Executable, ExecutableSpec, ResourceState};
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, ListParams, Patch, PatchParams, PostParams,
    ValidationDirective, WatchEvent, WatchParams,
};
use kube::core::Status;
use kube::runtime::controller::{Action, Controller};
use kube::runtime::events::{Event as RecorderEvent, EventType, Recorder, Reporter};
use kube::runtime::finalizer::{self, finalizer};
use kube::runtime::wait::{await_condition, conditions};
use kube::runtime::{WatchStreamExt, reflector, watcher};
use kube::{Client, CustomResource, CustomResourceExt, Resource, ResourceExt};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;
use support::Server;

/// How long any single eventual condition may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(20);

fn executable(name: &str, labels: &[(&str, &str)]) -> Executable {
    let mut exe = Executable::new(
        name,
        ExecutableSpec {
            command: "sleep".into(),
            ..Default::default()
        },
    );
    exe.metadata.labels = Some(
        labels
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    );
    exe
}

/// The Status of a failed call, panicking when the call succeeded or failed otherwise.
fn api_error<T: std::fmt::Debug>(result: Result<T, kube::Error>) -> Box<Status> {
    match result {
        Err(kube::Error::Api(status)) => status,
        other => panic!("expected an API error Status, got {other:?}"),
    }
}

/// The store's global revision (every list carries it).
async fn revision(client: &Client) -> u64 {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let list = namespaces
        .list(&ListParams::default())
        .await
        .expect("list namespaces");
    list.metadata
        .resource_version
        .expect("list resourceVersion")
        .parse()
        .expect("decimal resourceVersion")
}

fn rv(object: &impl Resource) -> u64 {
    object
        .meta()
        .resource_version
        .as_deref()
        .expect("resourceVersion")
        .parse()
        .expect("decimal resourceVersion")
}

/// Polls `check` until it returns Some, panicking with `what` after [`PATIENCE`].
async fn eventually<T, F: std::future::Future<Output = Option<T>>>(
    what: &str,
    mut check: impl FnMut() -> F,
) -> T {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// CRUD
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typed_executables_create_get_list_paginate_replace_patch_and_delete() {
    let server = Server::start_api_only();
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());

    for i in 0..25 {
        let tier = if i % 2 == 0 { "even" } else { "odd" };
        let index = i.to_string();
        let created = api
            .create(
                &PostParams::default(),
                &executable(&format!("exe-{i:02}"), &[("tier", tier), ("index", &index)]),
            )
            .await
            .unwrap();
        assert_eq!(created.metadata.generation, Some(1));
        assert!(created.metadata.uid.is_some() && created.metadata.creation_timestamp.is_some());
    }

    let got = api.get("exe-00").await.unwrap();
    assert_eq!(got.spec.command, "sleep");
    assert_eq!(got.spec.run.replicas, 1, "schema defaults are applied");
    assert_eq!(got.namespace().as_deref(), Some("default"));

    let evens = api
        .list(&ListParams::default().labels("tier=even"))
        .await
        .unwrap();
    assert_eq!(evens.items.len(), 13);
    let odd_but_one = api
        .list(&ListParams::default().labels("tier in (odd),index!=1"))
        .await
        .unwrap();
    assert_eq!(odd_but_one.items.len(), 11);
    assert_eq!(
        api.list(&ListParams::default().labels("!tier"))
            .await
            .unwrap()
            .items
            .len(),
        0
    );

    // Pagination: 10 + 10 + 5, every name once, one resourceVersion for the whole list.
    let mut names = Vec::new();
    let mut list_rvs = BTreeSet::new();
    let mut token: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = ListParams::default().limit(10);
        if let Some(token) = &token {
            params = params.continue_token(token);
        }
        let page = api.list(&params).await.unwrap();
        pages += 1;
        assert!(page.items.len() <= 10);
        names.extend(page.items.iter().map(|e| e.name_any()));
        list_rvs.insert(page.metadata.resource_version.clone().unwrap());
        token = page.metadata.continue_.clone().filter(|t| !t.is_empty());
        if token.is_none() {
            break;
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(
        names,
        (0..25).map(|i| format!("exe-{i:02}")).collect::<Vec<_>>()
    );
    assert_eq!(
        list_rvs.len(),
        1,
        "every page reports the first page's resourceVersion"
    );

    // Replace, then replace again with the now stale resourceVersion: 409.
    let mut changed = got.clone();
    changed.spec.run.args = vec!["1".into()];
    let replaced = api
        .replace("exe-00", &PostParams::default(), &changed)
        .await
        .unwrap();
    assert_eq!(replaced.metadata.generation, Some(2));
    assert!(rv(&replaced) > rv(&got));
    let mut stale = got.clone();
    stale.spec.run.args = vec!["2".into()];
    let conflict = api_error(api.replace("exe-00", &PostParams::default(), &stale).await);
    assert_eq!((conflict.code, conflict.reason.as_str()), (409, "Conflict"));
    assert!(
        conflict.message.contains("the object has been modified"),
        "{}",
        conflict.message
    );
    assert_eq!(api.get("exe-00").await.unwrap().spec.run.args, vec!["1"]);
    let mut unversioned = stale.clone();
    unversioned.metadata.resource_version = None;
    let invalid = api_error(
        api.replace("exe-00", &PostParams::default(), &unversioned)
            .await,
    );
    assert_eq!(
        (invalid.code, invalid.reason.as_str()),
        (422, "Invalid"),
        "{invalid:?}"
    );

    // Merge, JSON and apply patches.
    let merged = api
        .patch(
            "exe-01",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"args": ["m"]}})),
        )
        .await
        .unwrap();
    assert_eq!(merged.spec.run.args, vec!["m"]);
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/spec/args/0", "value": "m"},
        {"op": "add", "path": "/spec/args/-", "value": "j"},
        {"op": "replace", "path": "/metadata/labels/tier", "value": "patched"},
    ]))
    .unwrap();
    let jsoned = api
        .patch("exe-01", &PatchParams::default(), &Patch::Json::<()>(ops))
        .await
        .unwrap();
    assert_eq!(jsoned.spec.run.args, vec!["m", "j"]);
    assert_eq!(jsoned.labels()["tier"], "patched");
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/spec/command", "value": "nope"}]))
            .unwrap();
    let failed = api_error(
        api.patch(
            "exe-01",
            &PatchParams::default(),
            &Patch::Json::<()>(failing),
        )
        .await,
    );
    assert_eq!(failed.code, 422, "{failed:?}");

    let applied_config = json!({"apiVersion": API_VERSION, "kind": "Executable", "metadata": {"name": "applied"}, "spec": {"command": "dotnet", "args": ["run"]}});
    let applied = api
        .patch(
            "applied",
            &PatchParams::apply("kube-client-test"),
            &Patch::Apply(&applied_config),
        )
        .await
        .unwrap();
    assert_eq!(applied.spec.command, "dotnet");
    let fields = applied.metadata.managed_fields.clone().unwrap_or_default();
    assert!(
        fields
            .iter()
            .any(|f| f.manager.as_deref() == Some("kube-client-test")
                && f.operation.as_deref() == Some("Apply")),
        "{fields:?}"
    );
    let reapplied = api
        .patch(
            "applied",
            &PatchParams::apply("kube-client-test"),
            &Patch::Apply(&applied_config),
        )
        .await
        .unwrap();
    assert_eq!(
        rv(&reapplied),
        rv(&applied),
        "an identical apply is a no-op"
    );

    // Status: apply on /status, then replace_status; neither touches spec or generation.
    let status_patch = json!({"apiVersion": API_VERSION, "kind": "Executable", "status": {"state": "Running", "message": "up"}});
    let with_status = api
        .patch_status(
            "exe-02",
            &PatchParams::apply("status-writer").force(),
            &Patch::Apply(&status_patch),
        )
        .await
        .unwrap();
    let status = with_status.status.clone().unwrap();
    assert_eq!(
        (status.state, status.message.as_deref()),
        (ResourceState::Running, Some("up"))
    );
    assert_eq!(with_status.metadata.generation, Some(1));
    let rival =
        json!({"apiVersion": API_VERSION, "kind": "Executable", "status": {"state": "Waiting"}});
    let conflict = api_error(
        api.patch_status(
            "exe-02",
            &PatchParams::apply("rival"),
            &Patch::Apply(&rival),
        )
        .await,
    );
    assert_eq!(conflict.code, 409, "{conflict:?}");
    let causes = conflict
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert!(
        causes
            .iter()
            .any(|c| c.reason == "FieldManagerConflict" && c.field.contains("status.state")),
        "{causes:?}"
    );
    let mut next = api.get_status("exe-02").await.unwrap();
    next.status.as_mut().unwrap().state = ResourceState::Exited;
    next.status.as_mut().unwrap().exit_code = Some(3);
    next.spec.command = "ignored-by-status-writes".into();
    let replaced_status = api
        .replace_status("exe-02", &PostParams::default(), &next)
        .await
        .unwrap();
    assert_eq!(
        replaced_status.status.as_ref().unwrap().state,
        ResourceState::Exited
    );
    assert_eq!(replaced_status.status.as_ref().unwrap().exit_code, Some(3));
    assert_eq!(
        replaced_status.spec.command, "sleep",
        "a status write leaves spec alone"
    );
    let main_write = api
        .patch(
            "exe-02",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"state": "Waiting"}})),
        )
        .await
        .unwrap();
    assert_eq!(
        main_write.status.unwrap().state,
        ResourceState::Exited,
        "the main resource ignores status"
    );

    // Dry run validates and answers but stores nothing.
    let dry_run = PostParams {
        dry_run: true,
        ..Default::default()
    };
    let dry = api.create(&dry_run, &executable("dry", &[])).await.unwrap();
    assert_eq!(dry.name_any(), "dry");
    assert!(api.get_opt("dry").await.unwrap().is_none());

    // Delete.
    let deleted = api
        .delete("exe-00", &DeleteParams::default())
        .await
        .unwrap();
    assert!(deleted.is_right(), "no finalizers: gone at once");
    assert!(api.get_opt("exe-00").await.unwrap().is_none());
    let missing = api_error(api.get("exe-00").await);
    assert_eq!((missing.code, missing.reason.as_str()), (404, "NotFound"));
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        25,
        "24 left plus `applied`"
    );
    let odd = ListParams::default().labels("tier=odd");
    let removed = api
        .delete_collection(&DeleteParams::default(), &odd)
        .await
        .unwrap();
    // exe-01's tier was patched away above, so 11 of the 12 odd ones match.
    assert_eq!(removed.left().map(|l| l.items.len()), Some(11));
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        14
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreground_and_orphan_deletion_through_the_client() {
    let server = Server::start_api_only();
    let client = server.client().await;
    let exes: Api<Executable> = Api::default_namespaced(client.clone());
    let values: Api<kaspire::api::Value> = Api::default_namespaced(client.clone());
    for name in ["fg", "orphaner"] {
        let owner = exes
            .create(&PostParams::default(), &executable(name, &[]))
            .await
            .unwrap();
        let mut owner_ref = owner.controller_owner_ref(&()).unwrap();
        owner_ref.block_owner_deletion = Some(true);
        let dependent = json!({"apiVersion": API_VERSION, "kind": "Value", "metadata": {"name": name, "ownerReferences": [owner_ref]}, "spec": {}});
        values
            .create(
                &PostParams::default(),
                &serde_json::from_value(dependent).unwrap(),
            )
            .await
            .unwrap();
    }

    let fg_uid = exes.get("fg").await.unwrap().uid().unwrap();
    let pending = exes
        .delete("fg", &DeleteParams::foreground())
        .await
        .unwrap();
    assert!(
        pending
            .left()
            .is_some_and(|o| o.finalizers().contains(&"foregroundDeletion".to_string()))
    );
    let gone = tokio::time::timeout(
        PATIENCE,
        await_condition(exes.clone(), "fg", conditions::is_deleted(&fg_uid)),
    )
    .await;
    gone.expect("foreground deletion never finished").unwrap();
    assert!(
        values.get_opt("fg").await.unwrap().is_none(),
        "the dependent went first"
    );

    exes.delete("orphaner", &DeleteParams::orphan())
        .await
        .unwrap();
    eventually("the orphaning owner to be gone", || {
        let exes = exes.clone();
        async move {
            exes.get_opt("orphaner")
                .await
                .unwrap()
                .is_none()
                .then_some(())
        }
    })
    .await;
    let orphan = values.get("orphaner").await.unwrap();
    assert!(
        orphan.owner_references().is_empty(),
        "{:?}",
        orphan.metadata.owner_references
    );

    // A watch with timeoutSeconds ends by itself.
    let watch_briefly = async {
        let mut stream = values
            .watch(&WatchParams::default().timeout(1), "0")
            .await
            .unwrap()
            .boxed();
        while let Ok(Some(_)) = stream.try_next().await {}
    };
    let ended = tokio::time::timeout(Duration::from_secs(10), watch_briefly).await;
    assert!(ended.is_ok(), "the watch ignored timeoutSeconds");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_objects_secrets_namespaces_and_leases() {
    let server = Server::start_api_only();
    let client = server.client().await;

    let resource = ApiResource::erase::<Executable>(&());
    let dynamic: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &resource);
    let mut object = DynamicObject::new("dyn", &resource);
    object.labels_mut().insert("kind".into(), "dynamic".into());
    object.data = json!({"spec": {"command": "node", "args": ["server.js"]}});
    let created = dynamic
        .create(&PostParams::default(), &object)
        .await
        .unwrap();
    assert_eq!(created.data["spec"]["command"], "node");
    assert_eq!(created.types.as_ref().unwrap().api_version, API_VERSION);
    let listed = dynamic
        .list(&ListParams::default().labels("kind=dynamic"))
        .await
        .unwrap();
    assert_eq!(
        listed
            .items
            .iter()
            .map(|o| o.name_any())
            .collect::<Vec<_>>(),
        vec!["dyn"]
    );
    let patched = dynamic
        .patch(
            "dyn",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"replicas": 3}})),
        )
        .await
        .unwrap();
    assert_eq!(patched.data["spec"]["replicas"], 3);
    let typed: Api<Executable> = Api::default_namespaced(client.clone());
    assert_eq!(
        typed.get("dyn").await.unwrap().spec.run.replicas,
        3,
        "typed and dynamic views agree"
    );
    dynamic
        .delete("dyn", &DeleteParams::default())
        .await
        .unwrap();
    assert!(dynamic.get_opt("dyn").await.unwrap().is_none());

    let secrets: Api<Secret> = Api::default_namespaced(client.clone());
    let secret: Secret = serde_json::from_value(
        json!({"metadata": {"name": "db"}, "stringData": {"password": "hunter2"}}),
    )
    .unwrap();
    secrets
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let stored = secrets.get("db").await.unwrap();
    assert_eq!(stored.data.unwrap()["password"].0, b"hunter2");
    assert_eq!(stored.type_.as_deref(), Some("Opaque"));
    assert!(stored.string_data.is_none());

    let namespaces: Api<Namespace> = Api::all(client.clone());
    let names: Vec<String> = namespaces
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|n| n.name_any())
        .collect();
    assert!(names.contains(&"default".to_string()), "{names:?}");
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": "team-a"}})).unwrap(),
        )
        .await
        .unwrap();
    let team = namespaces.get("team-a").await.unwrap();
    assert_eq!(team.status.and_then(|s| s.phase).as_deref(), Some("Active"));
    let in_team: Api<Secret> = Api::namespaced(client.clone(), "team-a");
    in_team
        .create(&PostParams::default(), &secret)
        .await
        .unwrap();
    let team_exes: Api<Executable> = Api::namespaced(client.clone(), "team-a");
    team_exes
        .create(&PostParams::default(), &executable("dyn", &[]))
        .await
        .unwrap();
    typed
        .create(&PostParams::default(), &executable("dyn", &[]))
        .await
        .unwrap();
    let everywhere: Api<Executable> = Api::all(client.clone());
    let mut placed: Vec<String> = everywhere
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.namespace().unwrap())
        .collect();
    placed.sort();
    assert_eq!(placed, vec!["default", "team-a"]);
    namespaces
        .delete("team-a", &DeleteParams::default())
        .await
        .unwrap();
    eventually("the deleted namespace to be emptied", || {
        let (secrets, exes) = (in_team.clone(), team_exes.clone());
        async move {
            (secrets.get_opt("db").await.ok()?.is_none()
                && exes.get_opt("dyn").await.ok()?.is_none())
            .then_some(())
        }
    })
    .await;
    assert!(
        typed.get_opt("dyn").await.unwrap().is_some(),
        "other namespaces are untouched"
    );
    let missing_ns: Api<Secret> = Api::namespaced(client.clone(), "nowhere");
    assert_eq!(
        api_error(missing_ns.create(&PostParams::default(), &secret).await).code,
        404
    );

    let leases: Api<Lease> = Api::default_namespaced(client.clone());
    let lease = Lease {
        metadata: kube::api::ObjectMeta {
            name: Some("leader".into()),
            ..Default::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some("a".into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    };
    let created = leases.create(&PostParams::default(), &lease).await.unwrap();
    let mut renewed = created.clone();
    renewed.spec.as_mut().unwrap().holder_identity = Some("b".into());
    leases
        .replace("leader", &PostParams::default(), &renewed)
        .await
        .unwrap();
    assert_eq!(
        leases
            .get("leader")
            .await
            .unwrap()
            .spec
            .unwrap()
            .holder_identity
            .as_deref(),
        Some("b")
    );
    assert_eq!(
        api_error(
            leases
                .replace("leader", &PostParams::default(), &created)
                .await
        )
        .code,
        409,
        "stale lease update"
    );
}

// ---------------------------------------------------------------------------------------
// Watch
// ---------------------------------------------------------------------------------------

/// One change as a watcher reports it: event type, name and resourceVersion.
type Seen = (&'static str, String, u64);

fn seen(event: &watcher::Event<Executable>) -> Option<Seen> {
    match event {
        watcher::Event::Apply(o) => Some(("apply", o.name_any(), rv(o))),
        watcher::Event::Delete(o) => Some(("delete", o.name_any(), rv(o))),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watcher_and_reflector_see_every_change_in_order_and_resume_from_a_resource_version() {
    let server = Server::start_api_only();
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    api.create(&PostParams::default(), &executable("before", &[]))
        .await
        .unwrap();

    let (reader, writer) = reflector::store::<Executable>();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stream = reflector(writer, watcher(api.clone(), watcher::Config::default()));
    let watching = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            if let Ok(event) = event {
                let _ = tx.send(event);
            }
        }
    });
    tokio::time::timeout(PATIENCE, reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();

    // 200 changes from another task, one at a time so the expected order is known.
    let writes = api.clone();
    let expected = tokio::spawn(async move {
        let mut expected: Vec<(&'static str, String, Option<u64>)> = Vec::new();
        let mut live: Vec<String> = vec!["before".into()];
        let mut next = 0;
        for step in 0..200 {
            match step % 5 {
                1 | 2 if !live.is_empty() => {
                    let name = live[step % live.len()].clone();
                    let patch = json!({"metadata": {"labels": {"step": step.to_string()}}});
                    let o = writes
                        .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                        .await
                        .unwrap();
                    expected.push(("apply", name, Some(rv(&o))));
                }
                3 if !live.is_empty() => {
                    let name = live.remove(0);
                    writes
                        .delete(&name, &DeleteParams::default())
                        .await
                        .unwrap();
                    expected.push(("delete", name, None));
                }
                _ => {
                    let name = format!("w-{next:03}");
                    next += 1;
                    let o = writes
                        .create(&PostParams::default(), &executable(&name, &[]))
                        .await
                        .unwrap();
                    live.push(name.clone());
                    expected.push(("apply", name, Some(rv(&o))));
                }
            }
        }
        expected
    })
    .await
    .unwrap();

    let mut observed: Vec<Seen> = Vec::new();
    while observed.len() < expected.len() {
        let event = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("watcher stalled")
            .expect("watcher ended");
        observed.extend(seen(&event));
    }
    for pair in observed.windows(2) {
        assert!(
            pair[0].2 < pair[1].2,
            "resourceVersions out of order: {pair:?}"
        );
    }
    for (i, ((kind, name, rv), (want_kind, want_name, want_rv))) in
        observed.iter().zip(&expected).enumerate()
    {
        assert_eq!((kind, name), (want_kind, want_name), "change {i}");
        if let Some(want_rv) = want_rv {
            assert_eq!(rv, want_rv, "change {i} ({name})");
        }
    }

    // The reflector's cache ends equal to a fresh list.
    let fresh = api.list(&ListParams::default()).await.unwrap();
    let listed: BTreeSet<(String, String)> = fresh
        .items
        .iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap()))
        .collect();
    eventually("the reflector to match a fresh list", || {
        let cached: BTreeSet<(String, String)> = reader
            .state()
            .iter()
            .map(|o| (o.name_any(), o.resource_version().unwrap()))
            .collect();
        std::future::ready((cached == listed).then_some(()))
    })
    .await;
    watching.abort();

    // client-go 1.35 style streaming lists (sendInitialEvents) give the same cache.
    let (streamed, writer) = reflector::store::<Executable>();
    let streaming = tokio::spawn(
        reflector(
            writer,
            watcher(api.clone(), watcher::Config::default().streaming_lists()),
        )
        .for_each(|_| async {}),
    );
    tokio::time::timeout(PATIENCE, streamed.wait_until_ready())
        .await
        .expect("streaming list never finished")
        .unwrap();
    let cached: BTreeSet<(String, String)> = streamed
        .state()
        .iter()
        .map(|o| (o.name_any(), o.resource_version().unwrap()))
        .collect();
    assert_eq!(cached, listed);
    streaming.abort();

    // A watch resumed from a known resourceVersion gets exactly the later changes.
    let from = observed[99].2;
    let mut resumed = api
        .watch(&WatchParams::default(), &from.to_string())
        .await
        .unwrap()
        .boxed();
    let mut later: Vec<Seen> = Vec::new();
    while later.len() < 100 {
        let event = tokio::time::timeout(PATIENCE, resumed.try_next())
            .await
            .expect("resumed watch stalled")
            .unwrap()
            .expect("resumed watch ended");
        match event {
            WatchEvent::Added(o) | WatchEvent::Modified(o) => {
                later.push(("apply", o.name_any(), rv(&o)))
            }
            WatchEvent::Deleted(o) => later.push(("delete", o.name_any(), rv(&o))),
            WatchEvent::Bookmark(_) => {}
            WatchEvent::Error(e) => panic!("resumed watch failed: {e:?}"),
        }
    }
    assert_eq!(later, observed[100..].to_vec());
    match tokio::time::timeout(Duration::from_millis(500), resumed.try_next()).await {
        Err(_) | Ok(Ok(Some(WatchEvent::Bookmark(_)))) => {}
        Ok(other) => panic!("nothing else was changed, yet the watch sent {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_from_a_compacted_resource_version_gets_410_and_the_watcher_relists() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("state");
    let server = Server::start_api_only_in(&dir);
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let first = api
        .create(
            &PostParams::default(),
            &executable("watched-1", &[("app", "w")]),
        )
        .await
        .unwrap();

    // A selective watcher: later writes to unselected objects do not advance its resourceVersion.
    let (reader, writer) = reflector::store::<Executable>();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let config = watcher::Config::default().labels("app=w");
    let stream = reflector(writer, watcher(api.clone(), config)).default_backoff();
    let watching = tokio::spawn(async move {
        let mut stream = std::pin::pin!(stream);
        while let Some(event) = stream.next().await {
            let _ = tx.send(event.map_err(|e| e.to_string()));
        }
    });
    tokio::time::timeout(PATIENCE, reader.wait_until_ready())
        .await
        .unwrap()
        .unwrap();
    // An object leaving the selection is a deletion to this watcher.
    api.create(
        &PostParams::default(),
        &executable("leaver", &[("app", "w")]),
    )
    .await
    .unwrap();
    let cached = |reader: &reflector::Store<Executable>| {
        let mut names: Vec<String> = reader.state().iter().map(|o| o.name_any()).collect();
        names.sort();
        names
    };
    eventually("the watcher to see `leaver`", || {
        std::future::ready((cached(&reader).len() == 2).then_some(()))
    })
    .await;
    let unlabel = Patch::Merge(json!({"metadata": {"labels": {"app": null}}}));
    api.patch("leaver", &PatchParams::default(), &unlabel)
        .await
        .unwrap();
    eventually("`leaver` to leave the cache", || {
        std::future::ready((cached(&reader) == ["watched-1"]).then_some(()))
    })
    .await;
    for i in 0..3 {
        api.create(
            &PostParams::default(),
            &executable(&format!("other-{i}"), &[]),
        )
        .await
        .unwrap();
    }

    // After a restart the watch history starts at the store's revision, like a fresh watch cache.
    server.kill9();
    let server = Server::start_api_only_in(&dir);
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let gone = api
        .watch(&WatchParams::default(), &rv(&first).to_string())
        .await
        .unwrap()
        .boxed()
        .try_next()
        .await
        .unwrap();
    match gone {
        Some(WatchEvent::Error(status)) => {
            assert_eq!(
                (status.code, status.reason.as_str()),
                (410, "Expired"),
                "{status:?}"
            );
            assert!(
                status.message.contains("too old resource version"),
                "{}",
                status.message
            );
        }
        other => panic!("expected a 410 ERROR event, got {other:?}"),
    }

    // The kube watcher reconnects, meets the 410, re-lists and carries on.
    api.create(
        &PostParams::default(),
        &executable("watched-2", &[("app", "w")]),
    )
    .await
    .unwrap();
    let mut saw_410 = false;
    let mut relisted = false;
    loop {
        let event = tokio::time::timeout(PATIENCE, rx.recv())
            .await
            .expect("watcher never recovered")
            .unwrap();
        match event {
            Err(e) if e.contains("410") || e.to_lowercase().contains("too old") => saw_410 = true,
            Err(_) => {}
            Ok(watcher::Event::InitDone) => relisted = true,
            Ok(_) => {}
        }
        let mut cached: Vec<String> = reader.state().iter().map(|o| o.name_any()).collect();
        cached.sort();
        if relisted && cached == ["watched-1", "watched-2"] {
            break;
        }
    }
    assert!(
        saw_410,
        "the watcher should have been told its resourceVersion expired"
    );
    watching.abort();
}

// ---------------------------------------------------------------------------------------
// Controller
// ---------------------------------------------------------------------------------------

const FINALIZER: &str = "test.kaspire.dev/cleanup";
const MANAGER: &str = "test-controller";

struct Context {
    client: Client,
    recorder: Recorder,
    reconciles: AtomicUsize,
    cleanups: AtomicUsize,
}

async fn reconcile(
    exe: Arc<Executable>,
    ctx: Arc<Context>,
) -> Result<Action, finalizer::Error<kube::Error>> {
    ctx.reconciles.fetch_add(1, Ordering::SeqCst);
    let api: Api<Executable> = Api::namespaced(ctx.client.clone(), &exe.namespace().unwrap());
    finalizer(&api, FINALIZER, exe, |event| async {
        match event {
            finalizer::Event::Apply(exe) => apply(&exe, &ctx).await,
            finalizer::Event::Cleanup(_) => {
                ctx.cleanups.fetch_add(1, Ordering::SeqCst);
                Ok(Action::await_change())
            }
        }
    })
    .await
}

/// Ensures the owned Value, reports status with server-side apply, and records an event.
async fn apply(exe: &Executable, ctx: &Context) -> Result<Action, kube::Error> {
    let name = exe.name_any();
    let namespace = exe.namespace().unwrap();
    let values: Api<kaspire::api::Value> = Api::namespaced(ctx.client.clone(), &namespace);
    let owned = json!({
        "apiVersion": API_VERSION, "kind": "Value",
        "metadata": {"name": name, "ownerReferences": [exe.controller_owner_ref(&()).unwrap()]},
        "spec": {"connectionString": format!("run {}", exe.spec.command)},
    });
    values
        .patch(
            &name,
            &PatchParams::apply(MANAGER).force(),
            &Patch::Apply(owned),
        )
        .await?;
    let status = json!({
        "apiVersion": API_VERSION, "kind": "Executable",
        "status": {"state": "Running", "observedGeneration": exe.metadata.generation},
    });
    let exes: Api<Executable> = Api::namespaced(ctx.client.clone(), &namespace);
    exes.patch_status(
        &name,
        &PatchParams::apply(MANAGER).force(),
        &Patch::Apply(status),
    )
    .await?;
    let event = RecorderEvent {
        type_: EventType::Normal,
        reason: "Reconciled".into(),
        note: Some(format!("owned value {name} is in place")),
        action: "Reconcile".into(),
        secondary: None,
    };
    ctx.recorder.publish(&event, &exe.object_ref(&())).await?;
    Ok(Action::requeue(Duration::from_secs(300)))
}

fn error_policy(
    _: Arc<Executable>,
    error: &finalizer::Error<kube::Error>,
    _: Arc<Context>,
) -> Action {
    eprintln!("reconcile failed: {error}");
    Action::requeue(Duration::from_millis(200))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn controller_with_owns_and_finalizer_reconciles_recreates_cleans_up_and_is_garbage_collected()
 {
    let server = Server::start_api_only();
    let client = server.client().await;
    let exes: Api<Executable> = Api::default_namespaced(client.clone());
    let values: Api<kaspire::api::Value> = Api::default_namespaced(client.clone());
    let ctx = Arc::new(Context {
        client: client.clone(),
        recorder: Recorder::new(
            client.clone(),
            Reporter {
                controller: MANAGER.into(),
                instance: None,
            },
        ),
        reconciles: AtomicUsize::new(0),
        cleanups: AtomicUsize::new(0),
    });
    let controller = Controller::new(exes.clone(), watcher::Config::default())
        .owns(values.clone(), watcher::Config::default())
        .run(reconcile, error_policy, ctx.clone())
        .for_each(|_| async {});
    let running = tokio::spawn(controller);

    let exe = exes
        .create(&PostParams::default(), &executable("web", &[]))
        .await
        .unwrap();
    let uid = exe.uid().unwrap();
    let reconciled = eventually("the first reconcile", || {
        let exes = exes.clone();
        async move {
            exes.get("web").await.ok().filter(|e| {
                e.status
                    .as_ref()
                    .is_some_and(|s| s.state == ResourceState::Running)
            })
        }
    })
    .await;
    assert!(
        reconciled.finalizers().contains(&FINALIZER.to_string()),
        "the finalizer helper added its finalizer"
    );
    assert_eq!(
        reconciled.status.as_ref().unwrap().observed_generation,
        Some(1)
    );
    let value = values.get("web").await.unwrap();
    let owner = &value.owner_references()[0];
    assert_eq!(
        (owner.uid.as_str(), owner.kind.as_str(), owner.controller),
        (uid.as_str(), "Executable", Some(true))
    );

    // kubectl describe lists core/v1 Events by involvedObject.
    let events: Api<CoreEvent> = Api::default_namespaced(client.clone());
    let selector = format!(
        "involvedObject.name=web,involvedObject.namespace=default,involvedObject.kind=Executable,involvedObject.uid={uid}"
    );
    let event = eventually("the recorded event", || {
        let events = events.clone();
        let selector = selector.clone();
        async move {
            events
                .list(&ListParams::default().fields(&selector))
                .await
                .unwrap()
                .items
                .into_iter()
                .find(|e| e.reason.as_deref() == Some("Reconciled"))
        }
    })
    .await;
    assert_eq!(
        event.involved_object.api_version.as_deref(),
        Some(API_VERSION)
    );
    assert_eq!(event.involved_object.uid.as_deref(), Some(uid.as_str()));
    assert_eq!(event.type_.as_deref(), Some("Normal"));
    assert_eq!(
        event.message.as_deref(),
        Some("owned value web is in place")
    );
    assert_eq!(event.reporting_component.as_deref(), Some(MANAGER));

    // `.owns()`: deleting the owned Value triggers a reconcile that recreates it.
    let before = ctx.reconciles.load(Ordering::SeqCst);
    values
        .delete("web", &DeleteParams::default())
        .await
        .unwrap();
    let recreated = eventually("the owned Value to be recreated", || {
        let values = values.clone();
        async move { values.get_opt("web").await.unwrap() }
    })
    .await;
    assert_ne!(recreated.uid(), value.uid());
    assert!(ctx.reconciles.load(Ordering::SeqCst) > before);

    // Deleting the Executable runs cleanup, the helper drops the finalizer, and the object goes.
    exes.delete("web", &DeleteParams::default()).await.unwrap();
    eventually("the Executable to be gone", || {
        let exes = exes.clone();
        async move { exes.get_opt("web").await.unwrap().is_none().then_some(()) }
    })
    .await;
    assert_eq!(ctx.cleanups.load(Ordering::SeqCst), 1);
    // The garbage collector then deletes the orphaned Value.
    eventually("the owned Value to be garbage collected", || {
        let values = values.clone();
        async move { values.get_opt("web").await.unwrap().is_none().then_some(()) }
    })
    .await;
    running.abort();
}

// ---------------------------------------------------------------------------------------
// CRDs
// ---------------------------------------------------------------------------------------

/// A CRD the server does not install itself, as a kube-rs app would define one.
#[derive(CustomResource, Serialize, Deserialize, JsonSchema, Clone, Debug, PartialEq)]
#[kube(
    group = "test.kaspire.dev",
    version = "v1",
    kind = "Gadget",
    namespaced
)]
pub struct GadgetSpec {
    size: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    color: Option<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applied_crds_become_established_and_serve_their_kind() {
    let server = Server::start_api_only();
    let client = server.client().await;
    let crds: Api<CustomResourceDefinition> = Api::all(client.clone());
    let params = PatchParams::apply("kube-client-test").force();
    for crd in [Executable::crd(), Gadget::crd()] {
        let name = crd.name_any();
        crds.patch(&name, &params, &Patch::Apply(&crd))
            .await
            .unwrap();
        let established = tokio::time::timeout(
            PATIENCE,
            await_condition(crds.clone(), &name, conditions::is_crd_established()),
        )
        .await;
        assert!(
            established
                .expect("CRD never established")
                .unwrap()
                .is_some(),
            "{name}"
        );
    }
    let gadgets: Api<Gadget> = Api::default_namespaced(client.clone());
    let created = gadgets
        .create(
            &PostParams::default(),
            &Gadget::new(
                "g",
                GadgetSpec {
                    size: 3,
                    color: None,
                },
            ),
        )
        .await
        .unwrap();
    assert_eq!(created.spec.size, 3);
    let wrong = api_error(
        gadgets
            .patch(
                "g",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"size": "big"}})),
            )
            .await,
    );
    assert_eq!(wrong.code, 422, "the served schema validates: {wrong:?}");
}

// ---------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------

const EXECUTABLES: &str = "/apis/kaspire.dev/v1alpha1/namespaces/default/executables";

fn raw(method: &str, uri: &str, content_type: &str, body: Vec<u8>) -> http::Request<Vec<u8>> {
    http::Request::builder()
        .method(method)
        .uri(uri)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(body)
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_rejected_with_a_useful_4xx_and_changes_nothing() {
    let server = Server::start_api_only();
    let client = server.client().await;
    let api: Api<Executable> = Api::default_namespaced(client.clone());
    let dynamic: Api<DynamicObject> =
        Api::default_namespaced_with(client.clone(), &ApiResource::erase::<Executable>(&()));
    let original = api
        .create(&PostParams::default(), &executable("good", &[]))
        .await
        .unwrap();
    let start = revision(&client).await;

    let status = api_error(
        client
            .request_text(raw(
                "POST",
                EXECUTABLES,
                "application/json",
                b"{\"apiVersion\": ".to_vec(),
            ))
            .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (400, "BadRequest"),
        "{status:?}"
    );
    assert!(status.message.contains("JSON"), "{}", status.message);

    let uri = format!("{EXECUTABLES}?includeObject=Everything");
    let status = api_error(
        client
            .request_text(raw("GET", &uri, "application/json", Vec::new()))
            .await,
    );
    assert_eq!(status.code, 400, "{status:?}");
    assert!(
        status.message.contains("includeObject"),
        "{}",
        status.message
    );

    let unknown = json!({"apiVersion": API_VERSION, "kind": "Executable", "metadata": {"name": "strict"}, "spec": {"command": "x", "bogus": 1}});
    let uri = format!("{EXECUTABLES}?fieldValidation=Strict");
    let status = api_error(
        client
            .request_text(raw(
                "POST",
                &uri,
                "application/json",
                serde_json::to_vec(&unknown).unwrap(),
            ))
            .await,
    );
    assert_eq!(status.code, 400, "{status:?}");
    assert!(
        status.message.contains("unknown field \"spec.bogus\""),
        "{}",
        status.message
    );
    let strict = PatchParams {
        field_validation: Some(ValidationDirective::Strict),
        ..Default::default()
    };
    let status = api_error(
        api.patch(
            "good",
            &strict,
            &Patch::Merge(json!({"spec": {"bogus": 1}})),
        )
        .await,
    );
    assert_eq!(status.code, 400, "{status:?}");
    assert!(status.message.contains("spec.bogus"), "{}", status.message);

    let mut wrong_type = DynamicObject::new("wrong-type", &ApiResource::erase::<Executable>(&()));
    wrong_type.data = json!({"spec": {"command": "x", "replicas": "two"}});
    let status = api_error(dynamic.create(&PostParams::default(), &wrong_type).await);
    assert_eq!(
        (status.code, status.reason.as_str()),
        (422, "Invalid"),
        "{status:?}"
    );
    assert!(
        status.message.contains("spec.replicas"),
        "{}",
        status.message
    );

    let mut missing = DynamicObject::new("missing", &ApiResource::erase::<Executable>(&()));
    missing.data = json!({"spec": {"args": ["a"]}});
    let status = api_error(dynamic.create(&PostParams::default(), &missing).await);
    assert_eq!(status.code, 422, "{status:?}");
    assert!(
        status.message.contains("spec.command"),
        "{}",
        status.message
    );
    let causes = status
        .details
        .as_ref()
        .map(|d| d.causes.clone())
        .unwrap_or_default();
    assert!(
        causes.iter().any(|c| c.field == "spec.command"),
        "{causes:?}"
    );

    let status = api_error(api.list(&ListParams::default().labels("tier in (a")).await);
    assert_eq!(status.code, 400, "{status:?}");
    assert!(
        status.message.contains("labelSelector"),
        "{}",
        status.message
    );
    let status = api_error(
        api.list(&ListParams::default().fields("spec.command=x"))
            .await,
    );
    assert_eq!(status.code, 400, "{status:?}");

    let mut huge = executable("huge", &[]);
    huge.annotations_mut()
        .insert("blob".into(), "x".repeat(3 * 1024 * 1024 + 1024));
    let status = api_error(api.create(&PostParams::default(), &huge).await);
    assert_eq!(status.code, 413, "{status:?}");

    let status = api_error(
        api.patch(
            "good",
            &PatchParams::default(),
            &Patch::Strategic(json!({"spec": {"args": ["s"]}})),
        )
        .await,
    );
    assert_eq!(
        (status.code, status.reason.as_str()),
        (415, "UnsupportedMediaType"),
        "{status:?}"
    );
    assert!(
        status.message.contains("application/merge-patch+json"),
        "{}",
        status.message
    );

    let kubeconfig = std::fs::read_to_string(&server.kubeconfig).unwrap();
    let token_line = kubeconfig
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .unwrap()
        .to_string();
    let wrong_token = kubeconfig.replace(&token_line, "    token: not-the-token");
    let no_token = kubeconfig.replace(&token_line, "    username: nobody");
    for (what, text) in [("a wrong token", wrong_token), ("no token", no_token)] {
        let config = kube::config::Kubeconfig::from_yaml(&text).unwrap();
        let config = kube::Config::from_custom_kubeconfig(config, &Default::default())
            .await
            .unwrap();
        let stranger: Api<Executable> = Api::default_namespaced(Client::try_from(config).unwrap());
        let status = api_error(stranger.get("good").await);
        assert_eq!(
            (status.code, status.reason.as_str()),
            (401, "Unauthorized"),
            "{what}: {status:?}"
        );
        let status = api_error(
            stranger
                .create(&PostParams::default(), &executable("intruder", &[]))
                .await,
        );
        assert_eq!(status.code, 401, "{what}: {status:?}");
    }

    assert_eq!(revision(&client).await, start, "no bad request may write");
    assert_eq!(api.get("good").await.unwrap(), original);
    let names: Vec<String> = api
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .iter()
        .map(|e| e.name_any())
        .collect();
    assert_eq!(names, vec!["good"]);
}
