//! The health checks of one replica: one probe per `healthChecks` entry, aimed at the
//! replica's own target port (never the proxy), summarised for status and readiness.

use std::collections::BTreeMap;

use crate::api::{Executable, Health, HealthCheck, HealthCheckType};
use crate::runtime::probe::{self, CheckState, Probe, ProbeTarget};
use crate::runtime::process::ProcessSpec;

/// The running checks of one replica.
#[derive(Default)]
pub struct Checks {
    checks: Vec<(HealthCheckType, Probe)>,
}

impl Checks {
    /// Starts every check of `exe` against the replica listening on `target_ports`; an
    /// `exec` check runs like the replica itself (`process`'s directory and environment).
    /// `notify` runs whenever a check changes state.
    pub fn start(
        exe: &Executable,
        target_ports: &BTreeMap<String, u16>,
        process: &ProcessSpec,
        notify: impl Fn() + Clone + Send + Sync + 'static,
    ) -> Result<Checks, String> {
        let mut checks = Vec::new();
        for (i, check) in exe.spec.run.health_checks.iter().enumerate() {
            let target = target(exe, i, check, target_ports, process)?;
            checks.push((
                check.type_,
                probe::start(target, probe::settings_from_spec(check), notify.clone()),
            ));
        }
        Ok(Checks { checks })
    }

    /// Stops probing (the replica ended).
    pub fn stop(&mut self) {
        self.checks.clear();
    }

    /// Whether every readiness check passes, and otherwise why not.
    pub fn readiness(&self) -> Result<(), String> {
        for (type_, probe) in &self.checks {
            if *type_ != HealthCheckType::Readiness {
                continue;
            }
            let status = probe.status();
            if status.state != CheckState::Passing {
                return Err(status
                    .message
                    .unwrap_or_else(|| "readiness check not run yet".into()));
            }
        }
        Ok(())
    }

    /// The message of a failing liveness check.
    pub fn liveness_failure(&self) -> Option<String> {
        self.checks.iter().find_map(|(type_, probe)| {
            let status = probe.status();
            (*type_ == HealthCheckType::Liveness && status.state == CheckState::Failing)
                .then(|| status.message.unwrap_or_default())
        })
    }

    /// Healthy when every check passes, Unhealthy when any fails, else Unknown; `None`
    /// without checks.
    pub fn health(&self) -> Option<Health> {
        if self.checks.is_empty() {
            return None;
        }
        let states: Vec<CheckState> = self.checks.iter().map(|(_, p)| p.status().state).collect();
        Some(if states.contains(&CheckState::Failing) {
            Health::Unhealthy
        } else if states.iter().all(|s| *s == CheckState::Passing) {
            Health::Healthy
        } else {
            Health::Unknown
        })
    }
}

fn target(
    exe: &Executable,
    index: usize,
    check: &HealthCheck,
    target_ports: &BTreeMap<String, u16>,
    process: &ProcessSpec,
) -> Result<ProbeTarget, String> {
    let field = format!("spec.healthChecks[{index}]");
    let endpoint_port = |wanted: Option<&String>, http_only: bool| -> Result<u16, String> {
        let endpoints = &exe.spec.run.endpoints;
        let endpoint = match wanted {
            Some(name) => endpoints.iter().find(|e| &e.name == name),
            None => endpoints.iter().find(|e| {
                !http_only
                    || matches!(
                        e.scheme,
                        crate::api::EndpointScheme::Http | crate::api::EndpointScheme::Https
                    )
            }),
        };
        let Some(endpoint) = endpoint else {
            let names: Vec<&str> = endpoints.iter().map(|e| e.name.as_str()).collect();
            return Err(match wanted {
                Some(name) => format!(
                    "{field}: endpoint {name:?} does not exist; the endpoints are {names:?}"
                ),
                None => format!(
                    "{field}: the check needs an endpoint, and {} has none that fits; add one to spec.endpoints",
                    exe.spec.command
                ),
            });
        };
        target_ports
            .get(&endpoint.name)
            .copied()
            .ok_or_else(|| format!("{field}: endpoint {} has no port yet", endpoint.name))
    };
    let kinds = [
        check.http.is_some(),
        check.tcp.is_some(),
        check.exec.is_some(),
    ];
    if kinds.iter().filter(|k| **k).count() != 1 {
        return Err(format!("{field}: set exactly one of http, tcp or exec"));
    }
    if let Some(http) = &check.http {
        return Ok(ProbeTarget::Http {
            host: "127.0.0.1".into(),
            port: endpoint_port(http.endpoint.as_ref(), true)?,
            path: http.path.clone(),
            expected_status: http.expected_status.clamp(100, 599) as u16,
        });
    }
    if let Some(tcp) = &check.tcp {
        return Ok(ProbeTarget::Tcp {
            host: "127.0.0.1".into(),
            port: endpoint_port(tcp.endpoint.as_ref(), false)?,
        });
    }
    let exec = check.exec.as_ref().expect("one kind is set");
    let Some((program, args)) = exec.command.split_first() else {
        return Err(format!(
            "{field}.exec.command is empty: give the program and its arguments"
        ));
    };
    Ok(ProbeTarget::Exec(ProcessSpec {
        command: program.clone(),
        args: args.to_vec(),
        output: Default::default(),
        ..process.clone()
    }))
}
