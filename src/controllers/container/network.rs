//! Container networks and the way back to the host.
//!
//! Containers of a namespace share one bridge network (`kaspire-NAMESPACE`, or
//! `spec.network`), where each is reachable by its resource name. The host is
//! `host.docker.internal`, mapped to that network's gateway address — and because
//! the developer's processes listen on loopback, which a container cannot reach, a
//! [`HostBridges`] forwarder listens on the gateway address at each host endpoint's
//! port and relays to `127.0.0.1`. It binds the bridge's address only: nothing
//! becomes reachable from outside the machine.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Mutex;

use bollard::Docker;
use bollard::models::NetworkCreateRequest;
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptions};

use crate::api::{Container, container_network};
use crate::runtime::docker::labels;
use crate::runtime::ports::Protocol;
use crate::runtime::proxy::{Backend, Proxy};

/// The engine's name of the network `ctr` joins: `spec.network` as given (shared on
/// purpose), else the namespace's network of this control plane — network names are
/// global on an engine, and two projects (or test runs) must not share one by accident.
pub fn engine_name(ctr: &Container, instance: &str) -> String {
    match &ctr.spec.network {
        Some(name) => name.clone(),
        None => {
            let short: String = instance
                .chars()
                .filter(char::is_ascii_alphanumeric)
                .take(8)
                .collect();
            format!("{}-{short}", container_network(ctr))
        }
    }
}

/// Serializes network creation: the engine accepts two networks with one name.
static CREATING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Makes sure the network exists (creating it, labelled as ours, if not) and returns
/// its gateway address.
pub async fn ensure(docker: &Docker, name: &str, instance: &str) -> Result<Option<IpAddr>, String> {
    let _creating = CREATING.lock().await;
    if let Some(gateway) = gateway(docker, name).await? {
        return Ok(gateway);
    }
    let request = NetworkCreateRequest {
        name: name.to_owned(),
        driver: Some("bridge".into()),
        labels: Some(HashMap::from([
            (labels::MANAGED_BY.to_owned(), "kaspire".to_owned()),
            (labels::INSTANCE.to_owned(), instance.to_owned()),
        ])),
        ..Default::default()
    };
    if let Err(e) = docker.create_network(request).await {
        // Another container of the namespace may have created it a moment ago.
        if gateway(docker, name).await?.is_none() {
            return Err(format!("cannot create the network {name}: {e}"));
        }
    }
    Ok(gateway(docker, name).await?.flatten())
}

/// `Some(gateway)` when the network exists; `None` when it does not.
async fn gateway(docker: &Docker, name: &str) -> Result<Option<Option<IpAddr>>, String> {
    match docker
        .inspect_network(name, None::<InspectNetworkOptions>)
        .await
    {
        Ok(network) => Ok(Some(
            network
                .ipam
                .and_then(|ipam| ipam.config)
                .unwrap_or_default()
                .iter()
                .filter_map(|c| c.gateway.as_deref()?.parse::<IpAddr>().ok())
                .find(IpAddr::is_ipv4),
        )),
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(None),
        Err(e) => Err(format!("cannot inspect the network {name}: {e}")),
    }
}

/// Removes the networks this instance created that no container uses any more.
pub async fn remove_unused(docker: &Docker, instance: &str) {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{}={instance}", labels::INSTANCE)],
    )]);
    let options = ListNetworksOptions {
        filters: Some(filters),
    };
    let Ok(networks) = docker.list_networks(Some(options)).await else {
        return;
    };
    for network in networks {
        if let Some(name) = network.name {
            // Fails while a container (a Persistent one) still uses it: then it stays.
            let _ = docker.remove_network(&name).await;
        }
    }
}

/// Forwarders from a network gateway to the host's loopback, one per (address, port).
#[derive(Default)]
pub struct HostBridges {
    listeners: Mutex<HashMap<SocketAddr, Proxy>>,
}

impl HostBridges {
    /// Makes `127.0.0.1:PORT` reachable as `gateway:PORT` for every port in `ports`.
    pub fn ensure(&self, gateway: IpAddr, ports: impl IntoIterator<Item = (u16, Protocol)>) {
        let mut listeners = self.listeners.lock().unwrap_or_else(|p| p.into_inner());
        for (port, protocol) in ports {
            let listen = SocketAddr::new(gateway, port);
            if listeners.contains_key(&listen) {
                continue;
            }
            match Proxy::start(listen, protocol) {
                Ok(proxy) => {
                    proxy.set_backends(vec![Backend {
                        id: 0,
                        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                        ready: true,
                    }]);
                    listeners.insert(listen, proxy);
                }
                // A process listening on every interface is reachable as it is.
                Err(e) => tracing::debug!("no host bridge on {listen}: {e}"),
            }
        }
    }
}
