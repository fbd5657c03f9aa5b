//! Ports of a workload's endpoints: the stable `port` clients use — with the L4 proxy
//! that spreads connections over ready replicas — and where each replica is reached
//! from the host: a process's own `targetPort`, or the host port a container's
//! `targetPort` is published on. Every host port is a machine-wide lease
//! ([`crate::runtime::ports`]) held as long as the run, so no other resource or
//! kaspire instance gets it.

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, SocketAddr};

use crate::api::{EndpointScheme, EndpointStatus, RunSpec};
use crate::runtime::ports::{self, PortLease, Protocol};
use crate::runtime::proxy::{Backend, Proxy};

/// The ports of one endpoint.
#[derive(Default)]
pub struct EndpointPorts {
    pub name: String,
    /// The port clients use (`spec.port`, the port it had before, or allocated).
    pub port: u16,
    /// A fixed host port of the only replica (a process's fixed `targetPort`; unproxied:
    /// the port itself).
    pub fixed_target: Option<u16>,
    /// Allocated host ports by replica index.
    pub targets: BTreeMap<u32, u16>,
    leases: Vec<PortLease>,
    proxy: Option<Proxy>,
}

/// Ports of every endpoint of one run.
#[derive(Default)]
pub struct PortPlan {
    pub endpoints: Vec<EndpointPorts>,
}

/// Checks the endpoints of `spec`, leases the ports clients use and starts their
/// proxies. Ports from `previous` (the last status) are kept when still free, so
/// URLs survive restarts and Persistent resources keep their ports across sessions.
/// `own_network`: replicas are containers, each listening on `targetPort` in its own
/// network namespace, reached from the host through a published port.
pub fn plan(
    spec: &RunSpec,
    own_network: bool,
    previous: &[EndpointStatus],
) -> Result<PortPlan, String> {
    let mut endpoints = Vec::new();
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        let field = format!("spec.endpoints[{i}] ({})", endpoint.name);
        if own_network && endpoint.target_port.is_none() {
            return Err(format!(
                "{field}: targetPort is required for a Container: set it to the port the image listens on inside the container"
            ));
        }
        if !own_network && spec.replicas > 1 && endpoint.target_port.is_some() {
            return Err(format!(
                "{field}: targetPort {} is fixed but replicas is {}; every replica needs its own port, so remove targetPort (kaspire allocates one per replica)",
                endpoint.target_port.unwrap_or_default(),
                spec.replicas
            ));
        }
        if spec.replicas > 1 && !endpoint.proxied {
            return Err(format!(
                "{field}: proxied is false but replicas is {}; an unproxied endpoint serves one replica only, so set replicas: 1 or proxied: true",
                spec.replicas
            ));
        }
        let protocol = if endpoint.scheme == EndpointScheme::Udp {
            Protocol::Udp
        } else {
            Protocol::Tcp
        };
        let mut leases = Vec::new();
        let wanted = endpoint.port.or(if endpoint.proxied {
            None
        } else {
            endpoint.target_port
        });
        let lease = match wanted {
            Some(port) => ports::reserve_for(port as u16, protocol)
                .map_err(|e| format!("{field}.port: {e}"))?,
            None => previous
                .iter()
                .find(|p| p.name == endpoint.name)
                .and_then(|p| p.port)
                .and_then(|port| ports::reserve_for(port as u16, protocol).ok())
                .map_or_else(ports::allocate, Ok)
                .map_err(|e| format!("{field}: cannot allocate a port: {e}"))?,
        };
        let port = lease.port();
        leases.push(lease);
        // A container's targetPort is inside the container; on the host each replica
        // gets a published port of its own.
        let mut fixed_target = if own_network {
            None
        } else {
            endpoint.target_port.map(|p| p as u16)
        };
        let mut proxy = None;
        if endpoint.proxied {
            // Loopback on both families (URLs say `localhost`, which many clients
            // resolve to ::1 first); every interface only when `external`.
            proxy = Some(
                Proxy::listen(port, endpoint.external, protocol)
                    .map_err(|e| format!("{field}: cannot listen on port {port}: {e}"))?,
            );
            if let Some(target) = fixed_target {
                leases.push(
                    ports::reserve_for(target, protocol)
                        .map_err(|e| format!("{field}.targetPort: {e}"))?,
                );
            }
        } else {
            // Unproxied: the process listens on the port clients use.
            fixed_target = Some(port);
        }
        endpoints.push(EndpointPorts {
            name: endpoint.name.clone(),
            port,
            fixed_target,
            targets: BTreeMap::new(),
            leases,
            proxy,
        });
    }
    Ok(PortPlan { endpoints })
}

impl PortPlan {
    /// The target port of every endpoint for replica `index`, leasing new ones.
    pub fn target_ports(&mut self, index: u32) -> Result<BTreeMap<String, u16>, String> {
        let mut result = BTreeMap::new();
        for endpoint in &mut self.endpoints {
            let port = match endpoint
                .fixed_target
                .or_else(|| endpoint.targets.get(&index).copied())
            {
                Some(port) => port,
                None => {
                    let lease = ports::allocate().map_err(|e| {
                        format!(
                            "endpoint {}: cannot allocate a port for replica {index}: {e}",
                            endpoint.name
                        )
                    })?;
                    let port = lease.port();
                    endpoint.leases.push(lease);
                    endpoint.targets.insert(index, port);
                    port
                }
            };
            result.insert(endpoint.name.clone(), port);
        }
        Ok(result)
    }

    /// Records (and leases again) the target ports an adopted replica listens on.
    pub fn adopt(&mut self, index: u32, target_ports: &BTreeMap<String, u16>) {
        for endpoint in &mut self.endpoints {
            if let Some(&port) = target_ports.get(&endpoint.name) {
                if endpoint.fixed_target.is_none() {
                    endpoint.targets.insert(index, port);
                }
                if let Ok(lease) = ports::reclaim(port) {
                    endpoint.leases.push(lease);
                }
            }
        }
    }

    /// This resource as one of its replicas sees itself in expressions: every endpoint
    /// at its stable port, with the replica's own target port, at `location`.
    pub fn own_entry(
        &self,
        run: &RunSpec,
        location: crate::expr::Location,
        target_ports: &BTreeMap<String, u16>,
    ) -> crate::expr::Entry {
        let in_container = matches!(location, crate::expr::Location::Container { .. });
        let endpoints = run
            .endpoints
            .iter()
            .zip(&self.endpoints)
            .map(|(spec, ports)| {
                let target_port = match spec.target_port {
                    Some(port) if in_container => port as u16,
                    _ => target_ports.get(&spec.name).copied().unwrap_or(ports.port),
                };
                let target = crate::expr::EndpointTarget {
                    scheme: spec.scheme.as_str().to_owned(),
                    location: location.clone(),
                    port: ports.port,
                    target_port,
                };
                (spec.name.clone(), Some(target))
            })
            .collect();
        crate::expr::Entry {
            endpoints,
            connection_string: run
                .connection_string
                .as_deref()
                .and_then(|t| crate::expr::parse(t).ok()),
            value: None,
        }
    }

    /// Tells every proxy which replicas may get new connections: `ready` lists
    /// `(replica index, ready)` for the replicas that run.
    pub fn route(&self, ready: &[(u32, bool)]) {
        for endpoint in &self.endpoints {
            let Some(proxy) = &endpoint.proxy else {
                continue;
            };
            let backends = ready
                .iter()
                .filter_map(|&(index, ready)| {
                    let port = endpoint
                        .fixed_target
                        .or_else(|| endpoint.targets.get(&index).copied())?;
                    Some(Backend {
                        id: index as usize,
                        addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
                        ready,
                    })
                })
                .collect();
            proxy.set_backends(backends);
        }
    }
}
