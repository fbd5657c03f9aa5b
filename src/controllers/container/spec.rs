//! From a Container's spec to what the engine is asked for: the container's name, its
//! labels, the lifecycle key, and the create request (image, command, environment,
//! published ports, mounts, network, runtime args).

use std::collections::HashMap;
use std::path::Path;

use bollard::models::{
    ContainerCreateBody, EndpointSettings, HostConfig, Mount, MountType, NetworkingConfig,
    PortBinding,
};
use kube::ResourceExt;

use super::network::engine_name;
use super::runtime_args;
use crate::api::{Container, EndpointScheme, Lifetime, VolumeType};
use crate::controllers::executable::spawn::SOURCE_DIR_ANNOTATION;
use crate::controllers::workload::Launch;
use crate::expr::CONTAINER_HOST_ALIAS;
use crate::runtime::docker::labels;

/// The engine's name for replica `index`: `spec.containerName`, else the resource name
/// with a suffix that keeps it unique — the object's uid for a Session container (a
/// new one each session), the control plane instance for a Persistent one (found again
/// by name in the next session). Replicas after the first add `-INDEX`.
pub fn container_name(ctr: &Container, instance: &str, index: u32) -> String {
    let base = ctr.spec.container_name.clone().unwrap_or_else(|| {
        let suffix = match ctr.spec.run.lifetime {
            Lifetime::Session => ctr.uid().unwrap_or_default(),
            Lifetime::Persistent => instance.to_owned(),
        };
        let short: String = suffix
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(8)
            .collect();
        format!("{}-{short}", ctr.name_any())
    });
    if index == 0 {
        base
    } else {
        format!("{base}-{index}")
    }
}

/// `spec.lifecycleKey`, or a hash of what the container is created from (image,
/// command, environment templates, endpoints, mounts, runtime args, network, name).
/// Resolved values (allocated ports) and volatile fields (replicas, waits, checks) are
/// left out; the image's id is compared separately, through a label.
pub fn lifecycle_key(ctr: &Container) -> String {
    use sha2::{Digest, Sha256};
    if let Some(key) = &ctr.spec.run.lifecycle_key {
        return key.clone();
    }
    let spec = &ctr.spec;
    let material = serde_json::json!({
        "image": spec.image,
        "entrypoint": spec.entrypoint,
        "args": spec.run.args,
        "env": spec.run.env,
        "endpoints": spec.run.endpoints,
        "volumes": spec.volumes,
        "runtimeArgs": spec.runtime_args,
        "network": spec.network,
        "containerName": spec.container_name,
        "sourceDir": ctr.annotations().get(SOURCE_DIR_ANNOTATION),
    });
    let digest = Sha256::digest(material.to_string().as_bytes());
    digest.iter().take(8).map(|b| format!("{b:02x}")).collect()
}

/// The labels that say whose a container is.
pub fn container_labels(
    ctr: &Container,
    instance: &str,
    index: u32,
    lifecycle_key: &str,
    image_id: &str,
) -> HashMap<String, String> {
    let lifetime = match ctr.spec.run.lifetime {
        Lifetime::Session => "Session",
        Lifetime::Persistent => "Persistent",
    };
    HashMap::from([
        (labels::MANAGED_BY.to_owned(), "kaspire".to_owned()),
        (labels::INSTANCE.to_owned(), instance.to_owned()),
        (labels::UID.to_owned(), ctr.uid().unwrap_or_default()),
        (
            labels::RESOURCE.to_owned(),
            format!("{}/{}", ctr.namespace().unwrap_or_default(), ctr.name_any()),
        ),
        (labels::REPLICA.to_owned(), index.to_string()),
        (labels::LIFETIME.to_owned(), lifetime.to_owned()),
        (labels::LIFECYCLE_KEY.to_owned(), lifecycle_key.to_owned()),
        (labels::IMAGE_ID.to_owned(), image_id.to_owned()),
    ])
}

/// Where the engine can reach the host from the container's network.
pub struct HostGateway(pub Option<String>);

/// The create request of one replica. `base` resolves relative bind sources.
pub fn create_body(
    ctr: &Container,
    launch: &Launch<'_>,
    instance: &str,
    image_id: &str,
    gateway: &HostGateway,
    base: &Path,
) -> Result<ContainerCreateBody, String> {
    let spec = &ctr.spec;
    let network = engine_name(ctr, instance);
    let mut env: Vec<String> = Vec::new();
    let mut exposed = Vec::new();
    let mut bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for endpoint in &spec.run.endpoints {
        let inside = endpoint.target_port.unwrap_or_default();
        let protocol = if endpoint.scheme == EndpointScheme::Udp {
            "udp"
        } else {
            "tcp"
        };
        let key = format!("{inside}/{protocol}");
        exposed.push(key.clone());
        if let Some(host_port) = launch.target_ports.get(&endpoint.name) {
            // Published on loopback only; an unproxied external endpoint is the one
            // case that asks for every interface.
            let host_ip = if endpoint.external && !endpoint.proxied {
                "0.0.0.0"
            } else {
                "127.0.0.1"
            };
            bindings
                .entry(key)
                .or_insert_with(|| Some(Vec::new()))
                .get_or_insert_default()
                .push(PortBinding {
                    host_ip: Some(host_ip.into()),
                    host_port: Some(host_port.to_string()),
                });
        }
        if let Some(var) = &endpoint.env {
            env.push(format!("{var}={inside}"));
        }
    }
    env.extend(launch.env.iter().map(|(k, v)| format!("{k}={v}")));
    let mut mounts = Vec::new();
    for (i, volume) in spec.volumes.iter().enumerate() {
        let field = format!("spec.volumes[{i}]");
        if !volume.target.starts_with('/') {
            return Err(format!(
                "{field}.target: {:?} is not an absolute path inside the container; write it like /data",
                volume.target
            ));
        }
        let source = match volume.type_ {
            VolumeType::Bind => {
                let Some(source) = &volume.source else {
                    return Err(format!(
                        "{field}.source: a bind mount needs the host path to mount"
                    ));
                };
                let path = base.join(source);
                if !path.exists() {
                    return Err(format!(
                        "{field}.source: {} does not exist on this machine; create it or fix the path (relative paths are relative to the app file's directory)",
                        path.display()
                    ));
                }
                Some(path.to_string_lossy().into_owned())
            }
            VolumeType::Volume => volume.source.clone(),
        };
        mounts.push(Mount {
            target: Some(volume.target.clone()),
            source,
            typ: Some(match volume.type_ {
                VolumeType::Bind => MountType::BIND,
                VolumeType::Volume => MountType::VOLUME,
            }),
            read_only: Some(volume.read_only),
            ..Default::default()
        });
    }
    let extra_hosts = gateway
        .0
        .as_ref()
        .map(|ip| vec![format!("{CONTAINER_HOST_ALIAS}:{ip}")]);
    let mut body = ContainerCreateBody {
        // By reference, so `docker ps` shows the name; the id is in a label.
        image: Some(spec.image.clone()),
        entrypoint: spec.entrypoint.clone().map(|e| vec![e]),
        cmd: (!launch.args.is_empty()).then(|| launch.args.clone()),
        env: Some(env),
        labels: Some(container_labels(
            ctr,
            instance,
            launch.index,
            launch.lifecycle_key,
            image_id,
        )),
        exposed_ports: Some(exposed),
        host_config: Some(HostConfig {
            port_bindings: Some(bindings),
            mounts: Some(mounts),
            extra_hosts,
            network_mode: Some(network.clone()),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network,
                EndpointSettings {
                    // Other containers reach this one by its resource name.
                    aliases: Some(vec![ctr.name_any()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    };
    runtime_args::apply(&spec.runtime_args, &mut body)?;
    Ok(body)
}
