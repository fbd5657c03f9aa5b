//! Starting one replica: image, network, then an existing container under the same
//! name is reused (a Persistent container created from the same spec and image, still
//! running or finished with 0), replaced (ours, but out of date or crashed) or refused
//! (not ours); otherwise created and started. The replica that results is followed
//! (log stream, health checks) like a process.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use bollard::Docker;
use bollard::models::ContainerInspectResponse;
use bollard::query_parameters::{CreateContainerOptions, InspectContainerOptions};
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;

use super::image::{self, Image};
use super::network;
use super::spec::{self, HostGateway};
use crate::api::{Container, EndpointScheme, Lifetime};
use crate::controllers::context::Context;
use crate::controllers::executable::spawn::{LogSink, SOURCE_DIR_ANNOTATION};
use crate::controllers::workload::health::{Checks, ExecIn};
use crate::controllers::workload::runs::{Process, Replica};
use crate::controllers::workload::{Launch, Workload};
use crate::runtime::docker::{ContainerProcess, ContainerRef, follow_logs, labels};
use crate::runtime::logs::Source;
use crate::runtime::ports::Protocol;

/// Starts replica `launch.index` of `ctr`, or takes over an equivalent one.
pub async fn launch(ctr: &Container, ctx: &Context, launch: Launch<'_>) -> Result<Replica, String> {
    let index = launch.index;
    let docker = ctx.docker.client().await?;
    let startup = ctx
        .logs
        .writer(&ctr.log_ref(), index, Source::Startup)
        .map_err(|e| format!("cannot open the log of {}: {e}", ctr.name_any()))?;
    let image = image::ensure(&docker, ctr, &startup).await?;
    let network_name = network::engine_name(ctr, &ctx.instance);
    let gateway = network::ensure(&docker, &network_name, &ctx.instance).await?;
    let body = spec::create_body(
        ctr,
        &launch,
        &ctx.instance,
        &image.id,
        &HostGateway(gateway.map(|ip| ip.to_string())),
        &base_dir(ctr, ctx),
    )?;
    if let Some(gateway) = gateway {
        ctx.host_bridges.ensure(
            gateway,
            host_ports(ctx, &ctr.namespace().unwrap_or_default()),
        );
    }
    let name = spec::container_name(ctr, &ctx.instance, index);
    if let Some(existing) = inspect(&docker, &name).await? {
        let labels = existing
            .config
            .as_ref()
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        if labels.get(labels::MANAGED_BY).map(String::as_str) != Some("kaspire") {
            return Err(format!(
                "spec.containerName: a container named {name} already exists and kaspire does not manage it; remove it (docker rm -f {name}) or choose another spec.containerName"
            ));
        }
        let state = existing.state.clone().unwrap_or_default();
        let running = state.running == Some(true);
        let finished = !running && state.exit_code == Some(0) && state.finished_at.is_some();
        let same = labels.get(labels::LIFECYCLE_KEY).map(String::as_str)
            == Some(launch.lifecycle_key)
            && labels.get(labels::IMAGE_ID) == Some(&image.id);
        let id = existing.id.clone().unwrap_or_default();
        if ctr.spec.run.lifetime == Lifetime::Persistent && same && (running || finished) {
            ctx.system_log(
                ctr,
                index,
                &format!(
                    "reusing Persistent container {name} ({}): created from the same spec and image",
                    short(&id)
                ),
            );
            let target_ports = published_ports(ctr, &existing);
            let container = ContainerRef { docker, id };
            return follow(
                ctr,
                ctx,
                container,
                &existing,
                index,
                target_ports,
                &image,
                now(),
            );
        }
        let why = if same {
            "it ended"
        } else {
            "its spec or image changed"
        };
        ctx.system_log(
            ctr,
            index,
            &format!("replacing container {name} ({}): {why}", short(&id)),
        );
        ContainerRef {
            docker: docker.clone(),
            id,
        }
        .remove()
        .await;
    }
    let options = CreateContainerOptions {
        name: Some(name.clone()),
        ..Default::default()
    };
    let created = docker
        .create_container(Some(options), body)
        .await
        .map_err(|e| {
            format!(
                "cannot create container {name} from {}: {}",
                ctr.spec.image,
                engine_message(&e)
            )
        })?;
    let container = ContainerRef {
        docker: docker.clone(),
        id: created.id.clone(),
    };
    let started_at = now();
    if let Err(e) = docker.start_container(&created.id, None).await {
        container.remove().await;
        return Err(format!(
            "cannot start container {name}: {}",
            engine_message(&e)
        ));
    }
    let inspected = container
        .inspect()
        .await
        .map_err(|e| format!("cannot inspect container {name}: {e}"))?;
    ctx.system_log(
        ctr,
        index,
        &format!(
            "started replica {index}: container {name} ({}) from {}",
            short(&created.id),
            ctr.spec.image
        ),
    );
    let replica = follow(
        ctr,
        ctx,
        container.clone(),
        &inspected,
        index,
        launch.target_ports,
        &image,
        started_at,
    );
    if replica.is_err() {
        container.remove().await;
    }
    replica
}

/// The replica for a running (or finished) container: its process, health checks and
/// log stream from `since` (Unix seconds).
#[allow(clippy::too_many_arguments)]
pub fn follow(
    ctr: &Container,
    ctx: &Context,
    container: ContainerRef,
    inspected: &ContainerInspectResponse,
    index: u32,
    target_ports: BTreeMap<String, u16>,
    image: &Image,
    since: i64,
) -> Result<Replica, String> {
    let (wake, object) = (ctx.wake_container.clone(), ObjectRef::from_obj(ctr));
    let notify = move || {
        let _ = wake.send(object.clone());
    };
    let mut checks = Checks::start(
        &ctr.spec.run,
        &target_ports,
        ExecIn::Container(&container),
        notify.clone(),
    )?;
    if image.has_healthcheck {
        checks.add_image_healthcheck(&container, notify);
    }
    let sink = LogSink::open(&ctx.logs, &ctr.log_ref(), index)
        .map_err(|e| format!("cannot open the log of {}: {e}", ctr.name_any()))?;
    let follower = follow_logs(&container, Arc::new(sink), since);
    let pid = inspected
        .state
        .as_ref()
        .and_then(|s| s.pid)
        .unwrap_or_default() as i32;
    let process = ContainerProcess {
        id: container.id.clone(),
        container,
        pid,
        remove_on_stop: ctr.spec.run.lifetime == Lifetime::Session,
    };
    let mut replica = Replica::new(
        Process::Container(process),
        checks,
        target_ports,
        vec![Box::new(follower)],
    );
    replica.image = Some(image.id.clone());
    Ok(replica)
}

/// The host ports a container's endpoints are published on.
pub fn published_ports(
    ctr: &Container,
    inspected: &ContainerInspectResponse,
) -> BTreeMap<String, u16> {
    let ports = inspected
        .network_settings
        .as_ref()
        .and_then(|n| n.ports.clone())
        .unwrap_or_default();
    ctr.spec
        .run
        .endpoints
        .iter()
        .filter_map(|endpoint| {
            let protocol = if endpoint.scheme == EndpointScheme::Udp {
                "udp"
            } else {
                "tcp"
            };
            let key = format!("{}/{protocol}", endpoint.target_port?);
            let host_port = ports
                .get(&key)?
                .as_ref()?
                .iter()
                .find_map(|b| b.host_port.as_deref()?.parse::<u16>().ok())?;
            Some((endpoint.name.clone(), host_port))
        })
        .collect()
}

/// The container named `name`, or `None` when there is none.
async fn inspect(docker: &Docker, name: &str) -> Result<Option<ContainerInspectResponse>, String> {
    match docker
        .inspect_container(name, None::<InspectContainerOptions>)
        .await
    {
        Ok(found) => Ok(Some(found)),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(format!("cannot inspect container {name}: {e}")),
    }
}

/// Ports of the namespace's host processes that containers may reach.
fn host_ports(ctx: &Context, namespace: &str) -> Vec<(u16, Protocol)> {
    ctx.directory
        .executables
        .state()
        .iter()
        .filter(|exe| exe.metadata.namespace.as_deref() == Some(namespace))
        .flat_map(|exe| {
            let specs = exe.spec.run.endpoints.clone();
            exe.status
                .as_ref()
                .map(|s| s.endpoints.clone())
                .unwrap_or_default()
                .into_iter()
                .filter_map(move |status| {
                    let udp = specs
                        .iter()
                        .any(|e| e.name == status.name && e.scheme == EndpointScheme::Udp);
                    let protocol = if udp { Protocol::Udp } else { Protocol::Tcp };
                    Some((u16::try_from(status.port?).ok()?, protocol))
                })
        })
        .collect()
}

/// The directory relative bind sources are relative to.
fn base_dir(ctr: &Container, ctx: &Context) -> PathBuf {
    ctr.annotations()
        .get(SOURCE_DIR_ANNOTATION)
        .map(PathBuf::from)
        .filter(|dir| dir.is_absolute())
        .unwrap_or_else(|| ctx.cwd.clone())
}

/// The engine's own words from an error (its JSON message, not the HTTP wrapper).
pub fn engine_message(error: &bollard::errors::Error) -> String {
    match error {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}
