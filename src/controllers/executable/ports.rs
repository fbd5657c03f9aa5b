//! Ports of an Executable's endpoints: the stable `port` clients use and each
//! replica's `targetPort`, checked against the spec and allocated when absent.

use std::collections::BTreeMap;

use crate::api::Executable;

/// The ports of one endpoint.
#[derive(Debug, Clone, Default)]
pub struct EndpointPorts {
    pub name: String,
    /// The port clients use (`spec.port`, or allocated).
    pub port: u16,
    /// A fixed `targetPort`, shared by the only replica.
    pub fixed_target: Option<u16>,
    /// Allocated target ports by replica index.
    pub targets: BTreeMap<u32, u16>,
}

/// Ports of every endpoint of one run.
#[derive(Debug, Clone, Default)]
pub struct PortPlan {
    pub endpoints: Vec<EndpointPorts>,
}

/// Checks the endpoints of `exe` and allocates the ports clients use.
pub fn plan(exe: &Executable) -> Result<PortPlan, String> {
    let spec = &exe.spec.run;
    let mut endpoints = Vec::new();
    for (i, endpoint) in spec.endpoints.iter().enumerate() {
        let field = format!("spec.endpoints[{i}] ({})", endpoint.name);
        if spec.replicas > 1 && endpoint.target_port.is_some() {
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
        let mut fixed_target = endpoint.target_port.map(|p| p as u16);
        let port = match (endpoint.port, endpoint.proxied, fixed_target) {
            (Some(port), _, _) => port as u16,
            (None, false, Some(target)) => target,
            _ => allocate().map_err(|e| format!("{field}: cannot allocate a port: {e}"))?,
        };
        if !endpoint.proxied {
            // Unproxied: the process listens on the port clients use.
            fixed_target = Some(port);
        }
        endpoints.push(EndpointPorts {
            name: endpoint.name.clone(),
            port,
            fixed_target,
            targets: BTreeMap::new(),
        });
    }
    Ok(PortPlan { endpoints })
}

impl PortPlan {
    /// The target port of every endpoint for replica `index`, allocating new ones.
    pub fn target_ports(&mut self, index: u32) -> Result<BTreeMap<String, u16>, String> {
        let mut ports = BTreeMap::new();
        for endpoint in &mut self.endpoints {
            let port = match endpoint.fixed_target {
                Some(port) => port,
                None => match endpoint.targets.get(&index) {
                    Some(port) => *port,
                    None => {
                        let port = allocate().map_err(|e| {
                            format!("endpoint {}: cannot allocate a port: {e}", endpoint.name)
                        })?;
                        endpoint.targets.insert(index, port);
                        port
                    }
                },
            };
            ports.insert(endpoint.name.clone(), port);
        }
        Ok(ports)
    }

    /// Records the target ports an adopted replica already uses.
    pub fn adopt(&mut self, index: u32, ports: &BTreeMap<String, u16>) {
        for endpoint in &mut self.endpoints {
            if let Some(port) = ports.get(&endpoint.name) {
                endpoint.targets.insert(index, *port);
            }
        }
    }
}

/// A free port on loopback.
fn allocate() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind(("127.0.0.1", 0))?
        .local_addr()?
        .port())
}
