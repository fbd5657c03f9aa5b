//! Containers of an object found when it is first reconciled by this control plane
//! (after a restart, `kill -9` included): those created from the current spec are
//! adopted — running ones keep running, ended ones report how they ended — and the
//! rest are removed. Nothing is created twice.

use std::collections::HashMap;

use bollard::Docker;
use bollard::models::ContainerSummary;
use bollard::query_parameters::ListContainersOptions;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::image;
use super::launch::{follow, published_ports};
use crate::api::Container;
use crate::controllers::context::Context;
use crate::controllers::workload::health::Checks;
use crate::controllers::workload::runs::{Process, Replica, Run, RunHandle, lock, track};
use crate::controllers::workload::{Workload, ports};
use crate::runtime::docker::{ContainerProcess, ContainerRef, labels};

/// Adopts the containers of `ctr` created from `key`; removes the others.
pub async fn adopt(ctr: &Container, ctx: &Context, key: &str) -> Option<RunHandle> {
    let docker = ctx.docker.client().await.ok()?;
    let found = of_object(&docker, ctr).await;
    if found.is_empty() {
        return None;
    }
    let desired = ctr.spec.run.replicas.max(0) as u32;
    let mut keep = Vec::new();
    for summary in found {
        let labels = summary.labels.clone().unwrap_or_default();
        let index = replica_index(&labels);
        let id = summary.id.clone().unwrap_or_default();
        let current = labels.get(labels::LIFECYCLE_KEY).map(String::as_str) == Some(key);
        if current && index < desired && !ctr.spec.run.stopped {
            keep.push((index, id));
        } else {
            ctx.system_log(
                ctr,
                index,
                &format!("removing leftover container {id:.12} (its spec is out of date)"),
            );
            ContainerRef {
                docker: docker.clone(),
                id,
            }
            .remove()
            .await;
        }
    }
    if keep.is_empty() {
        return None;
    }
    let mut run = Run::new(key.to_owned());
    let previous = ctr.status.as_ref().map_or(&[][..], |s| &s.run.endpoints);
    run.ports = ports::plan(&ctr.spec.run, true, previous).ok()?;
    let run = Container::runs(ctx).insert(&ctr.uid().unwrap_or_default(), run);
    for (index, id) in keep {
        let container = ContainerRef {
            docker: docker.clone(),
            id: id.clone(),
        };
        let Ok(inspected) = container.inspect().await else {
            continue;
        };
        let image = image::of_container(&docker, &inspected).await;
        let target_ports = published_ports(ctr, &inspected);
        lock(&run).ports.adopt(index, &target_ports);
        let since = jiff::Timestamp::now().as_second();
        match follow(
            ctr,
            ctx,
            container,
            &inspected,
            index,
            target_ports,
            &image,
            since,
        ) {
            Ok(replica) => {
                ctx.system_log(
                    ctr,
                    index,
                    &format!(
                        "adopted replica {index} (container {id:.12}) after a control-plane restart"
                    ),
                );
                track(
                    &run,
                    index,
                    replica,
                    ctx.wake_container.clone(),
                    ObjectRef::from_obj(ctr),
                );
            }
            Err(message) => ctx.system_log(ctr, index, &message),
        }
    }
    Some(run)
}

/// For a deleted object: every container of it, as a run to stop and remove.
pub async fn adopt_for_cleanup(ctr: &Container, ctx: &Context) -> Option<RunHandle> {
    let docker = ctx.docker.client().await.ok()?;
    let found = of_object(&docker, ctr).await;
    if found.is_empty() {
        return None;
    }
    let run = Container::runs(ctx).insert(&ctr.uid().unwrap_or_default(), Run::new(String::new()));
    for summary in found {
        let index = replica_index(&summary.labels.clone().unwrap_or_default());
        let id = summary.id.unwrap_or_default();
        let process = ContainerProcess {
            container: ContainerRef {
                docker: docker.clone(),
                id: id.clone(),
            },
            id,
            pid: 0,
            remove_on_stop: true,
        };
        let replica = Replica::new(
            Process::Container(process),
            Checks::default(),
            Default::default(),
            Vec::new(),
        );
        track(
            &run,
            index,
            replica,
            ctx.wake_container.clone(),
            ObjectRef::from_obj(ctr),
        );
    }
    Some(run)
}

/// Removes every container of a deleted object (ended ones included).
pub async fn remove_all(ctr: &Container, ctx: &Context) {
    // Without an engine there is nothing of it that could be removed now; the next
    // control plane's sweep removes what is left.
    let Ok(docker) = ctx.docker.client().await else {
        return;
    };
    for summary in of_object(&docker, ctr).await {
        ContainerRef {
            docker: docker.clone(),
            id: summary.id.unwrap_or_default(),
        }
        .remove()
        .await;
    }
}

/// Every container (running or not) labelled with the object's uid.
async fn of_object(docker: &Docker, ctr: &Container) -> Vec<ContainerSummary> {
    list(
        docker,
        &format!("{}={}", labels::UID, ctr.uid().unwrap_or_default()),
    )
    .await
}

/// Every container (running or not) carrying `label` (`key=value`).
pub async fn list(docker: &Docker, label: &str) -> Vec<ContainerSummary> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(HashMap::from([(
            "label".to_owned(),
            vec![label.to_owned()],
        )])),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .unwrap_or_default()
}

fn replica_index(labels: &HashMap<String, String>) -> u32 {
    labels
        .get(labels::REPLICA)
        .and_then(|i| i.parse().ok())
        .unwrap_or(0)
}

/// Removes this instance's containers whose object is gone (`known` holds the uids of
/// the Containers that exist; only containers created before `created_before`, Unix
/// seconds, count, so one launched for an object newer than `known` is left alone), and
/// — with `sessions_too` — every Session container.
pub async fn sweep(
    docker: &Docker,
    instance: &str,
    known: &[String],
    created_before: i64,
    sessions_too: bool,
) -> usize {
    let mut removed = 0;
    for summary in list(docker, &format!("{}={instance}", labels::INSTANCE)).await {
        let labels = summary.labels.clone().unwrap_or_default();
        let orphan = summary.created.is_some_and(|at| at < created_before)
            && !labels
                .get(labels::UID)
                .is_some_and(|uid| known.contains(uid));
        let session = labels.get(labels::LIFETIME).map(String::as_str) == Some("Session");
        if orphan || (sessions_too && session) {
            ContainerRef {
                docker: docker.clone(),
                id: summary.id.unwrap_or_default(),
            }
            .remove()
            .await;
            removed += 1;
        }
    }
    removed
}
